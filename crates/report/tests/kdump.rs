//! Reports of kdump captures: the dump is brought in from where the capture kernel left it,
//! listed as a dump in the manifest, and left out of exports unless asked for.

mod common;

use std::fs;
use std::io::Read;

use common::{PANIC_LOG, assert_schema_valid, sha256};
use report::{AttachedFile, KdumpDump, KdumpEntry, NewReport, Store};

fn kdump_report(dump_source: &std::path::Path, complete: bool) -> NewReport {
    let entry = KdumpEntry {
        vmcore_bytes: 858_993_459,
        log_complete: true,
        warnings: vec![],
        dump: Some(KdumpDump {
            file: "vmcore.kdump".into(),
            level: 31,
            compression: "zstd".into(),
            complete,
            pages: 6,
        }),
    };
    NewReport::from_kdump(
        PANIC_LOG.as_bytes().to_vec(),
        Some(1_700_000_000),
        entry,
        Some(AttachedFile {
            name: "vmcore.kdump".into(),
            source: dump_source.to_path_buf(),
        }),
        Some(kmsg::analyze(PANIC_LOG)),
    )
}

fn tar_names(path: &std::path::Path) -> Vec<String> {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(path).unwrap())
        .read_to_end(&mut tar)
        .unwrap();
    tar::Archive::new(tar.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn kdump_report_lists_its_dump_and_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("capture-vmcore.kdump");
    let dump_bytes = b"KDUMP   not really, but bytes all the same".repeat(1000);
    fs::write(&dump, &dump_bytes).unwrap();
    let store = Store::open(tmp.path().join("reports"));
    let outcome = store.write(&kdump_report(&dump, true)).unwrap();
    assert!(!outcome.already_present);
    assert_schema_valid(&outcome.path);

    let loaded = store.load(&outcome.id).unwrap();
    let m = &loaded.manifest;
    assert_eq!(m.source, "kdump");
    assert_eq!(m.dump_reason.as_deref(), Some("Panic"));
    assert!(!m.partial);
    assert!(m.records.is_empty());
    let names: Vec<(&str, bool)> = m.files.iter().map(|f| (f.name.as_str(), f.dump)).collect();
    assert_eq!(names, [("dmesg.txt", false), ("vmcore.kdump", true)]);
    let listed = &m.files[1];
    assert_eq!(listed.size, dump_bytes.len() as u64);
    assert_eq!(listed.sha256, sha256(&dump_bytes));
    assert_eq!(
        fs::read(outcome.path.join("vmcore.kdump")).unwrap(),
        dump_bytes
    );
    assert_eq!(m.kdump.as_ref().unwrap().dump.as_ref().unwrap().level, 31);
    assert!(
        dump.exists(),
        "the capture's file stays until the caller removes it"
    );
}

#[test]
fn an_incomplete_dump_makes_a_partial_report() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("vmcore.kdump.part");
    fs::write(&dump, b"half a dump").unwrap();
    let store = Store::open(tmp.path().join("reports"));
    let outcome = store.write(&kdump_report(&dump, false)).unwrap();
    let loaded = store.load(&outcome.id).unwrap();
    assert!(loaded.manifest.partial);
    assert_schema_valid(&outcome.path);
}

#[test]
fn export_leaves_the_dump_out_unless_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("vmcore.kdump");
    fs::write(&dump, vec![7u8; 5000]).unwrap();
    let store = Store::open(tmp.path().join("reports"));
    let id = store.write(&kdump_report(&dump, true)).unwrap().id;

    let without = tmp.path().join("log.tar.gz");
    store.export(&id, &without, false, false).unwrap();
    let names = tar_names(&without);
    assert!(names.iter().any(|n| n.ends_with("/dmesg.txt")), "{names:?}");
    assert!(
        !names.iter().any(|n| n.ends_with("vmcore.kdump")),
        "{names:?}"
    );

    let with = tmp.path().join("all.tar.gz");
    store.export(&id, &with, false, true).unwrap();
    assert!(
        tar_names(&with)
            .iter()
            .any(|n| n == &format!("{id}/vmcore.kdump"))
    );
}

#[test]
fn a_missing_dump_fails_the_write_and_leaves_no_report() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("reports"));
    let err = store
        .write(&kdump_report(&tmp.path().join("gone"), true))
        .unwrap_err();
    assert!(err.to_string().contains("reports"), "{err}");
    assert!(store.list().unwrap().is_empty());
}
