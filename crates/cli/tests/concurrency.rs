//! Readers while `save` writes (issue 9, item 5): `list` never sees a half-written report, and
//! while retention prunes, `export` writes a whole archive of a whole report or fails saying the
//! report went away, never a partial archive.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{FakeRoot, dmesg_record, log_lines, stderr_of};
use sha2::{Digest, Sha256};

const CRASHES: u32 = 12;

#[test]
fn list_never_sees_a_half_written_report_while_save_writes() {
    let root = FakeRoot::new();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let (mut listings, mut seen) = (0, 0);
            while !done.load(Ordering::Acquire) {
                let out = root.cmd().args(["list", "--json"]).output().unwrap();
                assert!(out.status.success(), "{}", stderr_of(&out));
                let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                let listed = listed.as_array().unwrap();
                for report in listed {
                    assert!(report["problem"].is_null(), "half-visible: {report}");
                }
                assert!(listed.len() >= seen, "a report went away");
                seen = listed.len();
                listings += 1;
            }
            listings
        });
        for i in 0..CRASHES {
            // A new crash each time: other lines, another dump time, so another report.
            let record = dmesg_record("Panic", 1, &log_lines(i * 100, 200));
            root.record(
                "dmesg-ramoops-0",
                &record,
                Some(1_700_000_000 + u64::from(i) * 60),
            );
            let out = root.cmd().arg("save").output().unwrap();
            assert!(out.status.success(), "{}", stderr_of(&out));
        }
        done.store(true, Ordering::Release);
        let listings = reader.join().unwrap();
        assert!(listings > 0, "the reader never ran");
    });
    assert_eq!(root.report_ids().len(), CRASHES as usize);
    assert!(root.pstore_files().is_empty());
}

/// Reports kept while `export_is_whole_or_gone_while_save_writes_and_retention_prunes` runs:
/// every save beyond this prunes the oldest.
const KEPT: usize = 3;
const SAVES: u32 = 50;

#[test]
fn export_is_whole_or_gone_while_save_writes_and_retention_prunes() {
    let root = FakeRoot::new();
    root.file(
        "etc/lastgasp/lastgasp.toml",
        &format!("[reports]\nmax_reports = {KEPT}\n"),
    );
    let out_dir = tempfile::tempdir().unwrap();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let (mut whole, mut gone) = (0, 0);
            while !done.load(Ordering::Acquire) {
                let out = root.cmd().args(["list", "--json"]).output().unwrap();
                assert!(out.status.success(), "{}", stderr_of(&out));
                let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                let listed = listed.as_array().unwrap();
                for report in listed {
                    assert!(report["problem"].is_null(), "half-visible: {report}");
                }
                // The oldest is the next one retention prunes: the one most likely to go away
                // while it is exported.
                let Some(id) = listed.first().and_then(|r| r["id"].as_str()) else {
                    continue;
                };
                let archive = out_dir.path().join(format!("{}.tar", whole + gone));
                let out = root
                    .cmd()
                    .args(["export", id, "-o"])
                    .arg(&archive)
                    .output()
                    .unwrap();
                if out.status.success() {
                    check_archive(id, &fs::read(&archive).unwrap());
                    whole += 1;
                } else {
                    let stderr = stderr_of(&out);
                    assert!(
                        stderr.contains("went away") || stderr.contains("no report matches"),
                        "{id}: not a clear error: {stderr}"
                    );
                    assert_eq!(stderr.lines().count(), 1, "{stderr}");
                    assert!(!archive.exists(), "{id}: a failed export left {archive:?}");
                    gone += 1;
                }
            }
            (whole, gone)
        });
        for i in 0..SAVES {
            let record = dmesg_record("Panic", 1, &log_lines(i * 100, 200));
            root.record(
                "dmesg-ramoops-0",
                &record,
                Some(1_700_000_000 + u64::from(i) * 60),
            );
            let out = root.cmd().arg("save").output().unwrap();
            assert!(out.status.success(), "{}", stderr_of(&out));
        }
        done.store(true, Ordering::Release);
        let (whole, gone) = reader.join().unwrap();
        // `cargo test -- --nocapture` shows how often each side of the race was taken.
        println!("export while saving and pruning: {whole} whole archives, {gone} gone");
        assert!(whole > 0, "no export ever completed");
    });
    assert_eq!(root.report_ids().len(), KEPT);
}

/// The archive holds `<id>/report.json` and exactly the files it lists, each of the size and
/// SHA-256 it records.
fn check_archive(id: &str, bytes: &[u8]) {
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let name = path
            .strip_prefix(&format!("{id}/"))
            .unwrap_or_else(|| panic!("{id}: {path} is outside the report"));
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        files.insert(name.to_owned(), data);
    }
    let manifest: serde_json::Value = serde_json::from_slice(
        files
            .get("report.json")
            .unwrap_or_else(|| panic!("{id}: no report.json")),
    )
    .unwrap();
    assert_eq!(manifest["id"], id);
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), listed.len() + 1, "{id}: {:?}", files.keys());
    for file in listed {
        let name = file["name"].as_str().unwrap();
        let data = files
            .get(name)
            .unwrap_or_else(|| panic!("{id}: {name} missing from the archive"));
        assert_eq!(file["size"], data.len(), "{id}: {name}");
        assert_eq!(
            file["sha256"],
            hex::encode(Sha256::digest(data)),
            "{id}: {name}"
        );
    }
}
