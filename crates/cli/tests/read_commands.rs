//! `list`, `show`, `export` and `analyze` output, plus usage errors and help texts.

mod common;

use std::fs;
use std::io::Read;

use common::{FakeRoot, lab_dir, stderr_of, stdout_of};

/// A root with the lab's ramoops crash saved; returns the report id.
fn saved_root() -> (FakeRoot, String) {
    let root = FakeRoot::new();
    root.lab_records("ramoops");
    let out = root.cmd().arg("save").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let id = root.report_ids().remove(0);
    (root, id)
}

#[test]
fn list_shows_one_row_per_report() {
    let (root, id) = saved_root();
    let out = root.cmd().arg("list").output().unwrap();
    assert!(out.status.success());
    let stdout = stdout_of(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for column in [
        "ID",
        "CRASH TIME",
        "BACKEND",
        "CLASS",
        "SIGNATURE",
        "PARTIAL",
    ] {
        assert!(lines[0].contains(column), "{stdout}");
    }
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cells[0], id);
    assert_eq!(cells[2], "ramoops");
    assert_eq!(cells[3], "null-pointer-dereference");
    assert!(cells[4].starts_with("null-pointer-dereference-lastgasp_null_write-"));
    assert_eq!(cells[5], "no");

    let out = root.cmd().args(["list", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["id"], id.as_str());
    assert_eq!(json[0]["signature"], cells[4]);
    assert_eq!(json[0]["problem"], serde_json::Value::Null);
}

#[test]
fn list_marks_a_damaged_report() {
    let (root, id) = saved_root();
    fs::write(root.reports().join(&id).join("report.json"), "{").unwrap();
    let out = root.cmd().arg("list").output().unwrap();
    assert!(out.status.success());
    assert!(stdout_of(&out).contains("damaged"), "{}", stdout_of(&out));
}

#[test]
fn list_verify_passes_intact_reports_and_names_a_corrupt_one() {
    let (root, id) = saved_root();
    let out = root
        .cmd()
        .args(["list", "--verify", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["integrity"], serde_json::json!([]));

    // One byte of the log changed, same size: only the hash can tell.
    let dmesg = root.reports().join(&id).join("dmesg.txt");
    let mut bytes = fs::read(&dmesg).unwrap();
    bytes[0] ^= 1;
    fs::write(&dmesg, bytes).unwrap();
    let out = root.cmd().args(["list", "--verify"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stdout_of(&out).contains("corrupt"), "{}", stdout_of(&out));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(&id) && stderr.contains("dmesg.txt: SHA-256 differs"),
        "{stderr}"
    );
    // Without --verify, list does not hash and still succeeds.
    let out = root.cmd().arg("list").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));

    // A manifest that does not parse fails --verify too.
    fs::write(root.reports().join(&id).join("report.json"), "{").unwrap();
    let out = root.cmd().args(["list", "--verify"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains(&id), "{}", stderr_of(&out));
}

#[test]
fn show_puts_the_analysis_first_then_facts_then_the_log_tail() {
    let (root, id) = saved_root();
    let dmesg = fs::read_to_string(root.reports().join(&id).join("dmesg.txt")).unwrap();
    let analysis = kmsg::analyze(&dmesg).render_text();

    let out = root
        .cmd()
        .args(["show", &id[..8], "--lines", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.starts_with(analysis.trim_end()), "{stdout}");
    assert!(
        stdout.contains(&format!("Report        {id}\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains("Source        pstore ramoops, Panic\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Record        dmesg-ramoops-0 ("),
        "{stdout}"
    );
    assert!(stdout.contains("Integrity     ok\n"), "{stdout}");
    let tail: Vec<&str> = dmesg.lines().rev().take(3).collect();
    let expected: String = tail.iter().rev().map(|l| format!("{l}\n")).collect();
    assert!(
        stdout.ends_with(&format!("Last 3 lines of dmesg.txt:\n{expected}")),
        "{stdout}"
    );

    let json = root.cmd().args(["show", &id, "--json"]).output().unwrap();
    assert_eq!(
        json.stdout,
        fs::read(root.reports().join(&id).join("report.json")).unwrap()
    );
}

#[test]
fn show_reports_tampering() {
    let (root, id) = saved_root();
    fs::write(root.reports().join(&id).join("dmesg.txt"), "edited\n").unwrap();
    let out = root
        .cmd()
        .args(["show", &id, "--lines", "0"])
        .output()
        .unwrap();
    assert!(stdout_of(&out).contains("Integrity     dmesg.txt: size is 7, manifest says"));
}

#[test]
fn show_unknown_or_ambiguous_id_fails_with_one_line() {
    let (root, id) = saved_root();
    let out = root.cmd().args(["show", "1999"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr_of(&out), "error: no report matches '1999'\n");
    let out = root.cmd().args(["show", "../../etc"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).starts_with("error: invalid report id '../../etc'"));

    // A second report with the same time prefix makes a short prefix ambiguous.
    root.record("dmesg-ramoops-0", b"Panic#1 Part1\n<0>[ 1.0] other\n", None);
    root.cmd().arg("save").assert().success();
    let out = root.cmd().args(["show", "2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    assert!(
        stderr.starts_with("error: '2' matches 2 reports: "),
        "{stderr}"
    );
    assert!(stderr.contains(&id));
}

#[test]
fn export_writes_an_archive_of_the_report_directory() {
    let (root, id) = saved_root();
    let archive = root.path().join("crash.tar.gz");
    let out = root
        .cmd()
        .args(["export", &id[..10], "-o"])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).starts_with(&format!("wrote {}", archive.display())));

    let gz = fs::read(&archive).unwrap();
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut tar_bytes)
        .unwrap();
    let mut names = Vec::new();
    let mut tar = tar::Archive::new(tar_bytes.as_slice());
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        if name.ends_with("dmesg.txt") {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            assert_eq!(
                text,
                fs::read_to_string(root.reports().join(&id).join("dmesg.txt")).unwrap()
            );
        }
        names.push(name);
    }
    assert_eq!(
        names,
        [
            format!("{id}/"),
            format!("{id}/dmesg.txt"),
            format!("{id}/report.json")
        ]
    );

    let again = root
        .cmd()
        .args(["export", &id, "-o"])
        .arg(&archive)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        stderr_of(&again),
        format!(
            "error: {} already exists; pass --force to replace it\n",
            archive.display()
        )
    );
    root.cmd()
        .args(["export", &id, "--force", "-o"])
        .arg(&archive)
        .assert()
        .success();
}

#[test]
fn analyze_reads_files_and_stdin() {
    let root = FakeRoot::new();
    let record = lab_dir("ramoops").join("dmesg-ramoops-1");
    let text = String::from_utf8_lossy(&fs::read(&record).unwrap()).into_owned();
    let expected = kmsg::analyze(&text);

    let out = root.cmd().arg("analyze").arg(&record).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        stdout_of(&out),
        format!("{}\n", expected.render_text().trim_end())
    );

    let out = root
        .cmd()
        .args(["analyze", "--json", "-"])
        .write_stdin(text.clone())
        .output()
        .unwrap();
    assert!(out.status.success());
    let parsed: kmsg::Analysis = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(parsed, expected);
    assert_eq!(parsed.class, "null-pointer-dereference");

    let out = root
        .cmd()
        .args(["analyze", "/nonexistent/log"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "error: cannot read /nonexistent/log: No such file or directory\n"
    );
}

#[test]
fn usage_errors_exit_2() {
    let root = FakeRoot::new();
    for args in [
        &["show"][..],
        &["--bogus", "list"],
        &["export", "x"],
        &["frobnicate"],
    ] {
        let out = root.cmd().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = root.cmd().args(["-v", "-q", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_command_explains_itself_with_an_example() {
    let root = FakeRoot::new();
    for command in ["save", "list", "show", "export", "analyze", "config"] {
        let out = root.cmd().args([command, "--help"]).output().unwrap();
        assert!(out.status.success());
        let help = stdout_of(&out);
        assert!(help.contains("Examples:"), "{command}: {help}");
        assert!(
            help.contains(&format!("lastgasp {command}")),
            "{command}: {help}"
        );
    }
}

#[test]
fn show_a_report_without_kernel_log_text() {
    let root = FakeRoot::new();
    root.record("pmsg-ramoops-0", b"\x01\x02user bytes", None);
    let out = root.cmd().arg("save").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).contains(": no kernel log text ("),
        "{}",
        stdout_of(&out)
    );
    let id = root.report_ids().remove(0);
    let m = root.manifest(&id);
    assert_eq!(m["analysis"], serde_json::Value::Null);
    common::assert_schema_valid(&m);
    let out = root.cmd().args(["show", &id]).output().unwrap();
    let stdout = stdout_of(&out);
    assert!(
        stdout.starts_with("No kernel log text in this report.\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("File          pmsg.bin (12 bytes)\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("dmesg.txt is empty.\n"), "{stdout}");
    let out = root.cmd().arg("list").output().unwrap();
    assert!(stdout_of(&out).contains(" unknown "), "{}", stdout_of(&out));
}

#[test]
fn closed_stdout_ends_quietly() {
    use std::process::Stdio;
    let root = FakeRoot::new();
    // 4000 lines, ~170 KiB: more than a pipe buffer, so show must hit the closed pipe.
    root.record(
        "dmesg-ramoops-0",
        &common::dmesg_record("Panic", 1, &common::log_lines(0, 4000)),
        None,
    );
    root.cmd().arg("save").assert().success();
    let bin = assert_cmd::cargo::cargo_bin("lastgasp");
    let mut child = std::process::Command::new(bin)
        .arg("--root")
        .arg(root.path())
        .args(["show", "2", "--lines", "100000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "");
}
