//! lastgasp as /init of its own capture initramfs (PID 1 in the capture kernel): mount /proc,
//! /sys and /dev, load the image's modules in order, wait for the capture target's device, run
//! the capture, and whatever happens sync and reboot. It never returns: PID 1 exiting panics the kernel, and
//! a panic here would do the same, so every step's failure is logged to the kernel log and the
//! machine reboots into the real system, which collects what was saved.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sys::{ModuleInitFlags, MountFlags};

use super::layout;
use crate::config::Config;

/// How long the target's device may take to appear after its driver loads (disks probe
/// asynchronously; USB and SCSI can take seconds).
const DEVICE_WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
/// Set once the log goes to /dev/kmsg: from then on the console shows it already, and the
/// last words need not be printed twice.
static LOGGING: AtomicBool = AtomicBool::new(false);
/// The errno values told apart here (the same on every Linux architecture).
const EBUSY: i32 = 16;
const EEXIST: i32 = 17;

/// Whether this process is the initramfs' init: PID 1, or started as /init.
pub fn wanted() -> bool {
    std::process::id() == 1
        || std::env::args_os()
            .next()
            .is_some_and(|arg0| arg0 == "/init")
}

pub fn run() -> ! {
    // The dist build aborts on panic, and PID 1 exiting panics the capture kernel: the hook
    // reboots first, so a bug here costs the dump, never the machine's next boot.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("lastgasp: /init panicked: {info}; rebooting");
        reboot_or_wait();
    }));
    match steps() {
        Ok(()) => tracing::info!("capture done, rebooting"),
        Err(error) if LOGGING.load(Ordering::Relaxed) => {
            tracing::error!("{error:#}; rebooting");
        }
        // Before /dev exists: the console the kernel gave us is the only way to say it.
        Err(error) => eprintln!("lastgasp: {error:#}; rebooting"),
    }
    reboot_or_wait()
}

fn reboot_or_wait() -> ! {
    sys::sync();
    if let Err(error) = sys::reboot() {
        eprintln!("lastgasp: reboot: {error}; trying SysRq");
        let _ = sys::sysrq_reboot(Path::new("/"), Duration::from_secs(1));
    }
    // Only reached if both ways to reboot failed: stay alive, since exiting panics the kernel.
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn steps() -> Result<()> {
    mount_kernel_filesystems()?;
    crate::logging::init_kmsg();
    LOGGING.store(true, Ordering::Relaxed);
    tracing::info!("lastgasp /init in the capture kernel");
    load_modules(Path::new("/").join(layout::MODULE_LIST).as_path());
    let config = Config::load(Path::new("/"), None)?;
    if let Some(target) = &config.kdump.target {
        wait_for_target(target)?;
    }
    if !Path::new("/proc/vmcore").exists() {
        bail!("no /proc/vmcore: this kernel did not start after a crash, nothing to capture");
    }
    capture(&config)
}

fn capture(config: &Config) -> Result<()> {
    // [kdump] target is present now; the capture mounts it and writes under [kdump] dir from
    // the target's top, which is how `lastgasp initramfs` wrote the image's configuration.
    crate::commands::capture::run_in_initramfs(config)
}

fn mount_kernel_filesystems() -> Result<()> {
    for (source, target, fstype) in [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("devtmpfs", "/dev", "devtmpfs"),
    ] {
        std::fs::create_dir_all(target).ok();
        match sys::mount(source, Path::new(target), fstype, MountFlags::empty(), None) {
            Ok(()) => {}
            // The kernel mounts devtmpfs itself with CONFIG_DEVTMPFS_MOUNT.
            Err(e) if e.errno() == Some(EBUSY) => {}
            Err(e) => return Err(e).with_context(|| format!("mounting {target}")),
        }
    }
    Ok(())
}

/// Loads every module the image lists; one that fails is logged and the rest still load (the
/// target may be reachable without it, and the capture says so if not).
fn load_modules(list: &Path) {
    let text = match std::fs::read_to_string(list) {
        Ok(text) => text,
        Err(error) => {
            tracing::warn!("reading {}: {error}", list.display());
            return;
        }
    };
    for path in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match load_module(path) {
            Ok(()) => tracing::info!(module = path, "loaded"),
            Err(error) => tracing::warn!(module = path, "{error:#}"),
        }
    }
}

fn load_module(path: &str) -> Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
    let flags = if initramfs::Compression::of_path(path) == initramfs::Compression::None {
        ModuleInitFlags::empty()
    } else {
        ModuleInitFlags::COMPRESSED_FILE
    };
    match sys::finit_module(&file, "", flags) {
        Ok(()) => Ok(()),
        Err(e) if e.errno() == Some(EEXIST) => Ok(()),
        Err(e) => Err(e).context("finit_module"),
    }
}

/// Waits until the target's device shows up: disk drivers probe asynchronously, so the device
/// can appear well after its module loaded.
fn wait_for_target(target: &str) -> Result<()> {
    let spec = fsprobe::Spec::parse(target)?;
    let started = Instant::now();
    loop {
        match fsprobe::find(Path::new("/"), &spec) {
            Ok(device) => {
                tracing::info!(
                    device = %device.node.display(),
                    fstype = device.filesystem.as_ref().map_or("unknown", |fs| fs.kind),
                    waited_ms = started.elapsed().as_millis() as u64,
                    "capture target present"
                );
                return Ok(());
            }
            Err(error) if started.elapsed() >= DEVICE_WAIT => {
                return Err(error).context(format!(
                    "waited {} s for the capture target",
                    DEVICE_WAIT.as_secs()
                ));
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}
