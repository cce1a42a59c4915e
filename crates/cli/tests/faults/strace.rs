//! `lastgasp save` under strace: counting the syscalls it makes, then failing (`error=`) or
//! killing (`signal=KILL`) exactly one occurrence of one syscall with `-e inject=`.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// The syscalls faulted, with the errors each one gets. Write-side calls get every error that
/// can happen to them on a real disk; the read side (listing, opening and reading the records)
/// gets EIO and EINTR so a record that fails to read once is seen to stay where it is.
pub const FAULTED: &[(&str, &[&str])] = &[
    ("openat", &["ENOSPC", "EIO", "EROFS", "EINTR"]),
    ("read", &["EIO", "EINTR"]),
    ("getdents64", &["EIO"]),
    ("statx", &["EIO"]),
    ("write", &["ENOSPC", "EIO", "EINTR"]),
    ("fsync", &["EIO", "ENOSPC", "EROFS", "EINTR"]),
    ("fdatasync", &["EIO", "ENOSPC", "EINTR"]),
    ("mkdir", &["ENOSPC", "EIO", "EROFS"]),
    ("mkdirat", &["ENOSPC", "EIO", "EROFS"]),
    ("rename", &["ENOSPC", "EIO", "EROFS"]),
    ("renameat2", &["ENOSPC", "EIO", "EROFS"]),
    ("unlink", &["EIO", "EROFS"]),
    ("unlinkat", &["EIO", "EROFS"]),
    ("rmdir", &["EIO", "EROFS"]),
    ("linkat", &["ENOSPC", "EIO", "EROFS"]),
    ("copy_file_range", &["ENOSPC", "EIO"]),
    ("sendfile", &["ENOSPC", "EIO"]),
    ("ftruncate", &["ENOSPC", "EIO"]),
    ("flock", &["EIO", "EINTR"]),
];

/// What strerror says for each injected error, as the one-line error must name it.
pub fn strerror(errno: &str) -> &'static str {
    match errno {
        "ENOSPC" => "No space left on device",
        "EIO" => "Input/output error",
        "EROFS" => "Read-only file system",
        "EINTR" => "Interrupted system call",
        other => panic!("no message known for {other}"),
    }
}

/// One fault: an error returned by, or SIGKILL delivered at, occurrence `when` of `syscall`.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    pub syscall: &'static str,
    pub when: usize,
    /// `None`: SIGKILL.
    pub errno: Option<&'static str>,
}

/// A faulted run: whether strace really injected, and what `lastgasp` did.
pub struct Run {
    pub injected: bool,
    pub output: Output,
}

fn names() -> String {
    FAULTED
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

fn strace(root: &Path, trace: &Path, extra: &[String]) -> Output {
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-o"])
        .arg(trace)
        .arg("-e")
        .arg(format!("trace={}", names()))
        .args(extra)
        .arg(env!("CARGO_BIN_EXE_lastgasp"))
        .arg("--root")
        .arg(root)
        .arg("save")
        .env_remove("LASTGASP_LOG")
        .env("LASTGASP_LOG_TARGET", "stderr");
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run strace (it must be installed): {e}"))
}

/// How many times a clean `save` over `root` makes each faulted syscall.
pub fn count(root: &Path, scratch: &Path) -> BTreeMap<&'static str, usize> {
    let trace = scratch.join("count.trace");
    let out = strace(root, &trace, &[]);
    assert!(
        out.status.success(),
        "the clean traced save failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(&trace).unwrap();
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let call = line.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
        let Some((name, _)) = call.split_once('(') else {
            continue;
        };
        if let Some((known, _)) = FAULTED.iter().find(|(n, _)| *n == name) {
            *counts.entry(*known).or_insert(0) += 1;
        }
    }
    assert!(
        counts.values().sum::<usize>() > 0,
        "strace saw no syscall at all: {text}"
    );
    counts
}

/// Runs `save` over `root` with `fault` injected.
pub fn inject(root: &Path, scratch: &Path, fault: Fault) -> Run {
    let trace = scratch.join("fault.trace");
    let what = match fault.errno {
        Some(errno) => format!("error={errno}"),
        None => "signal=KILL".to_string(),
    };
    let spec = format!("inject={}:{what}:when={}", fault.syscall, fault.when);
    let output = strace(root, &trace, &["-e".to_string(), spec]);
    let text = fs::read_to_string(&trace).unwrap_or_default();
    let injected = match fault.errno {
        Some(_) => text.contains("(INJECTED)"),
        None => text.contains("+++ killed by SIGKILL"),
    };
    Run { injected, output }
}
