//! One run of a disk-image scenario: a qcow2 overlay of the cached image (every run starts
//! clean), a control disk holding the driver, this scenario's step scripts and the package, and
//! QEMU under TCG until the guest powers itself off. The guest's unit runs one step per boot and
//! reboots (a warm reset in the same QEMU process, so RAM survives as ramoops needs), crashes or
//! powers off; the host follows the serial console, then reads the control disk back.

use super::Image;
use crate::lab::qemu;
use crate::shell;
use anyhow::{Context, Result, bail};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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

/// How long the console may stay silent before the host notes what the guest is doing, once
/// per silence (see `note_silence`): no boot prints nothing for this long, and a GRUB guest's
/// console once stayed silent for over 7 minutes after a warm reboot for reasons unknown.
const SILENCE_NOTED_AFTER: Duration = Duration::from_secs(180);

/// What the host asks QEMU's monitor during a long silence: whether the guest runs and where
/// its CPU is, and the serial port's registers that reading leaves alone (IER, LCR, MCR; MCR
/// bit 4 is loopback, which would keep the console's output inside the UART).
const SILENCE_QUESTIONS: &[&str] = &[
    "info status",
    "info registers",
    "i /b 0x3f9",
    "i /b 0x3fb",
    "i /b 0x3fc",
];

/// What the host puts on the control disk.
pub struct Payload<'a> {
    /// lab/disk-image: run.sh and the step scripts.
    pub scripts: &'a Path,
    /// The Debian package the guest installs.
    pub deb: &'a Path,
    /// How the steps arm this image: written as `scenario.env`, which run.sh sources.
    pub arming: &'a super::Arming,
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
    let run = qemu::RunDir::create(dir.to_path_buf())?;
    let overlay = dir.join("overlay.qcow2");
    shell::run(
        Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
            .arg(raw)
            .arg(&overlay),
    )?;
    let control = dir.join("control.img");
    make_control_disk(payload, &dir.join("control"), &control)?;
    // The monitor answers the host's questions when the console stays silent (`note_silence`).
    let mut cmd = qemu::guest_command("qemu-system-x86_64", &[], &run.serial, Some(&run.monitor));
    qemu::virtio_disk(&mut cmd, "qcow2", &overlay);
    qemu::virtio_disk(&mut cmd, "raw", &control);
    if image.uefi() {
        qemu::uefi_firmware(&mut cmd, dir)?;
    }
    let started = Instant::now();
    let mut boot_starts = Vec::new();
    let watch = Watch {
        image,
        serial: &run.serial,
        disk: &overlay,
        monitor: &run.monitor,
        dir,
    };
    let stopped = supervise(&watch, &mut cmd, limit, &mut boot_starts)
        .err()
        .map(|err| format!("{err:#}"));
    let seconds = started.elapsed().as_secs();
    let out = dir.join("out");
    read_back(&control, dir)?;
    Ok(Finished {
        serial: run.serial,
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
    let arming = payload.arming;
    std::fs::write(
        staging.join("scenario.env"),
        format!(
            "SETUP_ARGS='{}'\nKERNEL_INSTALL={}\n",
            arming.setup_args,
            if arming.kernel_install { "yes" } else { "" }
        ),
    )?;
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

/// What `supervise` watches of a running guest.
struct Watch<'a> {
    image: Image,
    serial: &'a Path,
    /// The overlay the guest writes: a sign of life when the console is silent.
    disk: &'a Path,
    /// QEMU's human monitor, asked what the guest does during a long silence.
    monitor: &'a Path,
    /// The run's directory, where the silence notes go.
    dir: &'a Path,
}

impl Watch<'_> {
    /// Asks QEMU's monitor what the guest is doing after its console has been silent for
    /// `silent` and keeps the answers in `silence-<seconds since start>s.txt`; returns that
    /// file's path and the guest's registers (`None` when the monitor did not answer). Answers
    /// that fail are noted in the file too.
    fn note_silence(
        &self,
        qemu: u32,
        at: u64,
        silent: Duration,
        boot: usize,
    ) -> (PathBuf, Option<String>) {
        let mut note = format!(
            "{at}s after QEMU started ({boot} boots had reached their step), the console had \
             been silent for {}s\n",
            silent.as_secs()
        );
        // Whether the guest runs: a vCPU that idles (hlt) costs QEMU little, one that works or
        // spins costs it a whole core. Two notes of one silence tell which.
        note.push_str(&format!(
            "QEMU (pid {qemu}) has used {} of CPU time\n",
            cpu_time(qemu).map_or_else(|| "an unknown amount".to_owned(), |t| format!("{t:.1}s"))
        ));
        let mut registers = None;
        for question in SILENCE_QUESTIONS {
            let answer = qemu::monitor_command(self.monitor, question, Duration::from_secs(10))
                // The monitor echoes the command with terminal escapes and ends with a prompt.
                .map(|text| {
                    text.lines()
                        .filter(|line| !line.contains('\x1b') && !line.starts_with("(qemu)"))
                        .collect::<Vec<_>>()
                        .join("\n")
                });
            if *question == "info registers" {
                registers = answer.as_ref().ok().cloned();
            }
            let answer = answer.unwrap_or_else(|err| format!("(no answer: {err:#})"));
            note.push_str(&format!("\n### {question}\n{answer}\n"));
        }
        let path = self.dir.join(format!("silence-{at}s.txt"));
        if let Err(err) = std::fs::write(&path, note) {
            eprintln!("lab: writing {}: {err}", path.display());
        }
        eprintln!(
            "lab: disk-{}: console silent for {}s in boot {boot}; what QEMU says the guest is \
             doing: {}",
            self.image.name(),
            silent.as_secs(),
            path.display()
        );
        (path, registers)
    }
}

/// The CPU time (user and system) process `pid` has used, from /proc/PID/stat (in USER_HZ
/// ticks, 100 a second on Linux).
fn cpu_time(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index)?.parse::<u64>().ok();
    // utime and stime are the 14th and 15th fields; the 3rd (state) is the first after ')'.
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// Runs QEMU until it exits (the guest powered off), printing each boot's start as the serial
/// console shows it; fails when `limit` passes or the guest shows no sign of life too long.
/// Notes in `boot_starts` the seconds at which each boot's step started, and what the guest
/// was doing whenever its console stays silent (`Watch::note_silence`).
fn supervise(
    watch: &Watch,
    cmd: &mut Command,
    limit: Duration,
    boot_starts: &mut Vec<u64>,
) -> Result<()> {
    let mut child = qemu::spawn(cmd, "qemu-system-x86_64")?;
    let started = Instant::now();
    let mut last_growth = Instant::now();
    let mut last_output = Instant::now();
    let mut silence_noted = false;
    let mut noted_registers = None;
    let mut seen_len = 0;
    let modified = || {
        std::fs::metadata(watch.disk)
            .and_then(|meta| meta.modified())
            .ok()
    };
    let mut disk_written = modified();
    let fail = |child: &mut std::process::Child, why: String| -> Result<()> {
        child.kill().ok();
        child.wait().ok();
        bail!("{why} (serial log: {})", watch.serial.display())
    };
    loop {
        if qemu::exited(&mut child)? {
            return Ok(());
        }
        let log = std::fs::read(watch.serial).unwrap_or_default();
        if log.len() != seen_len {
            seen_len = log.len();
            last_growth = Instant::now();
            last_output = Instant::now();
            silence_noted = false;
            let text = String::from_utf8_lossy(&log);
            let boots = text.matches(BOOT_MARKER).count();
            while boot_starts.len() < boots {
                let at = started.elapsed().as_secs();
                boot_starts.push(at);
                eprintln!(
                    "lab: disk-{}: boot {} reached its step at {at}s",
                    watch.image.name(),
                    boot_starts.len()
                );
            }
        }
        let written = modified();
        if written != disk_written {
            disk_written = written;
            last_growth = Instant::now();
        }
        if !silence_noted && last_output.elapsed() > SILENCE_NOTED_AFTER {
            silence_noted = true;
            noted_registers = watch
                .note_silence(
                    child.id(),
                    started.elapsed().as_secs(),
                    last_output.elapsed(),
                    boot_starts.len(),
                )
                .1;
        }
        if last_growth.elapsed() > SILENCE_LIMIT {
            let text = String::from_utf8_lossy(&log).into_owned();
            let last = text
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("");
            let (note, registers) = watch.note_silence(
                child.id(),
                started.elapsed().as_secs(),
                last_output.elapsed(),
                boot_starts.len(),
            );
            // Firmware and bootloaders print nothing and write no disk for minutes when a
            // warm reset left them slow (notes of such runs: OVMF's LZMA copy loop, GRUB's
            // initrd copy, each moving ~100 KB/s); a guest whose registers moved since the
            // last note is running, and only the run's time limit stops it.
            if registers.is_some() && noted_registers.is_some() && registers != noted_registers {
                eprintln!(
                    "lab: disk-{}: the guest's registers moved since the last note: it runs; \
                     waiting on",
                    watch.image.name()
                );
                noted_registers = registers;
                last_growth = Instant::now();
                continue;
            }
            return fail(
                &mut child,
                format!(
                    "the guest's console was silent and its disk unwritten for {}s after boot {} \
                     began; its last line: {last:?}; what QEMU said of it: {}",
                    SILENCE_LIMIT.as_secs(),
                    boot_starts.len(),
                    note.display()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_reads_this_process() {
        // Burn a little CPU so the count cannot be a field that is always 0.
        let mut sum = 0u64;
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(300) {
            sum = sum.wrapping_add(std::hint::black_box(1));
        }
        let used = cpu_time(std::process::id()).expect("this process's /proc stat");
        assert!(used > 0.0 && used < 1e6, "{used} ({sum})");
        assert_eq!(cpu_time(u32::MAX), None);
    }
}
