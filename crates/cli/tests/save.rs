//! `lastgasp save` over a fake root: real lab records and crafted ones, durability, dedup,
//! retention and failure handling.

mod common;

use std::fs;
use std::process::Command as StdCommand;

use common::{
    FakeRoot, assert_schema_valid, dmesg_record, lab_dir, log_lines, stderr_of, stdout_of,
};

/// The text of a dmesg record without its `Reason#N PartM` line.
fn body(record: &[u8]) -> String {
    let text = String::from_utf8_lossy(record).into_owned();
    text.split_once('\n')
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[test]
fn lab_ramoops_oops_and_panic_make_one_complete_report() {
    let root = FakeRoot::new();
    root.lab_records("ramoops");
    let out = root.cmd().arg("save").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("saved "), "{stdout}");
    assert!(
        stdout.contains("null-pointer-dereference-lastgasp_null_write-"),
        "{stdout}"
    );

    let ids = root.report_ids();
    assert_eq!(ids.len(), 1);
    let dmesg = fs::read_to_string(root.reports().join(&ids[0]).join("dmesg.txt")).unwrap();
    let oops = body(&fs::read(lab_dir("ramoops").join("dmesg-ramoops-0")).unwrap());
    let panic = body(&fs::read(lab_dir("ramoops").join("dmesg-ramoops-1")).unwrap());

    // Headers stripped, prefixes kept, each record's lines present in their order, the panic
    // record's end is the log's end, and no line is doubled.
    assert!(
        dmesg.starts_with("<5>[    0.000000] Linux version 6.1.0-"),
        "{}",
        &dmesg[..80]
    );
    assert!(!dmesg.contains("Oops#1 Part1") && !dmesg.contains("Panic#2 Part1"));
    assert!(dmesg.ends_with(&panic[panic.len() - 2000..]));
    let lines: Vec<&str> = dmesg.lines().collect();
    for record in [&oops, &panic] {
        let mut at = 0;
        for line in record.lines() {
            let found = lines[at..].iter().position(|l| *l == line);
            assert!(found.is_some(), "line missing or out of order: {line}");
            at += found.unwrap() + 1;
        }
    }
    // The kernel itself logged some lines twice; the merge must not add more copies.
    let count = |text: &str, line: &str| text.lines().filter(|l| *l == line).count();
    for line in &lines {
        let most = count(&oops, line).max(count(&panic, line));
        assert_eq!(count(&dmesg, line), most, "doubled line: {line}");
    }
    assert!(dmesg.contains("Oops: 0002 [#1]"));
    assert!(dmesg.contains("Kernel panic - not syncing: Fatal exception"));

    // The records are gone from pstore: the backend's slots are free again.
    assert!(root.pstore_files().is_empty());

    let m = root.manifest(&ids[0]);
    assert_schema_valid(&m);
    assert_eq!(m["backend"], "ramoops");
    assert_eq!(m["dump-reason"], "Panic");
    assert_eq!(m["kernel-release"], "6.1.0-56-amd64");
    assert_eq!(m["partial"], false);
    assert_eq!(m["records"].as_array().unwrap().len(), 2);
    assert_eq!(m["analysis"]["class"], "null-pointer-dereference");
    assert_eq!(m["files"][0]["name"], "dmesg.txt");
    assert_eq!(m["files"][0]["size"], dmesg.len());
}

#[test]
fn every_lab_backend_gives_one_schema_valid_report() {
    for scenario in ["efi", "erst", "blk"] {
        let root = FakeRoot::new();
        let names = root.lab_records(scenario);
        let out = root
            .cmd()
            .args(["save", "--keep", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{scenario}: {}", stderr_of(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            json["reports"].as_array().unwrap().len(),
            1,
            "{scenario}: {json:#}"
        );
        let ids = root.report_ids();
        assert_eq!(ids.len(), 1, "{scenario}");
        assert_eq!(json["reports"][0]["id"], ids[0].as_str());
        let m = root.manifest(&ids[0]);
        assert_schema_valid(&m);
        let mut used: Vec<&str> = m["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["file-name"].as_str().unwrap())
            .collect();
        used.sort_unstable();
        assert_eq!(used, names, "{scenario}: every record is in the report");
        assert_eq!(
            m["analysis"]["class"], "null-pointer-dereference",
            "{scenario}"
        );
        let dmesg = fs::read_to_string(root.reports().join(&ids[0]).join("dmesg.txt")).unwrap();
        assert!(dmesg.contains("lastgasp_null_write"), "{scenario}");
        assert_eq!(
            root.pstore_files(),
            names,
            "{scenario}: --keep leaves the records"
        );
    }
}

#[test]
fn keep_twice_gives_one_report() {
    let root = FakeRoot::new();
    root.lab_records("ramoops");
    let first = root.cmd().args(["save", "--keep"]).output().unwrap();
    assert!(first.status.success());
    assert_eq!(stdout_of(&first).lines().count(), 1);
    let second = root
        .cmd()
        .args(["save", "--keep", "--json"])
        .output()
        .unwrap();
    assert!(second.status.success(), "{}", stderr_of(&second));
    let json: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(json["reports"][0]["already-present"], true);
    assert_eq!(
        json["reports"][0]["records-removed"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(root.report_ids().len(), 1);
    assert_eq!(root.pstore_files().len(), 2);

    // A later save without --keep finds the report there and only frees the records.
    let third = root.cmd().arg("save").output().unwrap();
    assert!(third.status.success());
    assert_eq!(stdout_of(&third), "");
    assert_eq!(root.report_ids().len(), 1);
    assert!(root.pstore_files().is_empty());
}

#[test]
fn nothing_to_collect_is_success_and_silent() {
    let root = FakeRoot::new();
    let out = root.cmd().arg("save").output().unwrap();
    assert!(out.status.success());
    assert_eq!(stdout_of(&out), "");
    assert_eq!(stderr_of(&out), "");
    assert!(!root.reports().exists(), "no reports dir made for nothing");
    let json = root.cmd().args(["save", "--json"]).output().unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value, serde_json::json!({"reports": [], "pruned": []}));
}

#[test]
fn unwritable_reports_dir_keeps_every_record() {
    let root = FakeRoot::new();
    let names = root.lab_records("ramoops");
    let blocker = root.file("var/lib/lastgasp/not-a-dir", "x");
    let target = blocker.join("reports");
    let out = root
        .cmd()
        .arg("--reports-dir")
        .arg(&target)
        .arg("save")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: cannot write report to {}: Not a directory\n",
            target.display()
        )
    );
    assert_eq!(stdout_of(&out), "");
    assert_eq!(root.pstore_files(), names);
}

/// Runs `lastgasp --root <root> save` in a private mount namespace after `mount_cmd` (a shell
/// command line using `$DIR` for `dir`), then lists `dir` as `ls -A` sees it there. `None` when
/// mount namespaces are not available here.
fn save_in_mount_namespace(
    root: &FakeRoot,
    dir: &std::path::Path,
    mount_cmd: &str,
) -> Option<(std::process::Output, String)> {
    fs::create_dir_all(dir).unwrap();
    let script = format!(
        "DIR=\"$1\"; shift; {mount_cmd} || exit 99; \"$@\"; rc=$?; echo '--ls--' >&2; ls -A \"$DIR\" >&2; exit $rc"
    );
    let bin = assert_cmd::cargo::cargo_bin("lastgasp");
    let out = StdCommand::new("unshare")
        .args(["-m", "sh", "-c", &script, "sh"])
        .arg(dir)
        .arg(&bin)
        .arg("--root")
        .arg(root.path())
        .arg("save")
        .output()
        .ok()?;
    if out.status.code() == Some(99) || out.status.code().is_none() {
        return None;
    }
    let stderr = stderr_of(&out);
    let (errors, listing) = stderr.split_once("--ls--\n")?;
    let mut out = out;
    out.stderr = errors.as_bytes().to_vec();
    Some((out, listing.to_string()))
}

/// A read-only file system, the real thing: the reports dir bind-mounted read-only in a private
/// mount namespace (the test needs root, as CI has, and fails saying so otherwise).
#[test]
fn read_only_reports_dir_keeps_every_record() {
    let root = FakeRoot::new();
    let names = root.lab_records("ramoops");
    let reports = root.reports();
    let (out, _) = save_in_mount_namespace(&root, &reports, "mount --bind -o ro \"$DIR\" \"$DIR\"")
        .expect("no private mount namespace here (the test needs root and unshare, as CI has)");
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let prefix = format!("error: cannot write report to {}: ", reports.display());
    assert!(stderr.starts_with(&prefix), "{stderr}");
    assert!(stderr.ends_with("Read-only file system\n"), "{stderr}");
    assert_eq!(root.pstore_files(), names);
    assert!(root.report_ids().is_empty());
}

/// A full disk: a 16 KiB tmpfs cannot hold the lab's 30 KiB log. Nothing is deleted, nothing
/// half-written is left behind.
#[test]
fn full_disk_keeps_every_record_and_leaves_no_partial_report() {
    let root = FakeRoot::new();
    let names = root.lab_records("ramoops");
    let Some((out, listing)) = save_in_mount_namespace(
        &root,
        &root.reports(),
        "mount -t tmpfs -o size=16k tmpfs \"$DIR\"",
    ) else {
        panic!("no private mount namespace here (the test needs root and unshare, as CI has)");
    };
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: cannot write report to {}: No space left on device\n",
            root.reports().display()
        )
    );
    assert_eq!(listing, ".lock\n", "only the lock file remains");
    assert_eq!(root.pstore_files(), names);
}

/// Records that cannot be unlinked (pstore mounted read-only here) leave the report in place and
/// make save fail with one line naming the record.
#[test]
fn undeletable_records_are_reported_after_the_report_is_saved() {
    let root = FakeRoot::new();
    let names = root.lab_records("ramoops");
    let pstore = root.pstore();
    let Some((out, listing)) =
        save_in_mount_namespace(&root, &pstore, "mount --bind -o ro \"$DIR\" \"$DIR\"")
    else {
        panic!("no private mount namespace here (the test needs root and unshare, as CI has)");
    };
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with(&format!(
            "error: report saved, but cannot remove {}/dmesg-ramoops-",
            pstore.display()
        )),
        "{stderr}"
    );
    assert!(
        last.ends_with(": Read-only file system (and 1 more)"),
        "{stderr}"
    );
    assert_eq!(stdout_of(&out).lines().count(), 1);
    assert_eq!(listing.lines().count(), 2, "{listing}");
    assert_eq!(root.pstore_files(), names);
    assert_eq!(root.report_ids().len(), 1);
}

#[test]
fn systemd_archive_is_read_but_never_touched() {
    let root = FakeRoot::new();
    let lines = log_lines(0, 30);
    let archived = root.archive_record(
        "1700000000/dmesg-efi_pstore-170000000001001",
        &dmesg_record("Panic", 1, &lines),
    );
    let out = root.cmd().arg("save").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out).lines().count(), 1);
    assert!(archived.exists(), "systemd's archive is left alone");
    let ids = root.report_ids();
    assert_eq!(ids.len(), 1);
    assert!(
        ids[0].starts_with("20231114T221320Z-"),
        "time from the efi id: {}",
        ids[0]
    );
    let m = root.manifest(&ids[0]);
    assert_eq!(m["records"][0]["origin"], "systemd-archive");
    assert_schema_valid(&m);

    // Seen again at the next boot: recognised, nothing new.
    let again = root.cmd().arg("save").output().unwrap();
    assert!(again.status.success());
    assert_eq!(stdout_of(&again), "");
    assert_eq!(root.report_ids(), ids);
}

#[test]
fn retention_prunes_the_oldest_and_never_the_new_report() {
    let root = FakeRoot::new();
    root.file("etc/lastgasp/lastgasp.toml", "[reports]\nmax_reports = 2\n");
    let mut saved = Vec::new();
    for (i, time) in [1_700_000_000u64, 1_700_100_000, 1_700_200_000]
        .iter()
        .enumerate()
    {
        let lines = log_lines(i as u32 * 100, 20);
        root.record(
            "dmesg-ramoops-0",
            &dmesg_record("Panic", 1, &lines),
            Some(*time),
        );
        let out = root.cmd().args(["save", "--json"]).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        saved.push(json["reports"][0]["id"].as_str().unwrap().to_string());
        if i == 2 {
            assert_eq!(json["pruned"], serde_json::json!([saved[0]]));
        }
    }
    assert_eq!(root.report_ids(), [saved[1].clone(), saved[2].clone()]);

    // A byte limit smaller than any report still keeps the one just written.
    root.file("etc/lastgasp/lastgasp.toml", "[reports]\nmax_bytes = 1\n");
    root.record(
        "dmesg-ramoops-0",
        &dmesg_record("Oops", 1, &log_lines(900, 5)),
        Some(1_700_300_000),
    );
    let out = root.cmd().args(["save", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let newest = json["reports"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(root.report_ids(), [newest]);
}

#[test]
fn config_keep_leaves_records() {
    let root = FakeRoot::new();
    root.file(
        "usr/lib/lastgasp/lastgasp.toml.d/10-keep.toml",
        "[pstore]\nkeep = true\n",
    );
    root.record(
        "dmesg-ramoops-0",
        &dmesg_record("Panic", 1, &log_lines(0, 5)),
        None,
    );
    let out = root.cmd().arg("save").output().unwrap();
    assert!(out.status.success());
    assert_eq!(root.pstore_files(), ["dmesg-ramoops-0"]);
    assert_eq!(root.report_ids().len(), 1);
}

#[test]
fn console_only_boot_is_analysed_from_the_console() {
    let root = FakeRoot::new();
    root.record(
        "console-ramoops-0",
        b"[    1.000000] Linux version 6.1.0-56-amd64 (x) #1 SMP\n[    5.000000] Kernel panic - not syncing: sysrq triggered crash\n",
        None,
    );
    let out = root.cmd().arg("save").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let ids = root.report_ids();
    assert_eq!(ids.len(), 1);
    let m = root.manifest(&ids[0]);
    assert_schema_valid(&m);
    assert_eq!(m["analysis"]["panic-message"], "sysrq triggered crash");
    assert!(root.reports().join(&ids[0]).join("console.txt").is_file());
}

#[test]
fn pruned_archive_crash_does_not_come_back() {
    let root = FakeRoot::new();
    root.file("etc/lastgasp/lastgasp.toml", "[reports]\nmax_reports = 1\n");
    root.archive_record(
        "1700000000/dmesg-efi_pstore-170000000001001",
        &dmesg_record("Panic", 1, &log_lines(0, 10)),
    );
    root.archive_record(
        "1700100000/dmesg-efi_pstore-170010000001001",
        &dmesg_record("Panic", 1, &log_lines(100, 10)),
    );
    // Both are new: neither is pruned in the run that wrote them.
    root.cmd().arg("save").assert().success();
    let first = root.report_ids();
    assert_eq!(first.len(), 2);
    // The next boot finds both again; retention now removes the older one...
    let out = root.cmd().args(["save", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["pruned"], serde_json::json!([first[0]]));
    assert_eq!(root.report_ids(), [first[1].clone()]);
    // ...and the boot after that does not bring it back.
    let out = root.cmd().args(["save", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let old = json["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == first[0].as_str())
        .unwrap();
    assert_eq!(old["previously-pruned"], true);
    assert_eq!(root.report_ids(), [first[1].clone()]);
    assert_eq!(stdout_of(&root.cmd().arg("save").output().unwrap()), "");
}

#[test]
fn record_longer_than_the_read_limit_stays_in_pstore() {
    let root = FakeRoot::new();
    root.file(
        "etc/lastgasp/lastgasp.toml",
        "[pstore]\nmax_record_bytes = 200\n",
    );
    root.record(
        "dmesg-ramoops-0",
        &dmesg_record("Panic", 1, &log_lines(0, 40)),
        None,
    );
    let out = root.cmd().arg("save").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).contains(", partial)"),
        "{}",
        stdout_of(&out)
    );
    assert!(
        stderr_of(&out).contains("left in pstore"),
        "{}",
        stderr_of(&out)
    );
    let ids = root.report_ids();
    assert_eq!(ids.len(), 1);
    assert_eq!(root.manifest(&ids[0])["partial"], true);
    assert_eq!(root.pstore_files(), ["dmesg-ramoops-0"]);
}

#[test]
fn concurrent_saves_make_one_report() {
    let root = FakeRoot::new();
    root.lab_records("efi");
    let bin = assert_cmd::cargo::cargo_bin("lastgasp");
    let children: Vec<_> = (0..3)
        .map(|_| {
            StdCommand::new(&bin)
                .arg("--root")
                .arg(root.path())
                .args(["save", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut written = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        written += json["reports"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["already-present"] == false)
            .count();
    }
    assert_eq!(written, 1);
    assert_eq!(root.report_ids().len(), 1);
    assert!(root.pstore_files().is_empty());
}
