//! The power-cut guest: its lean initramfs (busybox, lastgasp, `lab/guest/powercut-init` and
//! only the modules it loads), its three disks, and one boot of it, watched closely enough to
//! cut the power at a chosen moment (QEMU SIGKILLed: nothing the guest has not yet handed to its
//! virtual disks survives).

use super::super::arch::Arch;
use super::super::assets::{self, Kernel};
use super::super::initramfs::{Initramfs, module_name};
use super::super::kdump::DUMP_DISK_MODULES;
use super::super::qemu::{self, BootStalled, RunDir};
use super::Fs;
use crate::shell;
use anyhow::{Context, Result, bail};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The disk drivers and pstore/blk's zone layer, in load order (pstore_blk itself is loaded by
/// `/init` with its parameters). Those the kernel builds in are absent and skipped.
const BASE_MODULES: &[&str] = &[
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "drivers/block/virtio_blk.ko",
    "fs/pstore/pstore_zone.ko",
];

/// xfs and what it needs, in load order (libcrc32c asks the crypto API for crc32c).
const XFS_MODULES: &[&str] = &[
    "crypto/crc32c_generic.ko",
    "lib/libcrc32c.ko",
    "fs/xfs/xfs.ko",
];

/// Guest memory: enough for the kernel, the initramfs and a save; less RAM boots faster.
const MEMORY_MIB: &str = "256";

/// How often the host looks at the console while it waits to cut: the cut lands within this
/// much of its moment.
const POLL: Duration = Duration::from_millis(2);

/// The pause `/init` makes between "ready" and the save (`sleep 0.2`), so some cuts fall
/// before the save starts.
pub const READY_GAP: Duration = Duration::from_millis(200);

/// One guest's kernel and initramfs.
pub struct Guest {
    pub vmlinuz: PathBuf,
    pub initramfs: PathBuf,
    pub fs: Fs,
}

/// Builds the lean initramfs for `fs` into `dir`.
pub fn prepare(
    workspace: &Path,
    cache: &Path,
    kernel: &Kernel,
    lastgasp: &Path,
    fs: Fs,
    dir: &Path,
) -> Result<Guest> {
    let read = |path: &Path| super::super::read(path);
    let mut image = Initramfs::guest(
        &read(&workspace.join("lab/guest/powercut-init"))?,
        &read(&assets::busybox(cache, Arch::X86_64)?)?,
    );
    image.file("bin/lastgasp", 0o755, &read(lastgasp)?);
    let crash = assets::crash_module(workspace, cache, kernel)?;
    image.file("lib/modules/lastgasp_crashtest.ko", 0o644, &read(&crash)?);
    let fs_modules = match fs {
        Fs::Ext4 => DUMP_DISK_MODULES,
        Fs::Xfs => XFS_MODULES,
    };
    let mut order = Vec::new();
    for relative in BASE_MODULES.iter().chain(fs_modules) {
        let Some(bytes) = kernel.module(relative)? else {
            continue;
        };
        image.module(relative, &bytes);
        order.push(module_name(relative));
    }
    let blk = "fs/pstore/pstore_blk.ko";
    let bytes = kernel
        .module(blk)?
        .with_context(|| format!("{} has no {blk}", kernel.release))?;
    image.module(blk, &bytes);
    image.file(
        "lib/modules/load-order",
        0o644,
        format!("{}\n", order.join("\n")).as_bytes(),
    );
    std::fs::create_dir_all(dir)?;
    let initramfs = dir.join(format!("initramfs-{}.cpio", fs.name()));
    std::fs::write(&initramfs, image.finish())?;
    Ok(Guest {
        vmlinuz: uncompressed(kernel)?,
        initramfs,
        fs,
    })
}

/// The kernel as an ELF `vmlinux`, unpacked once beside its `vmlinuz`. QEMU starts it through
/// its PVH entry, which skips the xz decompression that takes a TCG guest several seconds; on
/// a loaded 2-core host that halved the time to `/init` (47 s to 24 s, 72 s to 47 s). Boots
/// are the cost of a power-cut series, and the cut is after boot, so nothing under test changes.
fn uncompressed(kernel: &Kernel) -> Result<PathBuf> {
    const XZ_MAGIC: &[u8] = b"\xfd7zXZ\0";
    let vmlinux = kernel
        .vmlinuz
        .with_file_name(format!("vmlinux-{}", kernel.release));
    if vmlinux.exists() {
        return Ok(vmlinux);
    }
    let image = super::super::read(&kernel.vmlinuz)?;
    let start = image
        .windows(XZ_MAGIC.len())
        .position(|window| window == XZ_MAGIC)
        .with_context(|| format!("{} holds no xz stream", kernel.vmlinuz.display()))?;
    // Parallel series (threads or processes) may unpack it at once: each in its own files, and
    // one rename wins.
    let unique = format!("{}-{:?}", std::process::id(), std::thread::current().id())
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "");
    let packed = kernel.vmlinuz.with_extension(format!("xz-{unique}"));
    std::fs::write(&packed, &image[start..])?;
    // The stream is followed by the rest of the image: one stream, the rest ignored.
    let out = shell::run(
        Command::new("xz")
            .args(["-dc", "--single-stream"])
            .arg(&packed),
    );
    std::fs::remove_file(&packed).ok();
    let elf = out?.stdout;
    anyhow::ensure!(
        elf.starts_with(b"\x7fELF"),
        "the xz stream in {} is not an ELF kernel",
        kernel.vmlinuz.display()
    );
    let partial = vmlinux.with_extension(format!("partial-{unique}"));
    std::fs::write(&partial, elf)?;
    std::fs::rename(&partial, &vmlinux)?;
    Ok(vmlinux)
}

/// A fresh, empty reports filesystem of `fs` on a sparse file.
pub fn reports_disk(fs: Fs, path: &Path) -> Result<()> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let file = std::fs::File::create(path)?;
    file.set_len(fs.disk_mib() << 20)?;
    drop(file);
    let mut mkfs = Command::new(format!("mkfs.{}", fs.name()));
    match fs {
        Fs::Ext4 => mkfs.args(["-q", "-F"]),
        Fs::Xfs => mkfs.args(["-q", "-f"]),
    };
    shell::run(mkfs.arg(path))?;
    Ok(())
}

/// The disks of one boot, in the order `/init` expects them.
pub struct Disks<'a> {
    pub out: &'a Path,
    pub pstore: &'a Path,
    pub reports: &'a Path,
    /// A chain boot's second pair: the next cut's pstore and reports disks.
    pub next: Option<(&'a Path, &'a Path)>,
}

/// What `/init` does on this boot (`lab.powercut=`).
#[derive(Clone, Copy)]
pub enum Mode {
    Records,
    Cut,
    Finish,
    /// Finish a cut on the first pair of disks, then cut on the next pair.
    Chain,
}

impl Mode {
    fn word(self) -> &'static str {
        match self {
            Mode::Records => "records",
            Mode::Cut => "cut",
            Mode::Finish => "finish",
            Mode::Chain => "chain",
        }
    }
}

fn command(guest: &Guest, run: &RunDir, disks: &Disks, mode: Mode) -> Command {
    let mut cmd = qemu::guest_command(Arch::X86_64.qemu(), &[], &run.serial, None);
    // The last -m wins. A panic must end the run, not boot the guest again.
    cmd.args(["-m", MEMORY_MIB, "-no-reboot"])
        .arg("-kernel")
        .arg(&guest.vmlinuz)
        .arg("-initrd")
        .arg(&guest.initramfs);
    let next = disks.next.map(|(pstore, reports)| [pstore, reports]);
    for disk in [disks.out, disks.pstore, disks.reports]
        .into_iter()
        .chain(next.into_iter().flatten())
    {
        qemu::virtio_disk(&mut cmd, "raw", disk);
    }
    // quiet: every console line costs time under TCG; the lab's own lines are printed anyway.
    // acpi=noirq: PCI interrupts from the BIOS's routing table instead of ACPI's link devices,
    // whose AML took seconds per virtio disk under TCG (a boot to "ready" went from 28-33 s to
    // 20-27 s on the loaded 2-core host).
    cmd.arg("-append").arg(format!(
        "console=ttyS0 {} quiet acpi=noirq panic=1 lab.powercut={} lab.fs={}",
        qemu::GUEST_PARAMETERS,
        mode.word(),
        guest.fs.name()
    ));
    cmd
}

/// The serial console file, read as it grows.
struct Console {
    path: PathBuf,
    seen: Vec<u8>,
    /// Where markers are looked for from: in a chain boot, after its finishing part.
    from: usize,
}

impl Console {
    fn refresh(&mut self) -> Result<()> {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return Ok(());
        };
        file.seek(SeekFrom::Start(self.seen.len() as u64))?;
        file.read_to_end(&mut self.seen)?;
        Ok(())
    }

    /// Where the line `marker` ends, if the guest said it after byte `from`.
    fn find_from(&self, from: usize, marker: &str) -> Option<usize> {
        let marker = format!("LASTGASP-LAB: {marker}");
        self.seen[from..]
            .windows(marker.len())
            .position(|window| window == marker.as_bytes())
            .map(|at| from + at + marker.len())
    }

    /// Whether the guest said `marker` in the part of the boot being watched.
    fn said(&self, marker: &str) -> bool {
        self.find_from(self.from, marker).is_some()
    }

    /// The lab's own lines, for error messages.
    fn lab_lines(&self) -> String {
        String::from_utf8_lossy(&self.seen)
            .lines()
            .filter(|line| line.contains("LASTGASP-LAB:") || line.contains("lastgasp"))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// When things happened in one boot, from QEMU's start.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timeline {
    /// The guest's first word from `/init`: the boot's cost.
    pub booted: Option<Duration>,
    pub ready: Option<Duration>,
    pub save_started: Option<Duration>,
    pub save_done: Option<Duration>,
    /// When a chain boot's finishing part had handed its results over.
    pub finished: Option<Duration>,
    /// When the host cut the power, if it did.
    pub cut: Option<Duration>,
}

impl Timeline {
    /// Where the save was when the power went.
    pub fn moment(&self) -> &'static str {
        match (self.save_started, self.save_done) {
            (_, Some(_)) => "after save",
            (Some(_), None) => "during save",
            (None, None) => "before save",
        }
    }
}

fn stop(child: &mut Child) {
    child.kill().ok();
    child.wait().ok();
}

/// Boots once in `mode`. In [`Mode::Cut`], the power is cut `cut_after` after the guest says
/// "ready"; the other modes run until the guest powers off. A boot that never reaches `/init`
/// is retried once (see [`BootStalled`]).
pub fn boot(
    guest: &Guest,
    run: &RunDir,
    disks: &Disks,
    mode: Mode,
    cut_after: Option<Duration>,
    limit: Duration,
) -> Result<Timeline> {
    qemu::boot_retrying_a_stall(&run.dir.display().to_string(), || {
        boot_once(guest, run, disks, mode, cut_after, limit)
    })
}

fn boot_once(
    guest: &Guest,
    run: &RunDir,
    disks: &Disks,
    mode: Mode,
    cut_after: Option<Duration>,
    limit: Duration,
) -> Result<Timeline> {
    if run.serial.exists() {
        std::fs::remove_file(&run.serial)?;
    }
    let mut child = qemu::spawn(&mut command(guest, run, disks, mode), Arch::X86_64.qemu())?;
    let started = Instant::now();
    let mut console = Console {
        path: run.serial.clone(),
        seen: Vec::new(),
        from: 0,
    };
    let mut timeline = Timeline::default();
    loop {
        console.refresh()?;
        let now = started.elapsed();
        if timeline.booted.is_none() && console.said("") {
            timeline.booted = Some(now);
        }
        // A chain boot's finishing part saves too: its markers are passed over, and the cut's
        // are looked for after "finished".
        let cutting = match mode {
            Mode::Chain if timeline.finished.is_none() => match console.find_from(0, "finished") {
                Some(end) => {
                    console.from = end;
                    timeline.finished = Some(now);
                    true
                }
                None => false,
            },
            _ => true,
        };
        if cutting {
            let mark = |slot: &mut Option<Duration>, marker: &str| {
                if slot.is_none() && console.said(marker) {
                    *slot = Some(now);
                }
            };
            mark(&mut timeline.ready, "ready");
            mark(&mut timeline.save_started, "save starting");
            mark(&mut timeline.save_done, "save done");
        }
        if let (Some(ready), Some(after)) = (timeline.ready, cut_after)
            && now >= ready + after
        {
            stop(&mut child);
            timeline.cut = Some(now);
            return Ok(timeline);
        }
        if ["insmod", "rmmod", "cannot mount"]
            .iter()
            .any(|marker| console.find_from(0, marker).is_some())
        {
            stop(&mut child);
            bail!("the guest could not set up: {}", console.lab_lines());
        }
        if qemu::exited(&mut child)? {
            if cut_after.is_some() {
                bail!(
                    "the guest powered off before its power was cut: {}",
                    console.lab_lines()
                );
            }
            return Ok(timeline);
        }
        if timeline.booted.is_none() && now > qemu::FIRST_WORDS_LIMIT {
            stop(&mut child);
            return Err(BootStalled.into());
        }
        if now > limit {
            stop(&mut child);
            bail!(
                "guest still running after {}s (serial log: {})",
                limit.as_secs(),
                run.serial.display()
            );
        }
        std::thread::sleep(if timeline.ready.is_some() {
            POLL
        } else {
            Duration::from_millis(50)
        });
    }
}
