//! `NewReport::from_crash` over crashes the real `pstore::assemble` builds: every record and
//! every piece of data lands in the report, under safe names.

mod common;

use pstore::{Record, assemble};
use report::{NewReport, RecordDecoding, RecordOrigin, Store};

fn record(name: &str, data: &[u8]) -> Record {
    Record::in_memory(name, data.to_vec())
}

#[test]
fn every_record_and_stream_ends_up_in_the_report() {
    let log = "<6>[    1.000000] booting\n<0>[    2.000000] Kernel panic - not syncing: test\n";
    let crashes = assemble(vec![
        record(
            "dmesg-ramoops-0",
            format!("Panic#1 Part1\n{log}").as_bytes(),
        ),
        record(
            "console-ramoops-0",
            b"[    2.000000] Kernel panic - not syncing: test\n",
        ),
        record("pmsg-ramoops-0", b"\x00\x01binary"),
        record(
            "ftrace-ramoops-0",
            b"CPU:0 ts:1 ffffffff81000000  ffffffff81000001  f <- g\n",
        ),
        record("mce-erst-1", b"CPER\x00\x01"),
    ]);
    let records: usize = crashes.iter().map(|c| c.records.len()).sum();
    assert_eq!(records, 5, "assemble keeps every record: {crashes:#?}");
    assert_eq!(crashes.len(), 1, "{crashes:#?}");
    let crash = crashes.into_iter().next().unwrap();
    let expected_hashes: Vec<String> = crash.records.iter().map(|r| r.sha256.clone()).collect();

    let new = NewReport::from_crash(crash, Some(kmsg::analyze(log)));
    assert_eq!(new.backend.as_deref(), Some("ramoops"));
    assert_eq!(new.dump_reason.as_deref(), Some("Panic"));
    assert_eq!(new.dumps.len(), 1);
    let names: Vec<&str> = new.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "dmesg.txt",
            "console.txt",
            "pmsg.bin",
            "ftrace.txt",
            "extra/mce-erst-1"
        ]
    );
    assert_eq!(new.files[0].data, log.as_bytes());
    assert_eq!(new.files[2].data, b"\x00\x01binary");
    let hashes: Vec<&str> = new.records.iter().map(|r| r.sha256.as_str()).collect();
    assert_eq!(hashes, expected_hashes);
    assert!(new.records.iter().all(|r| r.origin == RecordOrigin::Pstore));
    assert!(
        new.records
            .iter()
            .any(|r| r.file_name == "dmesg-ramoops-0" && r.decoding == RecordDecoding::Plain)
    );

    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path());
    let out = store.write(&new).unwrap();
    common::assert_schema_valid(&out.path);
    assert_eq!(out.id, new.id());
    assert!(out.path.join("extra/mce-erst-1").is_file());
}

#[test]
fn odd_record_names_are_made_safe() {
    let crashes = assemble(vec![
        record("dmesg-ramoops-0", b"Panic#1 Part1\n<0>[ 1.000000] x\n"),
        record(".hidden", b"a"),
        record("we ird", b"b"),
        record("we_ird", b"c"),
    ]);
    let mut names = Vec::new();
    for crash in crashes {
        let new = NewReport::from_crash(crash, None);
        names.extend(new.files.into_iter().map(|f| f.name));
    }
    names.sort();
    assert_eq!(
        names,
        [
            "dmesg.txt",
            "extra/_.hidden",
            "extra/we_ird",
            "extra/we_ird.1"
        ]
    );
}
