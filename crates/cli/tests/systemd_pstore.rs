//! With the real systemd-pstore: when it moved the lab's records into its archive before lastgasp
//! ran, `lastgasp save` still makes the same reports from that archive (same log, same analysis),
//! leaves the archive alone and recognises the records at the next boot.
//!
//! systemd-pstore runs for real (`common::systemd_pstore`); the test fails, with the reason,
//! where it cannot (it needs root, unshare and systemd).

mod common;

use std::fs;
use std::path::Path;

use common::{FakeRoot, assert_schema_valid, lab_dir, stdout_of, systemd_pstore};

fn only_report(root: &FakeRoot) -> (String, serde_json::Value, Vec<u8>) {
    let ids = root.report_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let manifest = root.manifest(&ids[0]);
    assert_schema_valid(&manifest);
    let dmesg = fs::read(root.reports().join(&ids[0]).join("dmesg.txt")).unwrap();
    (ids[0].clone(), manifest, dmesg)
}

#[test]
fn reports_from_systemd_pstores_archive_match_reports_from_pstore() {
    for scenario in ["ramoops", "efi", "erst", "blk"] {
        // lastgasp first: straight from pstore.
        let direct = FakeRoot::new();
        direct.lab_records(scenario);
        let out = direct.cmd().arg("save").output().unwrap();
        assert!(out.status.success(), "{scenario}: {out:?}");
        let (_, expected, expected_dmesg) = only_report(&direct);

        // systemd-pstore first: it moves the records into its archive.
        let root = FakeRoot::new();
        let records = tempfile::tempdir().unwrap();
        for entry in fs::read_dir(lab_dir(scenario)).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), records.path().join(entry.file_name())).unwrap();
        }
        fs::create_dir_all(root.archive()).unwrap();
        if let Err(why) = systemd_pstore::run(records.path(), &root.archive()) {
            panic!("cannot run systemd-pstore (needs root, unshare and systemd): {why}");
        }
        assert_eq!(
            fs::read_dir(records.path()).unwrap().count(),
            0,
            "{scenario}: systemd-pstore left records behind"
        );
        let archived: Vec<_> = walk(&root.archive());
        assert!(
            !archived.is_empty(),
            "{scenario}: systemd-pstore archived nothing"
        );

        let out = root.cmd().arg("save").output().unwrap();
        assert!(out.status.success(), "{scenario}: {out:?}");
        assert_eq!(stdout_of(&out).lines().count(), 1, "{scenario}");
        let (id, manifest, dmesg) = only_report(&root);
        assert_eq!(dmesg, expected_dmesg, "{scenario}: the same complete log");
        for key in [
            "backend",
            "dump-reason",
            "kernel-release",
            "partial",
            "dumps",
        ] {
            assert_eq!(manifest[key], expected[key], "{scenario}: {key}");
        }
        assert_eq!(
            manifest["analysis"]["signature"], expected["analysis"]["signature"],
            "{scenario}"
        );
        assert!(
            manifest["records"]
                .as_array()
                .unwrap()
                .iter()
                .all(|record| record["origin"] == "systemd-archive"),
            "{scenario}"
        );
        assert_eq!(
            walk(&root.archive()),
            archived,
            "{scenario}: archive untouched"
        );

        // The next boot finds the same archive: nothing new.
        let again = root.cmd().arg("save").output().unwrap();
        assert!(again.status.success(), "{scenario}: {again:?}");
        assert_eq!(stdout_of(&again), "", "{scenario}");
        assert_eq!(root.report_ids(), vec![id], "{scenario}");
    }
}

/// Every file under `dir` with its size, sorted.
fn walk(dir: &Path) -> Vec<(String, u64)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(&next).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                let relative = entry
                    .path()
                    .strip_prefix(dir)
                    .unwrap()
                    .display()
                    .to_string();
                files.push((relative, meta.len()));
            }
        }
    }
    files.sort();
    files
}
