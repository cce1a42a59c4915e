//! Running the distribution's own tools (journalctl, dpkg, pacman) for context, bounded in time
//! and output, and only on the running system: under `--root DIR` the programs would describe
//! the host rather than DIR, so they are not run and the fact is recorded as missing.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one program may run; a save at boot must not wait on a stuck journal.
const TIME_LIMIT: Duration = Duration::from_secs(10);

/// A program's standard output, at most `limit` bytes of its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub stdout: Vec<u8>,
    /// Bytes dropped from the start to stay within the limit.
    pub dropped: u64,
}

/// Runs programs for the collectors; tests give a fake.
pub trait Runner {
    /// Runs `program` with `args`; `Err` is a one-line reason (not found, not allowed, failed).
    fn run(&self, program: &str, args: &[&str], limit: usize) -> Result<Output, String>;
}

/// The real programs, allowed only when the root is `/`.
pub struct System {
    refusal: Option<String>,
}

impl System {
    pub fn for_root(root: &Path) -> Self {
        let refusal =
            (root != Path::new("/")).then(|| format!("not run under --root {}", root.display()));
        Self { refusal }
    }
}

impl Runner for System {
    fn run(&self, program: &str, args: &[&str], limit: usize) -> Result<Output, String> {
        if let Some(refusal) = &self.refusal {
            return Err(format!("{program}: {refusal}"));
        }
        run_bounded(program, args, limit, TIME_LIMIT)
    }
}

/// Runs `program` with at most `limit` bytes of its output's end kept and `time_limit` to finish.
pub(super) fn run_bounded(
    program: &str,
    args: &[&str],
    limit: usize,
    time_limit: Duration,
) -> Result<Output, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A pager or colours would only get in the way of reading the output.
        .env("SYSTEMD_PAGER", "cat")
        .env("SYSTEMD_COLORS", "0")
        .env("LC_ALL", "C")
        .spawn()
        .map_err(|e| format!("{program}: {}", crate::commands::os_cause(&e)))?;
    let stdout = child.stdout.take().map(|pipe| keep_tail(pipe, limit));
    let stderr = child.stderr.take().map(|pipe| keep_tail(pipe, 4096));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < time_limit => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program}: still running after {}s; stopped",
                    time_limit.as_secs()
                ));
            }
            Err(e) => return Err(format!("{program}: {e}")),
        }
    };
    let output = stdout
        .and_then(|t| t.join().ok())
        .unwrap_or_else(|| Output {
            stdout: Vec::new(),
            dropped: 0,
        });
    if !status.success() {
        let said = stderr
            .and_then(|t| t.join().ok())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let said = said.lines().last().unwrap_or("").to_string();
        return Err(match said.is_empty() {
            true => format!("{program} failed ({status})"),
            false => format!("{program} failed ({status}): {said}"),
        });
    }
    Ok(output)
}

/// Reads a pipe to its end on a thread, keeping its last `limit` bytes.
fn keep_tail(
    mut pipe: impl Read + Send + 'static,
    limit: usize,
) -> std::thread::JoinHandle<Output> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut dropped = 0u64;
        let mut buffer = [0u8; 8192];
        while let Ok(count) = pipe.read(&mut buffer) {
            if count == 0 {
                break;
            }
            kept.extend_from_slice(buffer.get(..count).unwrap_or_default());
            // Trim in batches, not on every read, so a long output is not copied over and over.
            if kept.len() > limit.saturating_mul(2).max(64 << 10) {
                let excess = kept.len() - limit;
                kept.drain(..excess);
                dropped += excess as u64;
            }
        }
        if kept.len() > limit {
            let excess = kept.len() - limit;
            kept.drain(..excess);
            dropped += excess as u64;
        }
        Output {
            stdout: kept,
            dropped,
        }
    })
}

#[cfg(test)]
pub(crate) mod fake {
    //! A runner that answers from a table, for the collectors' tests.

    use super::{Output, Runner};

    /// `(program and arguments joined by spaces, answer)`.
    pub struct Fake(pub Vec<(String, Result<String, String>)>);

    impl Runner for Fake {
        fn run(&self, program: &str, args: &[&str], limit: usize) -> Result<Output, String> {
            let line = std::iter::once(program)
                .chain(args.iter().copied())
                .collect::<Vec<_>>()
                .join(" ");
            let answer = self
                .0
                .iter()
                .find(|(wanted, _)| *wanted == line)
                .map(|(_, answer)| answer.clone())
                .unwrap_or_else(|| Err(format!("{program}: not found")))?;
            let bytes = answer.into_bytes();
            let dropped = bytes.len().saturating_sub(limit);
            Ok(Output {
                stdout: bytes.get(dropped..).unwrap_or_default().to_vec(),
                dropped: dropped as u64,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fake_root_runs_nothing() {
        let runner = System::for_root(Path::new("/tmp/fake"));
        let err = runner.run("true", &[], 10).unwrap_err();
        assert_eq!(err, "true: not run under --root /tmp/fake");
    }

    #[test]
    fn output_keeps_its_end_within_the_limit() {
        let out = run_bounded("sh", &["-c", "seq 1 100000"], 20, Duration::from_secs(30)).unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "\n99998\n99999\n100000\n"
        );
        assert_eq!(out.dropped, 588_895 - 20);
    }

    #[test]
    fn failures_and_stuck_programs_are_one_line_reasons() {
        let err = run_bounded(
            "sh",
            &["-c", "echo first >&2; echo 'no journal files' >&2; exit 3"],
            100,
            Duration::from_secs(30),
        )
        .unwrap_err();
        assert_eq!(err, "sh failed (exit status: 3): no journal files");
        let err = run_bounded("sleep", &["5"], 100, Duration::from_millis(200)).unwrap_err();
        assert_eq!(err, "sleep: still running after 0s; stopped");
        let err = run_bounded("/nonexistent/program", &[], 100, TIME_LIMIT).unwrap_err();
        assert!(err.starts_with("/nonexistent/program: "), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
