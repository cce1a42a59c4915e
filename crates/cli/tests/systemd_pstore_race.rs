//! `lastgasp save` racing the real systemd-pstore over the same records (issue 9, item 5). Both
//! start at once over the lab's record sets, round after round; whoever takes a record, it must
//! end up held by exactly one report once a later `save` has imported what systemd-pstore
//! archived: the reports are those a save without systemd-pstore makes (same logs, none
//! partial), none holds a record another holds, and a third save finds nothing new.
//!
//! systemd-pstore runs for real (`common::systemd_pstore`); the test fails, with the reason,
//! where it cannot (it needs root, unshare and systemd).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Stdio;

use common::{FakeRoot, stderr_of, stdout_of, systemd_pstore};
use sha2::{Digest, Sha256};

const SETS: &[&str] = &["efi", "ramoops", "erst", "blk"];
const ROUNDS: usize = 48;

/// What one round ended with, to show the race was really run both ways.
#[derive(Debug, Default)]
struct Tally {
    /// systemd-pstore archived nothing: lastgasp took every record first.
    lastgasp_first: usize,
    /// lastgasp's racing save made no report: every record was gone before it looked.
    systemd_first: usize,
    /// Both took records: the racing save made reports and systemd-pstore archived some.
    both: usize,
}

#[test]
fn save_racing_systemd_pstore_loses_and_doubles_nothing() {
    let clean: BTreeMap<&str, Vec<Vec<u8>>> = SETS.iter().map(|s| (*s, clean_logs(s))).collect();
    let mut tally = Tally::default();
    for round in 0..ROUNDS {
        let set = SETS[round % SETS.len()];
        let case = format!("round {round} ({set})");
        let root = FakeRoot::new();
        root.lab_records(set);
        fs::create_dir_all(root.archive()).unwrap();
        let originals = hashes(&root.pstore());

        // Both at once; who starts first alternates.
        let mut save = root.std_cmd();
        save.arg("save")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let (save, systemd) = if round % 2 == 0 {
            let save = save.spawn().unwrap();
            (save, systemd_pstore::spawn(&root.pstore(), &root.archive()))
        } else {
            let systemd = systemd_pstore::spawn(&root.pstore(), &root.archive());
            (save.spawn().unwrap(), systemd)
        };
        let save = save.wait_with_output().unwrap();
        let systemd = systemd
            .and_then(systemd_pstore::finish)
            .unwrap_or_else(|why| panic!("cannot run systemd-pstore: {why}"));
        assert!(save.status.success(), "{case}: {}", stderr_of(&save));
        assert!(
            systemd.status.success(),
            "{case}: systemd-pstore failed ({:?}): {}",
            systemd.status,
            String::from_utf8_lossy(&systemd.stderr)
        );
        let archived = archived_records(&root.archive());
        let saved_first = root.report_ids().len();
        match (saved_first > 0, archived > 0) {
            (true, false) => tally.lastgasp_first += 1,
            (false, true) => tally.systemd_first += 1,
            (true, true) => tally.both += 1,
            (false, false) => panic!("{case}: the records went nowhere"),
        }

        // The next boot imports what systemd-pstore took, once.
        let archive_before = snapshot(&root.archive());
        let next = root.cmd().arg("save").output().unwrap();
        assert!(next.status.success(), "{case}: {}", stderr_of(&next));
        let third = root.cmd().arg("save").output().unwrap();
        assert!(third.status.success(), "{case}: {}", stderr_of(&third));
        assert_eq!(stdout_of(&third), "", "{case}: a third save found more");
        assert!(
            root.pstore_files().is_empty(),
            "{case}: left in pstore: {:?}",
            root.pstore_files()
        );
        assert_eq!(
            snapshot(&root.archive()),
            archive_before,
            "{case}: lastgasp touched systemd-pstore's archive"
        );
        check_reports(&root, &originals, &clean[set], &case);
    }
    // docs/reliability.md quotes these; `cargo test -- --nocapture` shows them.
    println!("systemd-pstore race, {ROUNDS} rounds: {tally:?}");
}

/// The logs of the reports a save makes without systemd-pstore, sorted.
fn clean_logs(set: &str) -> Vec<Vec<u8>> {
    let root = FakeRoot::new();
    root.lab_records(set);
    let out = root.cmd().arg("save").output().unwrap();
    assert!(out.status.success(), "{set}: {}", stderr_of(&out));
    let logs = logs(&root);
    assert!(!logs.is_empty(), "{set}: a clean save made no report");
    logs
}

fn logs(root: &FakeRoot) -> Vec<Vec<u8>> {
    let mut logs: Vec<Vec<u8>> = root
        .report_ids()
        .iter()
        .map(|id| fs::read(root.reports().join(id).join("dmesg.txt")).unwrap())
        .collect();
    logs.sort();
    logs
}

/// Every record is held by exactly one report, and the reports tell the same crashes, whole,
/// as a save without the race.
fn check_reports(root: &FakeRoot, originals: &[(String, String)], clean: &[Vec<u8>], case: &str) {
    let ids = root.report_ids();
    let manifests: Vec<serde_json::Value> = ids.iter().map(|id| root.manifest(id)).collect();
    for (name, sha256) in originals {
        let holders: Vec<&String> = ids
            .iter()
            .zip(&manifests)
            .filter(|(_, m)| {
                m["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["sha256"] == sha256.as_str())
            })
            .map(|(id, _)| id)
            .collect();
        assert_eq!(holders.len(), 1, "{case}: {name} is held by {holders:?}");
    }
    for (id, manifest) in ids.iter().zip(&manifests) {
        assert_eq!(manifest["partial"], false, "{case}: {id} is partial");
        let mut held: Vec<&str> = manifest["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["sha256"].as_str().unwrap())
            .collect();
        let count = held.len();
        held.sort_unstable();
        held.dedup();
        assert_eq!(held.len(), count, "{case}: {id} holds a record twice");
    }
    assert_eq!(logs(root), clean, "{case}: not the reports of a clean save");
}

/// `(file name, SHA-256)` of every file in `dir`.
fn hashes(dir: &Path) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let data = fs::read(e.path()).unwrap();
            (
                e.file_name().into_string().unwrap(),
                hex::encode(Sha256::digest(&data)),
            )
        })
        .collect();
    all.sort();
    all
}

/// How many record files systemd-pstore's archive holds (its own `dmesg.txt` left out).
fn archived_records(dir: &Path) -> usize {
    snapshot(dir)
        .keys()
        .filter(|p| !p.ends_with("dmesg.txt"))
        .count()
}

/// Every file under `dir` with its SHA-256.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(
                    relative,
                    hex::encode(Sha256::digest(fs::read(&path).unwrap())),
                );
            }
        }
    }
    files
}
