//! `lastgasp save` under strace: counting the syscalls it makes, then failing (`error=`) or
//! killing (`signal=KILL`) exactly one occurrence of one syscall with `-e inject=`.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// The syscalls faulted, with the errors each one gets. Write-side calls get every error that
/// can happen to them on a real disk; the read side (listing, opening and reading the records)
/// gets EIO and EINTR so a record that fails to read once is seen to stay where it is.
///
/// The list holds both architectures' names: x86_64's libc calls `mkdir`, `rename`, `unlink`
/// and `rmdir`, which aarch64 (the generic syscall table) does not have; there libc makes the
/// same changes with `mkdirat`, `renameat` and `unlinkat`. strace is told to trace each name
/// only if this architecture has it (`?name`), and `WRITE_PATH` checks that the calls that
/// change the disk were found under one name or another.
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
    ("renameat", &["ENOSPC", "EIO", "EROFS"]),
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

/// Every step of writing a report, each under the names it has on one architecture or another:
/// a clean save of any record set makes at least one call of each group.
pub const WRITE_PATH: &[&[&str]] = &[
    &["openat"],
    &["write"],
    &["fsync", "fdatasync"],
    &["mkdir", "mkdirat"],
    &["rename", "renameat", "renameat2"],
];

/// The trace set: `?` lets strace skip a name this architecture does not have.
fn names() -> String {
    FAULTED
        .iter()
        .map(|(n, _)| format!("?{n}"))
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
        // cargo test sets five directories here; the loader would look for every shared
        // library in each (about 100 failed openat calls before main), and faults there test
        // the loader, not lastgasp. lastgasp needs none of them.
        .env_remove("LD_LIBRARY_PATH")
        .env("LASTGASP_LOG_TARGET", "stderr");
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run strace (it must be installed): {e}"))
}

/// What a clean traced `save` did.
pub struct Counts {
    /// How many times it made each faulted syscall.
    pub calls: BTreeMap<&'static str, usize>,
    /// How many of its openat calls were the dynamic loader's (its cache and the shared
    /// libraries, before `main`): faults there test the loader, not lastgasp.
    pub loader_openat: usize,
}

/// How many times a clean `save` over `root` makes each faulted syscall.
pub fn count(root: &Path, scratch: &Path) -> Counts {
    let trace = scratch.join("count.trace");
    let out = strace(root, &trace, &[]);
    assert!(
        out.status.success(),
        "the clean traced save failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(&trace).unwrap();
    let mut counts = BTreeMap::new();
    let mut loader_openat = 0;
    for line in text.lines() {
        let call = line.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
        let Some((name, args)) = call.split_once('(') else {
            continue;
        };
        if name == "openat" && is_library_lookup(args) {
            loader_openat += 1;
        }
        if let Some((known, _)) = FAULTED.iter().find(|(n, _)| *n == name) {
            *counts.entry(*known).or_insert(0) += 1;
        }
    }
    for group in WRITE_PATH {
        assert!(
            group.iter().any(|n| counts.get(n).is_some_and(|&c| c > 0)),
            "a clean save made none of {group:?} (another name on this architecture?): {counts:?}"
        );
    }
    Counts {
        calls: counts,
        loader_openat,
    }
}

/// Whether openat's arguments open the loader's cache or a shared library (`lib*.so*`).
fn is_library_lookup(args: &str) -> bool {
    let Some(path) = args.split('"').nth(1) else {
        return false;
    };
    let file = path.rsplit('/').next().unwrap_or(path);
    path.ends_with("/ld.so.cache") || (file.starts_with("lib") && file.contains(".so"))
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
