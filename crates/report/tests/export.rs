//! `Store::export`: archives that unpack to the report directory, written safely.

mod common;

use std::fs;
use std::io::Read;
use std::path::Path;

use common::{PANIC_LOG, sample};
use report::{ArchiveFormat, Error, ReportFile, Store};

fn entries(tar_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar_bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

fn setup(dir: &Path) -> (Store, String) {
    let store = Store::open(dir.join("reports"));
    let mut new = sample(PANIC_LOG, Some(1_700_000_000));
    new.files.push(ReportFile {
        name: "extra/mce-erst-1".into(),
        data: vec![1, 2, 3],
    });
    let id = store.write(&new).unwrap().id;
    (store, id)
}

#[test]
fn tar_gz_holds_the_report_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, id) = setup(tmp.path());
    let out = tmp.path().join("crash.tar.gz");
    let outcome = store.export(&id[..10], &out, false, false).unwrap();
    assert_eq!(outcome.format, ArchiveFormat::TarGz);
    assert_eq!(outcome.id, id);
    let gz = fs::read(&out).unwrap();
    assert_eq!(outcome.bytes, gz.len() as u64);
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut tar_bytes)
        .unwrap();
    let got = entries(&tar_bytes);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    let expect = |f: &str| format!("{id}/{f}");
    assert_eq!(
        names,
        [
            expect(""),
            expect("dmesg.txt"),
            expect("extra/"),
            expect("extra/mce-erst-1"),
            expect("report.json"),
        ]
    );
    let report_dir = store.dir().join(&id);
    for (name, data) in &got {
        if let Some(rel) = name
            .strip_prefix(&format!("{id}/"))
            .filter(|r| !r.ends_with('/') && !r.is_empty())
        {
            assert_eq!(data, &fs::read(report_dir.join(rel)).unwrap(), "{name}");
        }
    }
    // Same report, same archive bytes.
    let again = tmp.path().join("again.tar.gz");
    store.export(&id, &again, false, false).unwrap();
    assert_eq!(fs::read(&again).unwrap(), gz);
}

#[test]
fn tar_zst_decodes_to_the_same_tar() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, id) = setup(tmp.path());
    store
        .export(&id, &tmp.path().join("a.tar"), false, false)
        .unwrap();
    store
        .export(&id, &tmp.path().join("a.tar.zst"), false, false)
        .unwrap();
    let zst = fs::read(tmp.path().join("a.tar.zst")).unwrap();
    let mut decoded = Vec::new();
    ruzstd::decoding::StreamingDecoder::new(zst.as_slice())
        .unwrap()
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, fs::read(tmp.path().join("a.tar")).unwrap());
}

#[test]
fn existing_output_needs_force() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, id) = setup(tmp.path());
    let out = tmp.path().join("x.tgz");
    fs::write(&out, "keep me").unwrap();
    let err = store.export(&id, &out, false, false).unwrap_err();
    assert!(matches!(err, Error::Exists { .. }), "{err}");
    assert_eq!(fs::read_to_string(&out).unwrap(), "keep me");
    store.export(&id, &out, true, false).unwrap();
    assert_ne!(fs::read(&out).unwrap(), b"keep me");
    let leftovers: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn unknown_extension_and_missing_dir_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, id) = setup(tmp.path());
    let err = store
        .export(&id, &tmp.path().join("x.zip"), false, false)
        .unwrap_err();
    assert!(err.to_string().contains("unknown archive type"), "{err}");
    let err = store
        .export(&id, &tmp.path().join("nodir/x.tar.gz"), false, false)
        .unwrap_err();
    assert!(err.to_string().starts_with("cannot write archive"), "{err}");
    assert!(
        err.to_string().ends_with("No such file or directory"),
        "{err}"
    );
}
