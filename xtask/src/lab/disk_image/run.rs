//! One run of a disk-image scenario: a qcow2 overlay of the cached image (every run starts
//! clean), a control disk holding the driver, this scenario's step scripts and the package, and
//! QEMU under TCG until the guest powers itself off. The guest's unit runs one step per boot and
//! reboots (a warm reset in the same QEMU process, so RAM survives as ramoops needs), crashes or
//! powers off; the host follows the serial console, then reads the control disk back.

use super::Image;
use crate::shell;
use anyhow::{Context, Result, bail};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/// The control disk's size and label (the baked-in unit mounts it by label).
const CONTROL_BYTES: u64 = 64 << 20;
const CONTROL_LABEL: &str = "lastgasp-lab";

/// How long the guest may show no sign of life (its serial console silent and its disk
/// unwritten) before the run counts as hung. The disk counts too: after a warm reboot of the
/// GRUB image the kernel's console has been seen to stay silent for minutes while the system
/// booted and wrote its disk, and then to print the whole boot at once.
const SILENCE_LIMIT: Duration = Duration::from_secs(420);

/// What the guest's driver prints when a boot's step starts (see lab/disk-image/run.sh).
const BOOT_MARKER: &str = "LASTGASP-LAB: boot ";

/// What the host puts on the control disk.
pub struct Payload<'a> {
    /// lab/disk-image: run.sh and the step scripts.
    pub scripts: &'a Path,
    /// The Debian package the guest installs.
    pub deb: &'a Path,
}

/// A finished run's files.
pub struct Finished {
    pub serial: PathBuf,
    /// The control disk's `out` directory, copied back: `boot<N>/<name>.txt`, `.rc`, `ending`.
    pub out: PathBuf,
    /// Seconds after QEMU started at which each boot's step began.
    pub boot_starts: Vec<u64>,
    pub seconds: u64,
    /// Why the host stopped the guest (hung, timed out), when it did not power itself off.
    pub stopped: Option<String>,
}

/// Boots `raw` (the cached image) through the scenario's steps, bounded by `limit`.
pub fn run(
    image: Image,
    raw: &Path,
    payload: &Payload,
    dir: &Path,
    limit: Duration,
) -> Result<Finished> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    let overlay = dir.join("overlay.qcow2");
    shell::run(
        Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
            .arg(raw)
            .arg(&overlay),
    )?;
    let control = dir.join("control.img");
    make_control_disk(payload, &dir.join("control"), &control)?;
    let serial = dir.join("serial.log");
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args([
        "-accel", "tcg", "-m", "1024", "-smp", "1", "-display", "none",
    ])
    .args(["-no-user-config", "-nodefaults", "-monitor", "none"])
    .arg("-serial")
    .arg(format!("file:{}", serial.display()))
    .arg("-drive")
    .arg(format!("if=virtio,format=qcow2,file={}", overlay.display()))
    .arg("-drive")
    .arg(format!("if=virtio,format=raw,file={}", control.display()));
    if image.uefi() {
        let vars = dir.join("OVMF_VARS.fd");
        std::fs::copy(OVMF_VARS, &vars).with_context(|| format!("copying {OVMF_VARS}"))?;
        cmd.args(["-machine", "q35"])
            .arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}"
            ))
            .arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,unit=1,file={}",
                vars.display()
            ));
    }
    let started = Instant::now();
    let mut boot_starts = Vec::new();
    let stopped = supervise(image, &mut cmd, &serial, &overlay, limit, &mut boot_starts)
        .err()
        .map(|err| format!("{err:#}"));
    let seconds = started.elapsed().as_secs();
    let out = dir.join("out");
    read_back(&control, dir)?;
    Ok(Finished {
        serial,
        out,
        boot_starts,
        seconds,
        stopped,
    })
}

/// The control disk: an ext4 file system (without a journal, so what the guest synced is where
/// debugfs reads it even after a crash) made from a staging directory.
fn make_control_disk(payload: &Payload, staging: &Path, image: &Path) -> Result<()> {
    let steps = staging.join("steps");
    std::fs::create_dir_all(&steps)?;
    std::fs::create_dir_all(staging.join("out"))?;
    for entry in std::fs::read_dir(payload.scripts)
        .with_context(|| format!("reading {}", payload.scripts.display()))?
    {
        let path = entry?.path();
        let name = path
            .file_name()
            .expect("directory entries have names")
            .to_string_lossy()
            .into_owned();
        let to = if name == "run.sh" {
            staging.join(&name)
        } else if name.starts_with("boot") && name.ends_with(".sh") {
            steps.join(&name)
        } else {
            continue;
        };
        std::fs::copy(&path, &to).with_context(|| format!("copying {}", path.display()))?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))?;
    }
    let deb_name = payload
        .deb
        .file_name()
        .context("the package path names no file")?;
    std::fs::copy(payload.deb, staging.join(deb_name))
        .with_context(|| format!("copying {}", payload.deb.display()))?;
    std::fs::File::create(image)?.set_len(CONTROL_BYTES)?;
    shell::run(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-O", "^has_journal", "-L", CONTROL_LABEL, "-d"])
            .arg(staging)
            .arg(image),
    )?;
    Ok(())
}

/// Copies the control disk's `out` directory into `dir/out` with debugfs (no mount needed).
fn read_back(control: &Path, dir: &Path) -> Result<()> {
    shell::run(
        Command::new("debugfs")
            .arg("-R")
            .arg(format!("rdump /out {}", dir.display()))
            .arg(control),
    )?;
    if !dir.join("out").is_dir() {
        bail!("debugfs copied no out directory from {}", control.display());
    }
    Ok(())
}

/// Runs QEMU until it exits (the guest powered off), printing each boot's start as the serial
/// console shows it; fails when `limit` passes or the console stays silent too long. Notes in
/// `boot_starts` the seconds at which each boot's step started.
fn supervise(
    image: Image,
    cmd: &mut Command,
    serial: &Path,
    disk: &Path,
    limit: Duration,
    boot_starts: &mut Vec<u64>,
) -> Result<()> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    let started = Instant::now();
    let mut last_growth = Instant::now();
    let mut seen_len = 0;
    let modified = || {
        std::fs::metadata(disk)
            .and_then(|meta| meta.modified())
            .ok()
    };
    let mut disk_written = modified();
    let fail = |child: &mut std::process::Child, why: String| -> Result<()> {
        child.kill().ok();
        child.wait().ok();
        bail!("{why} (serial log: {})", serial.display())
    };
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    std::io::Read::read_to_string(&mut pipe, &mut stderr).ok();
                }
                bail!("qemu exited with {status}: {}", stderr.trim());
            }
            return Ok(());
        }
        let log = std::fs::read(serial).unwrap_or_default();
        if log.len() != seen_len {
            seen_len = log.len();
            last_growth = Instant::now();
            let text = String::from_utf8_lossy(&log);
            let boots = text.matches(BOOT_MARKER).count();
            while boot_starts.len() < boots {
                let at = started.elapsed().as_secs();
                boot_starts.push(at);
                eprintln!(
                    "lab: disk-{}: boot {} reached its step at {at}s",
                    image.name(),
                    boot_starts.len()
                );
            }
        }
        let written = modified();
        if written != disk_written {
            disk_written = written;
            last_growth = Instant::now();
        }
        if last_growth.elapsed() > SILENCE_LIMIT {
            let text = String::from_utf8_lossy(&log).into_owned();
            let last = text
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("");
            return fail(
                &mut child,
                format!(
                    "the guest's console was silent and its disk unwritten for {}s after boot {} \
                     began; its last line: {last:?}",
                    SILENCE_LIMIT.as_secs(),
                    boot_starts.len()
                ),
            );
        }
        if started.elapsed() > limit {
            return fail(
                &mut child,
                format!(
                    "guest still running after {}s, in boot {}",
                    limit.as_secs(),
                    boot_starts.len()
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
