//! Where the binary's log records and errors end up, seen from outside: quiet on success, log
//! records at -v, and one `error:` line on stderr whatever the log target.

mod common;

use common::{FakeRoot, stderr_of, stdout_of};

#[test]
fn a_successful_save_with_records_logs_nothing() {
    let root = FakeRoot::new();
    root.lab_records("ramoops");
    let out = root.cmd().arg("save").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "");
    assert_eq!(stdout_of(&out).lines().count(), 1, "{}", stdout_of(&out));
}

#[test]
fn verbose_log_records_reach_stderr_as_plain_text() {
    let root = FakeRoot::new();
    let out = root.cmd().args(["-v", "save"]).output().unwrap();
    assert!(out.status.success());
    let stderr = stderr_of(&out);
    assert!(stderr.contains("INFO nothing to collect"), "{stderr}");
    // Not a terminal: no colour escapes in a file or a pipe.
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[test]
fn the_filter_variable_overrides_the_flags() {
    let root = FakeRoot::new();
    let out = root
        .cmd()
        .env("LASTGASP_LOG", "debug")
        .args(["-q", "save"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stderr_of(&out).contains("DEBUG"), "{}", stderr_of(&out));
}

/// Whether the journal is there or not (the target then falls back to stderr, saying so only
/// at debug level), the error that ends the program is one line on stderr.
#[test]
fn the_final_error_is_one_stderr_line_whatever_the_target() {
    for target in ["journal", "kmsg", "auto", "stderr"] {
        let root = FakeRoot::new();
        let out = root
            .cmd()
            .env("LASTGASP_LOG_TARGET", target)
            .args(["show", "1999"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{target}");
        assert_eq!(
            stderr_of(&out),
            "error: no report matches '1999'\n",
            "{target}"
        );
    }
}
