//! The scratch space of one benchmark: a private directory, the mount-namespace wrapper both tools
//! run under, and one fresh trial directory per timed run, populated outside the timing.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use super::sets::SetFile;
use crate::shell;

/// Where systemd-pstore reads records and where it archives them; the wrapper puts a trial's
/// directories over these two in a private mount namespace.
pub const PSTORE_MOUNT: &str = "/sys/fs/pstore";
pub const ARCHIVE_MOUNT: &str = "/var/lib/systemd/pstore";

const WRAPPER: &str = "\
#!/bin/sh
# Written by `cargo xtask bench`: runs a command in the caller's private mount namespace with
# a copy of a record set over /sys/fs/pstore and an empty directory over /var/lib/systemd/pstore.
set -e
mount --bind \"$1\" /sys/fs/pstore
mount --bind \"$2\" /var/lib/systemd/pstore
shift 2
exec \"$@\"
";

/// Two private directories, one for the record copies and one for the outputs, removed with
/// everything in them when dropped. They may be on different filesystems, as /sys/fs/pstore (RAM)
/// and /var/lib (disk) are on a real system.
pub struct Sandbox {
    records_dir: PathBuf,
    dir: PathBuf,
    wrapper: PathBuf,
    trials: usize,
}

/// One run's directories: the records, systemd-pstore's archive, lastgasp's reports and root.
/// `dir` holds all but the records, which sit in the sandbox's records directory.
pub struct Trial {
    pub dir: PathBuf,
    pub pstore: PathBuf,
    pub archive: PathBuf,
    pub reports: PathBuf,
    pub root: PathBuf,
}

impl Sandbox {
    /// New directories under `records_base` (record copies) and `base` (the wrapper script and
    /// every output).
    pub fn create(records_base: &Path, base: &Path) -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("lastgasp-bench-{}-{nanos}", std::process::id());
        let (records_dir, dir) = (records_base.join(&name), base.join(&name));
        for d in [&records_dir, &dir] {
            fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
        }
        let sandbox = Self {
            wrapper: dir.join("in-namespace.sh"),
            records_dir,
            dir,
            trials: 0,
        };
        fs::write(&sandbox.wrapper, WRAPPER)
            .with_context(|| format!("cannot write {}", sandbox.wrapper.display()))?;
        Ok(sandbox)
    }

    /// Where outputs go.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where record copies go.
    pub fn records_dir(&self) -> &Path {
        &self.records_dir
    }

    /// `unshare -m sh <wrapper> <pstore> <archive> <program> <args...>`, for `trial`.
    pub fn in_namespace(&self, trial: &Trial, program: &Path, args: &[&Path]) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "/bin/sh"])
            .arg(&self.wrapper)
            .arg(&trial.pstore)
            .arg(&trial.archive)
            .arg(program)
            .args(args);
        cmd
    }

    /// Flushes the outputs' filesystem (`sync -f`), so a run's fsyncs never pay for writes
    /// earlier runs left dirty (on ext4 a journal commit flushes other files' data too).
    pub fn settle(&self) -> Result<()> {
        shell::run(Command::new("sync").arg("-f").arg(&self.dir))?;
        Ok(())
    }

    /// A new trial directory with `files` in its pstore directory, stamped as the kernel would.
    pub fn trial(&mut self, files: &[SetFile]) -> Result<Trial> {
        self.trials += 1;
        let name = format!("trial-{}", self.trials);
        let dir = self.dir.join(&name);
        let trial = Trial {
            pstore: self.records_dir.join(&name),
            archive: dir.join("archive"),
            reports: dir.join("reports"),
            root: dir.join("root"),
            dir,
        };
        for sub in [&trial.pstore, &trial.archive, &trial.root] {
            fs::create_dir_all(sub).with_context(|| format!("cannot create {}", sub.display()))?;
        }
        for file in files {
            write_record(&trial.pstore, file)?;
        }
        Ok(trial)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Best effort: a failure here must not hide the benchmark's own error.
        let _ = fs::remove_dir_all(&self.records_dir);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Trial {
    pub fn remove(self) -> Result<()> {
        fs::remove_dir_all(&self.dir)
            .with_context(|| format!("cannot remove {}", self.dir.display()))
    }
}

/// Writes `files` into `dir` as pstore shows them, for profiling a tool by hand.
pub fn export(dir: &Path, files: &[SetFile]) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    files.iter().try_for_each(|file| write_record(dir, file))
}

/// The record as pstore shows it: read-only, with the record's time as mtime.
fn write_record(dir: &Path, file: &SetFile) -> Result<()> {
    let path = dir.join(&file.name);
    fs::write(&path, &file.data).with_context(|| format!("cannot write {}", path.display()))?;
    let opened = File::options()
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    opened
        .set_modified(file.mtime)
        .with_context(|| format!("cannot set the mtime of {}", path.display()))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o444))
        .with_context(|| format!("cannot make {} read-only", path.display()))?;
    Ok(())
}

/// Wall time of `cmd` from spawn to exit; fails with its stderr when it exits non-zero.
pub fn time(cmd: &mut Command) -> Result<Duration> {
    let line = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let child = cmd.spawn().with_context(|| format!("cannot run {line}"))?;
    let out = child
        .wait_with_output()
        .with_context(|| format!("waiting for {line}"))?;
    let elapsed = started.elapsed();
    if !out.status.success() {
        bail!(
            "{line} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn trial_holds_the_records_as_pstore_would() {
        let base = std::env::temp_dir();
        let mut sandbox = Sandbox::create(&base.join("records"), &base).unwrap();
        let mtime = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let files = vec![SetFile {
            name: "dmesg-ramoops-0".into(),
            data: b"Oops#1 Part1\n".to_vec(),
            mtime,
        }];
        let trial = sandbox.trial(&files).unwrap();
        let path = trial.pstore.join("dmesg-ramoops-0");
        assert_eq!(fs::read(&path).unwrap(), b"Oops#1 Part1\n");
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.mtime(), 1_700_000_000);
        assert_eq!(meta.mode() & 0o777, 0o444);
        assert!(trial.archive.is_dir() && trial.root.is_dir());
        assert!(!trial.reports.exists(), "lastgasp creates its reports dir");
        assert!(trial.pstore.starts_with(sandbox.records_dir()));
        assert!(trial.archive.starts_with(sandbox.dir()));
        let dirs = [
            sandbox.dir().to_path_buf(),
            sandbox.records_dir().to_path_buf(),
        ];
        trial.remove().unwrap();
        drop(sandbox);
        assert!(dirs.iter().all(|d| !d.exists()));
    }

    /// Needs root (unshare --mount); says so and passes vacuously elsewhere.
    #[test]
    fn wrapper_shows_the_copy_at_sys_fs_pstore_only_inside() {
        let can_unshare = Command::new("unshare")
            .args(["--mount", "true"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !can_unshare {
            eprintln!("skipped: unshare --mount needs root");
            return;
        }
        let base = std::env::temp_dir();
        let mut sandbox = Sandbox::create(&base.join("records"), &base).unwrap();
        let files = vec![SetFile {
            name: "dmesg-ramoops-7".into(),
            data: b"x".to_vec(),
            mtime: UNIX_EPOCH,
        }];
        let trial = sandbox.trial(&files).unwrap();
        let out = sandbox
            .in_namespace(&trial, Path::new("/bin/ls"), &[Path::new(PSTORE_MOUNT)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "dmesg-ramoops-7"
        );
        assert!(!Path::new(PSTORE_MOUNT).join("dmesg-ramoops-7").exists());
        trial.remove().unwrap();
    }

    #[test]
    fn time_reports_a_failing_command() {
        let err = time(Command::new("sh").args(["-c", "echo broken >&2; exit 3"])).unwrap_err();
        assert!(err.to_string().contains("broken"), "{err}");
        assert!(time(&mut Command::new("true")).is_ok());
    }
}
