//! One timed run of a command: whole-process wall time measured here, peak resident memory
//! (the kernel's `ru_maxrss`) as GNU time reports it, standard output into a file when the
//! tool prints its result there.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::shell;

/// GNU time: reads the child's rusage from wait4, which std does not expose.
pub const GNU_TIME: &str = "/usr/bin/time";

/// What one run cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub wall: Duration,
    /// Peak resident set size of the tool's process, in KiB.
    pub peak_kib: u64,
}

/// Installs Debian's `time` package when GNU time is missing.
pub fn ensure_gnu_time() -> Result<()> {
    if Path::new(GNU_TIME).is_file() {
        return Ok(());
    }
    crate::lab::assets::apt_install(&["time"])?;
    if !Path::new(GNU_TIME).is_file() {
        bail!("{GNU_TIME}: still missing after installing Debian's time package");
    }
    Ok(())
}

/// Runs `program args` under GNU time, standard output to `stdout` (or nowhere), and returns its
/// wall time and peak memory; fails with the tool's stderr when it fails.
pub fn run(
    program: &Path,
    args: &[std::ffi::OsString],
    stdout: Option<&Path>,
    scratch: &Path,
) -> Result<Sample> {
    let rusage = scratch.join("time.out");
    let err_file = scratch.join("stderr.txt");
    let out = match stdout {
        Some(path) => {
            Stdio::from(File::create(path).with_context(|| format!("creating {}", path.display()))?)
        }
        None => Stdio::null(),
    };
    let err =
        File::create(&err_file).with_context(|| format!("creating {}", err_file.display()))?;
    let mut cmd = Command::new(GNU_TIME);
    cmd.arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rusage)
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let started = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("running {} {}", GNU_TIME, program.display()))?;
    let wall = started.elapsed();
    if !status.success() {
        let stderr = std::fs::read_to_string(&err_file).unwrap_or_default();
        bail!(
            "{} failed ({status}): {}",
            program.display(),
            stderr.lines().last().unwrap_or_default()
        );
    }
    let text = std::fs::read_to_string(&rusage)
        .with_context(|| format!("reading {}", rusage.display()))?;
    Ok(Sample {
        wall,
        peak_kib: parse_peak(&text)
            .with_context(|| format!("GNU time wrote no peak memory: {text:?}"))?,
    })
}

/// The last line of GNU time's `-f %M` output (earlier lines are its own notes, such as
/// "Command exited with non-zero status").
fn parse_peak(text: &str) -> Option<u64> {
    text.lines().rev().find_map(|line| line.trim().parse().ok())
}

/// Flushes the filesystem of `dir`, untimed, so no run pays for writes an earlier one left.
pub fn settle(dir: &Path) -> Result<()> {
    shell::run(Command::new("sync").arg("-f").arg(dir))?;
    Ok(())
}

/// A fresh empty directory.
pub fn empty_dir(path: PathBuf) -> Result<PathBuf> {
    if path.exists() {
        std::fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_the_last_number() {
        assert_eq!(parse_peak("35120\n"), Some(35120));
        assert_eq!(
            parse_peak("Command exited with non-zero status 1\n2048\n"),
            Some(2048)
        );
        assert_eq!(parse_peak("nothing"), None);
    }

    #[test]
    fn a_real_process_is_timed_and_measured() {
        if !Path::new(GNU_TIME).is_file() {
            eprintln!("skipped: no {GNU_TIME}");
            return;
        }
        let dir =
            empty_dir(std::env::temp_dir().join(format!("bench-measure-{}", std::process::id())))
                .unwrap();
        let out = dir.join("out");
        let sample = run(Path::new("/bin/echo"), &["hello".into()], Some(&out), &dir).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\n");
        assert!(
            sample.peak_kib > 0 && sample.peak_kib < 1 << 20,
            "{sample:?}"
        );
        let err = run(Path::new("/bin/false"), &[], None, &dir).unwrap_err();
        assert!(err.to_string().contains("/bin/false failed"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
