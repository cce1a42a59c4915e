//! Replays the fuzz corpora of this crate's targets (fuzz/corpus/sys_cmdline,
//! fuzz/corpus/sys_kexec_image) through the same checks the fuzzers run, on stable Rust.

use std::fs;
use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let data = fs::read(&path).unwrap();
            (path, data)
        })
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 5, "{} has too few seeds", dir.display());
    inputs
}

#[test]
fn cmdline_corpus_passes_the_checks() {
    for (path, data) in corpus("sys_cmdline") {
        eprintln!("{}", path.display());
        sys::fuzzing::check_cmdline(&data);
    }
}

#[test]
fn kexec_image_corpus_passes_the_checks() {
    let mut kinds = Vec::new();
    for (path, data) in corpus("sys_kexec_image") {
        eprintln!("{}", path.display());
        sys::fuzzing::check_image_header(&data);
        kinds.push(sys::kexec_image::ImageKind::detect(&data));
    }
    // The seeds cover every format the detector tells apart.
    for kind in [
        sys::kexec_image::ImageKind::BzImage,
        sys::kexec_image::ImageKind::Arm64Image,
        sys::kexec_image::ImageKind::Gzip,
        sys::kexec_image::ImageKind::EfiZboot,
        sys::kexec_image::ImageKind::Unknown,
    ] {
        assert!(kinds.contains(&kind), "no seed is a {kind:?}");
    }
}
