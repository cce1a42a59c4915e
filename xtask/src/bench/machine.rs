//! Facts about the machine and the tool versions a benchmark ran with, for the doc beside the
//! numbers. A fact that cannot be found reads "unknown" rather than failing the run.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::sandbox::Sandbox;
use crate::shell;

const UNKNOWN: &str = "unknown";

#[derive(Debug, Clone)]
pub struct Machine {
    pub date: String,
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    /// Filesystem type of the outputs' directory, and where it is.
    pub filesystem: String,
    pub work_dir: String,
    /// The same for the record copies.
    pub records_filesystem: String,
    pub records_dir: String,
    pub lastgasp: String,
    pub commit: String,
    pub systemd: String,
    pub unshare: String,
    pub rustc: String,
}

impl Machine {
    /// The sandbox tells where records and outputs lived (filesystem types matter: lastgasp
    /// fsyncs its reports, systemd-pstore does not).
    pub fn gather(workspace: &Path, sandbox: &Sandbox, lastgasp: &Path) -> Self {
        // findmnt names ext4 as such; `stat -f` only knows "ext2/ext3".
        let fs_type = |dir: &Path| {
            let found = output(
                Command::new("findmnt")
                    .args(["-n", "-o", "FSTYPE", "--target"])
                    .arg(dir),
            );
            if found == UNKNOWN {
                output(Command::new("stat").args(["-f", "-c", "%T"]).arg(dir))
            } else {
                found
            }
        };
        let parent = |dir: &Path| dir.parent().unwrap_or(dir).display().to_string();
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        Self {
            date: output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])),
            cpu: cpu_model(),
            cores,
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| UNKNOWN.into(), |s| s.trim().to_owned()),
            filesystem: fs_type(sandbox.dir()),
            work_dir: parent(sandbox.dir()),
            records_filesystem: fs_type(sandbox.records_dir()),
            records_dir: parent(sandbox.records_dir()),
            lastgasp: output(Command::new(lastgasp).arg("--version")),
            commit: output(
                Command::new("git")
                    .arg("-C")
                    .arg(workspace)
                    .args(["describe", "--always", "--dirty"]),
            ),
            systemd: output(Command::new("dpkg-query").args(["-W", "-f", "${Version}", "systemd"])),
            unshare: output(Command::new("unshare").arg("--version")),
            rustc: output(Command::new("rustc").arg("--version")),
        }
    }
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| UNKNOWN.into())
}

/// First line of the command's output, or "unknown".
fn output(cmd: &mut Command) -> String {
    shell::stdout(cmd)
        .ok()
        .and_then(|s| s.lines().next().map(|l| l.trim().to_owned()))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| UNKNOWN.into())
}
