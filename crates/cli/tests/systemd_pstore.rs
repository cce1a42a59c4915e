//! With the real systemd-pstore: when it moved the lab's records into its archive before lastgasp
//! ran, `lastgasp save` still makes the same reports from that archive (same log, same analysis),
//! leaves the archive alone and recognises the records at the next boot.
//!
//! systemd-pstore has no directory options, so it runs in a private mount namespace with the
//! records bind-mounted over /sys/fs/pstore and the fake root's archive over
//! /var/lib/systemd/pstore. Skipped, with the reason printed, where that cannot be done.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command as StdCommand;

use common::{FakeRoot, assert_schema_valid, lab_dir, stdout_of};

const SYSTEMD_PSTORE: &str = "/lib/systemd/systemd-pstore";

/// Runs systemd-pstore over `records` with `archive` as its archive. `Err` says why it could
/// not run here.
fn run_systemd_pstore(records: &Path, archive: &Path) -> Result<(), String> {
    if !Path::new(SYSTEMD_PSTORE).exists() {
        return Err(format!("{SYSTEMD_PSTORE} is not installed"));
    }
    if !Path::new("/sys/fs/pstore").is_dir() {
        return Err("/sys/fs/pstore does not exist to mount over".to_owned());
    }
    // systemd's tmpfiles makes this directory on a booted system; a fresh container may lack it.
    if fs::create_dir_all("/var/lib/systemd/pstore").is_err() {
        return Err("/var/lib/systemd/pstore does not exist to mount over".to_owned());
    }
    let script = "mount --bind \"$1\" /sys/fs/pstore && \
                  mount --bind \"$2\" /var/lib/systemd/pstore || exit 99; \
                  exec \"$3\"";
    let out = StdCommand::new("unshare")
        .args(["-m", "sh", "-c", script, "sh"])
        .arg(records)
        .arg(archive)
        .arg(SYSTEMD_PSTORE)
        .output()
        .map_err(|err| format!("cannot run unshare: {err}"))?;
    match out.status.code() {
        Some(0) => Ok(()),
        Some(99) | None => Err("no private mount namespace here".to_owned()),
        Some(code) => panic!(
            "systemd-pstore failed ({code}): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

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
        if let Err(why) = run_systemd_pstore(records.path(), &root.archive()) {
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
