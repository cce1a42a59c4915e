//! Writing, reading, verifying and resolving reports through `report::Store`.

mod common;

use std::fs;

use common::{PANIC_LOG, assert_schema_valid, sample};
use report::{Error, ReportFile, Store};

#[test]
fn written_report_reads_back_and_matches_the_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("reports"));
    let mut new = sample(PANIC_LOG, Some(1_700_000_000));
    new.files.push(ReportFile {
        name: "console.txt".into(),
        data: b"[  812.1] console tail\n".to_vec(),
    });
    new.files.push(ReportFile {
        name: "extra/dmesg-efi_pstore-1.enc.z".into(),
        data: vec![0x78, 0x9c, 0xff],
    });
    let created = "2026-11-26T03:30:00Z".parse().unwrap();
    let outcome = store.write_at(&new, created).unwrap();

    assert!(!outcome.already_present);
    assert!(
        outcome.id.starts_with("20231114T221320Z-"),
        "{}",
        outcome.id
    );
    assert_eq!(outcome.path, tmp.path().join("reports").join(&outcome.id));
    assert_eq!(
        fs::read_to_string(outcome.path.join("dmesg.txt")).unwrap(),
        PANIC_LOG
    );
    assert_eq!(
        fs::read(outcome.path.join("extra/dmesg-efi_pstore-1.enc.z")).unwrap(),
        [0x78, 0x9c, 0xff]
    );
    assert_schema_valid(&outcome.path);

    let loaded = store.load(&outcome.id).unwrap();
    let m = &loaded.manifest;
    assert_eq!(m.format_version, 1);
    assert_eq!(m.id, outcome.id);
    assert_eq!(m.created, "2026-11-26T03:30:00Z");
    assert_eq!(m.crash_time.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_eq!(m.backend.as_deref(), Some("ramoops"));
    assert_eq!(m.records, new.records);
    let names: Vec<&str> = m.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["dmesg.txt", "console.txt", "extra/dmesg-efi_pstore-1.enc.z"]
    );
    assert_eq!(m.files[0].size, PANIC_LOG.len() as u64);
    assert_eq!(m.files[0].sha256, common::sha256(PANIC_LOG.as_bytes()));
    assert_eq!(m.analysis, new.analysis);
    assert!(store.verify(&loaded).is_empty());

    // Nothing but the published report is left in the reports directory.
    let entries: Vec<String> = fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries, [outcome.id]);
}

#[test]
fn same_records_give_one_report() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path());
    let first = store.write(&sample(PANIC_LOG, None)).unwrap();
    let again = store.write(&sample(PANIC_LOG, None)).unwrap();
    assert!(first.id.starts_with("undated-"));
    assert_eq!(first.id, again.id);
    assert!(again.already_present);
    let other = store.write(&sample("<0>[ 1.0] other\n", None)).unwrap();
    assert_ne!(other.id, first.id);
    assert_eq!(store.list().unwrap().len(), 2);
}

#[test]
fn unwritable_target_is_one_line_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain-file");
    fs::write(&file, "x").unwrap();
    let store = Store::open(file.join("reports"));
    let err = store.write(&sample(PANIC_LOG, None)).unwrap_err();
    assert!(matches!(err, Error::Write { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "cannot write report to {}: Not a directory",
            file.join("reports").display()
        )
    );
}

#[test]
fn unsafe_file_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("r"));
    for bad in [
        "../escape",
        "/abs",
        "report.json",
        ".hidden",
        "a//b",
        "dmesg.txt",
    ] {
        let mut new = sample(PANIC_LOG, None);
        new.files.push(ReportFile {
            name: bad.into(),
            data: vec![],
        });
        let err = store.write(&new).unwrap_err();
        assert!(
            err.to_string().contains("refusing report file name"),
            "{bad}: {err}"
        );
    }
    assert!(!tmp.path().join("escape").exists());
    assert_eq!(fs::read_dir(tmp.path().join("r")).unwrap().count(), 0);
}

#[test]
fn verify_reports_changed_and_missing_files() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path());
    let mut new = sample(PANIC_LOG, None);
    new.files.push(ReportFile {
        name: "pmsg.bin".into(),
        data: b"abc".to_vec(),
    });
    let out = store.write(&new).unwrap();
    fs::write(
        out.path.join("dmesg.txt"),
        PANIC_LOG.replace("bash", "bosh"),
    )
    .unwrap();
    fs::remove_file(out.path.join("pmsg.bin")).unwrap();
    let problems = store.verify(&store.load(&out.id).unwrap());
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("dmesg.txt: SHA-256 differs"),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("pmsg.bin: No such file"),
        "{problems:?}"
    );
}

#[test]
fn prefixes_resolve_to_one_report() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path());
    let a = store
        .write(&sample("<0>[ 1.0] a\n", Some(1_700_000_000)))
        .unwrap();
    let b = store
        .write(&sample("<0>[ 1.0] b\n", Some(1_700_000_000)))
        .unwrap();
    let c = store
        .write(&sample("<0>[ 1.0] c\n", Some(1_800_000_000)))
        .unwrap();
    assert_eq!(store.resolve(&a.id).unwrap(), a.id);
    assert_eq!(store.resolve("2027").unwrap(), c.id);
    assert_eq!(store.load(&b.id[..20]).unwrap().id, b.id);
    match store.resolve("2023").unwrap_err() {
        Error::Ambiguous { ids, .. } => assert_eq!(ids.len(), 2),
        other => panic!("{other}"),
    }
    assert!(matches!(store.resolve("1999"), Err(Error::NotFound(_))));
    assert!(matches!(store.resolve("../etc"), Err(Error::InvalidId(_))));
}

#[test]
fn damaged_and_future_reports_are_listed_with_their_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path());
    let good = store.write(&sample(PANIC_LOG, None)).unwrap();
    fs::create_dir(tmp.path().join("undated-000000000000")).unwrap();
    fs::write(tmp.path().join("undated-000000000000/report.json"), "{").unwrap();
    fs::create_dir(tmp.path().join("undated-ffffffffffff")).unwrap();
    fs::write(
        tmp.path().join("undated-ffffffffffff/report.json"),
        r#"{"format-version": 7}"#,
    )
    .unwrap();
    fs::create_dir(tmp.path().join(".undated-1.tmp-1")).unwrap();

    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 3);
    let problem = |id: &str| {
        listed
            .iter()
            .find(|l| l.id == id)
            .map(|l| l.manifest.as_ref().err().cloned())
            .unwrap()
    };
    assert!(problem(&good.id).is_none());
    assert!(
        problem("undated-000000000000")
            .unwrap()
            .contains("invalid report manifest")
    );
    assert!(
        problem("undated-ffffffffffff")
            .unwrap()
            .contains("unsupported report format version 7")
    );
}

#[test]
fn missing_reports_dir_lists_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("none"));
    assert!(store.list().unwrap().is_empty());
    assert!(matches!(store.load("2023"), Err(Error::NotFound(_))));
}
