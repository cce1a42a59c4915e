//! Headless Chromium (Debian's `chromium`) run once per page: a fixed window, its own profile in
//! a tempdir, bounded by a timeout, its whole process group killed after, and the page's console
//! messages read back from its log.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};

/// The window every page is loaded (and screenshotted) in.
pub const WIDTH: u32 = 1280;
pub const HEIGHT: u32 = 1024;
/// One page load; generous because the machine may be busy with builds and guests.
const TIMEOUT: Duration = Duration::from_secs(120);

pub struct Chromium {
    exe: PathBuf,
    work: tempfile::TempDir,
}

/// What one run left: its stdout (the DOM, with `--dump-dom`) and the page's console messages.
pub struct Run {
    pub stdout: String,
    pub console: Vec<String>,
}

impl Chromium {
    /// Chromium from PATH; fails (never skips) when it is not installed.
    pub fn find() -> Self {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let exe = std::env::split_paths(&path)
            .map(|dir| dir.join("chromium"))
            .find(|p| p.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "chromium is not installed: the dashboard test needs Debian's chromium \
                     (apt-get install chromium; .ci/run installs it)"
                )
            });
        Self {
            exe,
            work: tempfile::tempdir().unwrap(),
        }
    }

    /// Loads `url` with `extra` flags (`--dump-dom`, `--screenshot=FILE`) and waits for Chromium
    /// to finish, at most `TIMEOUT`.
    pub fn run(&self, name: &str, extra: &[String], url: &str) -> Run {
        let out = self.work.path().join(format!("{name}.out"));
        let err = self.work.path().join(format!("{name}.err"));
        let profile = self.work.path().join(format!("{name}.profile"));
        let mut child = Command::new(&self.exe)
            .args([
                "--headless",
                // Root (as CI runs) cannot use Chromium's sandbox.
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                &format!("--window-size={WIDTH},{HEIGHT}"),
                // The page's console goes to stderr as `...:CONSOLE:<line>] "message", source: ...`.
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(url)
            .env("HOME", self.work.path())
            .stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap())
            // Its own process group, so the renderer and GPU processes die with it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", self.exe.display()));
        let group = Pid::from_child(&child);
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() > TIMEOUT {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Whatever it left running (or all of it, on a timeout) goes; ESRCH means nothing did.
        let _ = kill_process_group(group, Signal::KILL);
        let _ = child.wait();
        let stderr = read(&err);
        let status = status.unwrap_or_else(|| {
            panic!(
                "chromium did not finish {url} within {TIMEOUT:?}; its log:\n{}",
                tail(&stderr)
            )
        });
        assert!(
            status.success(),
            "chromium on {url}: {status}; its log:\n{}",
            tail(&stderr)
        );
        Run {
            stdout: read(&out),
            console: console_messages(&stderr),
        }
    }
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The page's console messages in Chromium's log (its own D-Bus and GPU chatter excluded).
pub fn console_messages(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|line| {
            let at = line.find(":CONSOLE")?;
            let message = &line[at..];
            Some(
                message[message.find(']').map_or(0, |i| i + 1)..]
                    .trim()
                    .to_owned(),
            )
        })
        .collect()
}
