//! Real records from Debian's 6.1 kernel under QEMU (tests/fixtures/lab): each set must
//! reassemble into one crash whose log is in order, has no doubled line, holds the crash, and
//! ends with what the serial console showed before the machine went down.

use std::collections::HashMap;
use std::path::PathBuf;

use pstore::{Crash, ReadOptions, assemble, read_pstore_dir};

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/lab/x86_64")
        .join(name)
}

fn lines(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .map(|l| l.trim_end_matches('\r').to_owned())
        .collect()
}

/// `<6>[    1.234567] msg` -> `[    1.234567] msg`, the form the console prints.
fn console_form(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix('<')
        .and_then(|l| l.split_once('>'))
        .map_or(line, |(_, r)| r);
    rest.starts_with('[').then_some(rest)
}

fn stamp(line: &str) -> Option<f64> {
    let inner = console_form(line)?.strip_prefix('[')?.split_once(']')?.0;
    inner.trim().parse().ok()
}

fn records_again(name: &str) -> Vec<pstore::Record> {
    read_pstore_dir(&scenario(name).join("pstore"), &ReadOptions::default()).unwrap()
}

fn steps_back(log: &[String]) -> usize {
    let stamps: Vec<f64> = log.iter().filter_map(|l| stamp(l)).collect();
    stamps.windows(2).filter(|w| w[1] < w[0]).count()
}

fn contains_run(log: &[String], run: &[String]) -> bool {
    run.is_empty() || log.windows(run.len()).any(|w| w == run)
}

/// Reads and assembles one scenario, checking what holds for every backend.
fn crash_of(name: &str) -> (Crash, usize) {
    let records = read_pstore_dir(&scenario(name).join("pstore"), &ReadOptions::default()).unwrap();
    let n = records.len();
    assert!(n > 0, "{name}: no records");
    // The most often any single record holds each line: merging must never exceed it.
    let mut most: HashMap<String, usize> = HashMap::new();
    let most_steps_back = records
        .iter()
        .map(|r| steps_back(&lines(&r.data)))
        .max()
        .unwrap_or(0);
    for r in &records {
        let mut here: HashMap<String, usize> = HashMap::new();
        for l in lines(&r.data) {
            *here.entry(l).or_default() += 1;
        }
        for (l, c) in here {
            let m = most.entry(l).or_default();
            *m = (*m).max(c);
        }
    }
    let mut crashes = assemble(records);
    assert_eq!(crashes.len(), 1, "{name}: {crashes:#?}");
    let crash = crashes.remove(0);
    assert_eq!(crash.records.len(), n, "{name}: every record used");

    let log = lines(&crash.dmesg);
    assert!(
        !log.iter()
            .any(|l| pstore::parse_part_header(l.as_bytes()).is_some()),
        "{name}: header left in"
    );
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for l in &log {
        *seen.entry(l).or_default() += 1;
    }
    for (l, c) in seen {
        if stamp(l).is_some() {
            assert!(
                c <= most.get(l).copied().unwrap_or(0),
                "{name}: doubled line {l:?}"
            );
        }
    }
    // printk time goes back once in a real boot (the tsc-early clocksource switch), so order is
    // checked against the records: each record's lines appear in the log as one run, and the log
    // steps back in time no more often than a single record does.
    for r in &records_again(name) {
        let mut body = lines(&r.data);
        if pstore::parse_part_header(body.first().map_or(&b""[..], |l| l.as_bytes())).is_some() {
            body.remove(0);
        }
        assert!(
            contains_run(&log, &body),
            "{name}: {} is not one run in the log",
            r.file_name
        );
    }
    assert!(
        steps_back(&log) <= most_steps_back,
        "{name}: lines out of order"
    );
    (crash, n)
}

/// The serial console's last kernel lines of the crashed boot, up to `last_marker`, must appear
/// in the log in the same order.
fn ends_like_serial(name: &str, crash: &Crash, last_marker: &str, count: usize) {
    let serial = std::fs::read(scenario(name).join("serial.log")).unwrap();
    let serial = lines(&serial);
    let end = serial.iter().position(|l| l.contains(last_marker)).unwrap();
    let tail: Vec<&str> = serial[..=end]
        .iter()
        .filter_map(|l| console_form(l))
        .collect();
    let tail = &tail[tail.len().saturating_sub(count)..];
    assert_eq!(tail.len(), count);
    let log = lines(&crash.dmesg);
    let mut log_iter = log.iter().filter_map(|l| console_form(l));
    for wanted in tail {
        assert!(
            log_iter.any(|l| l == *wanted),
            "{name}: serial line missing or out of order: {wanted:?}"
        );
    }
}

#[test]
fn ramoops_oops_and_panic_form_one_log() {
    let (crash, n) = crash_of("ramoops");
    assert_eq!(n, 2);
    assert_eq!(crash.backend, "ramoops");
    assert_eq!(
        crash
            .dumps
            .iter()
            .map(|d| (d.reason.as_str(), d.count))
            .collect::<Vec<_>>(),
        [("Oops", 1), ("Panic", 2)]
    );
    assert_eq!(crash.dump_reason.as_deref(), Some("Panic"));
    assert!(!crash.partial, "{:?}", crash.gaps);
    let text = String::from_utf8_lossy(&crash.dmesg);
    assert!(text.contains("Kernel panic - not syncing: Fatal exception"));
    assert!(text.contains("BUG: kernel NULL pointer dereference"));
    assert!(text.starts_with("<5>[    0.000000] Linux version 6.1.0"));
    ends_like_serial("ramoops", &crash, "Kernel panic - not syncing", 40);
}

#[test]
fn efi_multipart_oops_and_panic_form_one_log() {
    let (crash, n) = crash_of("efi");
    assert_eq!(n, 27);
    assert_eq!(crash.backend, "efi");
    assert_eq!(crash.dumps.len(), 2);
    assert_eq!(crash.dumps[0].parts, (1..=14).collect::<Vec<_>>());
    assert_eq!(crash.dumps[1].parts, (1..=13).collect::<Vec<_>>());
    assert!(crash.dumps.iter().all(|d| d.missing_parts.is_empty()));
    assert_eq!(crash.crash_time, Some(1_795_663_684));
    assert!(
        String::from_utf8_lossy(&crash.dmesg)
            .contains("Kernel panic - not syncing: Fatal exception")
    );
    ends_like_serial("efi", &crash, "Kernel panic - not syncing", 40);
}

#[test]
fn erst_two_part_oops_and_panic_form_one_log() {
    let (crash, n) = crash_of("erst");
    assert_eq!(n, 4);
    assert_eq!(crash.backend, "erst");
    assert_eq!(
        crash
            .dumps
            .iter()
            .map(|d| d.parts.clone())
            .collect::<Vec<_>>(),
        [vec![1, 2], vec![1, 2]]
    );
    assert!(!crash.partial, "{:?}", crash.gaps);
    let text = String::from_utf8_lossy(&crash.dmesg);
    assert!(text.starts_with("<5>[    0.000000] Linux version 6.1.0"));
    assert!(text.contains("Kernel panic - not syncing: Fatal exception"));
    ends_like_serial("erst", &crash, "Kernel panic - not syncing", 40);
}

#[test]
fn pstore_blk_oops_is_one_log() {
    let (crash, n) = crash_of("blk");
    assert_eq!(n, 1);
    assert_eq!(crash.backend, "pstore_blk");
    assert_eq!(crash.dump_reason.as_deref(), Some("Oops"));
    assert!(!crash.partial, "{:?}", crash.gaps);
    assert!(String::from_utf8_lossy(&crash.dmesg).contains("BUG: kernel NULL pointer dereference"));
    ends_like_serial("blk", &crash, "---[ end trace", 40);
}

/// A part lost from either dump of the efi set: the other dump covers that stretch, so the crash
/// is still one, with the full log, and the loss is still reported.
#[test]
fn efi_lost_part_is_filled_from_the_other_dump() {
    let full = assemble(records_again("efi")).remove(0);
    for (lost, label) in [
        ("dmesg-efi-179566368405001", "Oops#1: part 5 of 14 missing"),
        ("dmesg-efi-179566368403002", "Panic#2: part 3 of 13 missing"),
    ] {
        let records: Vec<_> = records_again("efi")
            .into_iter()
            .filter(|r| r.file_name != lost)
            .collect();
        let crashes = assemble(records);
        assert_eq!(crashes.len(), 1, "without {lost}");
        assert_eq!(crashes[0].dmesg, full.dmesg, "without {lost}");
        assert!(crashes[0].partial);
        assert_eq!(crashes[0].gaps, [label]);
    }
}
