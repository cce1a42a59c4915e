//! What the submit tests share: the project's real kernel logs, and report stores made of them.

#![allow(dead_code)]

pub mod http;

use std::fs;
use std::path::{Path, PathBuf};

use report::{ContextItem, ContextKind, Describes, KdumpEntry, NewReport, Store};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every kernel log of the corpora: the lab's real crashes (tests/fixtures/kmsg, the lab's
/// serial consoles) and the synthetic golden corpus of the kmsg crate.
pub fn corpus_logs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![
        workspace().join("tests/fixtures/kmsg"),
        workspace().join("tests/fixtures/lab"),
        workspace().join("crates/kmsg/tests/corpus"),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "log") {
                out.push(path);
            }
        }
    }
    out.sort();
    assert!(out.len() > 100, "the corpus has only {} logs", out.len());
    out
}

/// A report of `log` as a kdump capture would save it, with a journal tail naming host `pluto`.
pub fn report_of(log: &str, crash_time: i64) -> NewReport {
    let entry = KdumpEntry {
        vmcore_bytes: 1 << 30,
        log_complete: true,
        warnings: vec![],
        dump: None,
    };
    let mut report = NewReport::from_kdump(
        log.as_bytes().to_vec(),
        Some(crash_time),
        entry,
        None,
        Some(kmsg::analyze(log)),
    );
    let journal = "\
[   10.100000] pluto systemd[1]: Started ssh.service.
[   10.200000] pluto NetworkManager[501]: <info> dhcp4 (ens3): address 192.168.7.23
[   10.300000] pluto kernel: sysrq: Trigger a crash
";
    report.add_context_file(
        ContextItem::collected(
            ContextKind::JournalTail,
            Describes::CrashedBoot,
            Default::default(),
        ),
        "journal.txt",
        journal.as_bytes().to_vec(),
    );
    report
}

/// A store under `dir` holding one report per log, oldest first; their ids.
pub fn store_of(dir: &Path, logs: &[&str]) -> (Store, Vec<String>) {
    let store = Store::open(dir);
    let ids = logs
        .iter()
        .enumerate()
        .map(|(i, log)| {
            let time = 1_764_000_000 + i64::try_from(i).unwrap() * 60;
            store.write(&report_of(log, time)).unwrap().id
        })
        .collect();
    (store, ids)
}

/// One real crash log of the lab.
pub fn lab_log(kind: &str) -> String {
    fs::read_to_string(workspace().join(format!("tests/fixtures/kmsg/x86_64/{kind}/boot1.log")))
        .unwrap()
}
