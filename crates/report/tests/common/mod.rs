//! Shared helpers for the report crate's integration tests: sample reports and the schema check.

#![allow(dead_code)]

use std::path::Path;

use report::{NewReport, RecordDecoding, RecordEntry, RecordOrigin, ReportFile};

pub const PANIC_LOG: &str = "\
<6>[    0.000000] Linux version 6.1.0-27-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)
<1>[  812.123456] BUG: kernel NULL pointer dereference, address: 0000000000000010
<4>[  812.123466] Oops: 0002 [#1] PREEMPT SMP PTI
<4>[  812.123470] CPU: 3 PID: 1234 Comm: bash Tainted: G           OE      6.1.0-27-amd64 #1 Debian 6.1.115-1
<4>[  812.123477] RIP: 0010:crash_null+0x12/0x40 [crashtest]
<0>[  812.123600] Kernel panic - not syncing: Fatal exception
";

/// A report of one plain ramoops record whose content is `log`.
pub fn sample(log: &str, crash_time: Option<i64>) -> NewReport {
    let record = format!("Panic#1 Part1\n{log}");
    NewReport {
        source: "pstore".into(),
        backend: Some("ramoops".into()),
        dump_reason: Some("Panic".into()),
        crash_time,
        partial: false,
        gaps: vec![],
        dumps: vec![],
        records: vec![RecordEntry {
            file_name: "dmesg-ramoops-0".into(),
            origin: RecordOrigin::Pstore,
            size: record.len() as u64,
            sha256: sha256(record.as_bytes()),
            decoding: RecordDecoding::Plain,
        }],
        files: vec![ReportFile {
            name: "dmesg.txt".into(),
            data: log.as_bytes().to_vec(),
        }],
        attached: vec![],
        kdump: None,
        analysis: Some(kmsg::analyze(log)),
        context: Vec::new(),
    }
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Panics with every schema violation when `report_dir/report.json` does not match the schema.
pub fn assert_schema_valid(report_dir: &Path) {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&manifest)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "schema violations: {errors:#?}\n{manifest:#}"
    );
}
