//! Replays the fuzz corpora of this crate's targets (fuzz/corpus/sys_cmdline,
//! fuzz/corpus/sys_kexec_image) through the same checks the fuzzers run, on stable Rust.

#[test]
fn cmdline_corpus_passes_the_checks() {
    let count = fuzz_corpus::replay("sys_cmdline", sys::fuzzing::check_cmdline);
    assert!(count >= 5, "fuzz/corpus/sys_cmdline has too few seeds");
}

#[test]
fn kexec_image_corpus_passes_the_checks() {
    let count = fuzz_corpus::replay("sys_kexec_image", sys::fuzzing::check_image_header);
    assert!(count >= 5, "fuzz/corpus/sys_kexec_image has too few seeds");
    let kinds: Vec<_> = fuzz_corpus::seeds("sys_kexec_image")
        .iter()
        .map(|(_, data)| sys::kexec_image::ImageKind::detect(data))
        .collect();
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
