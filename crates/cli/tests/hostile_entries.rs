//! Symlinks and special files in the pstore directory and the reports directory (issue 9, item
//! 6): `save` never follows them to read, write or delete elsewhere, and never hangs on a fifo.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::process::Command as StdCommand;
use std::time::Duration;

use common::{FakeRoot, stderr_of};

fn outside() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("victim"), "not a crash record\n").unwrap();
    dir
}

#[test]
fn symlinks_and_fifos_in_pstore_are_neither_followed_nor_opened() {
    let root = FakeRoot::new();
    root.lab_records("ramoops");
    let elsewhere = outside();
    let victim = elsewhere.path().join("victim");
    symlink(&victim, root.pstore().join("dmesg-ramoops-5")).unwrap();
    let fifo = root.pstore().join("dmesg-ramoops-6");
    let made = StdCommand::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo {} failed", fifo.display());

    // A fifo opened for reading would block until a writer comes: the timeout catches that.
    let out = root
        .cmd()
        .arg("save")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        fs::read_to_string(&victim).unwrap(),
        "not a crash record\n",
        "the symlink's target is left alone"
    );
    let ids = root.report_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let dmesg = fs::read_to_string(root.reports().join(&ids[0]).join("dmesg.txt")).unwrap();
    assert!(!dmesg.contains("not a crash record"), "symlink followed");
    let m = root.manifest(&ids[0]);
    assert_eq!(m["records"].as_array().unwrap().len(), 2, "{m}");
}

#[test]
fn a_lock_symlink_is_not_followed_to_create_a_file_elsewhere() {
    let root = FakeRoot::new();
    root.lab_records("erst");
    let elsewhere = outside();
    let target = elsewhere.path().join("created-by-save");
    fs::create_dir_all(root.reports()).unwrap();
    symlink(&target, root.reports().join(".lock")).unwrap();
    let out = root.cmd().arg("save").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!target.exists(), "save created {}", target.display());
    assert_eq!(root.report_ids().len(), 1);
    assert!(root.pstore_files().is_empty());
}

#[test]
fn a_symlink_named_like_the_report_is_no_proof_the_records_were_saved() {
    let root = FakeRoot::new();
    let names = root.lab_records("blk");
    let out = root.cmd().args(["save", "--keep"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let ids = root.report_ids();
    assert_eq!(ids.len(), 1);

    // The real report moves away; a symlink to it takes its place under the id.
    let elsewhere = tempfile::tempdir().unwrap();
    let moved = elsewhere.path().join("moved");
    fs::rename(root.reports().join(&ids[0]), &moved).unwrap();
    symlink(&moved, root.reports().join(&ids[0])).unwrap();
    let before = fs::read_dir(&moved).unwrap().count();

    let out = root.cmd().arg("save").output().unwrap();
    assert!(
        !out.status.success(),
        "a symlink counted as the saved report"
    );
    let err = stderr_of(&out);
    assert!(err.contains("not a report"), "{err}");
    assert_eq!(
        root.pstore_files(),
        names,
        "records unlinked on a symlink's word"
    );
    assert_eq!(
        fs::read_dir(&moved).unwrap().count(),
        before,
        "wrote through it"
    );
}
