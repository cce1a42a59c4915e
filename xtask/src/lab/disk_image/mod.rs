//! The disk-image lab: real Debian bookworm systems, built with debootstrap and booted from disk
//! under QEMU (TCG) through their own bootloader: GRUB under SeaBIOS, and systemd-boot under
//! OVMF. A guest installs the project's .deb, runs `lastgasp setup`, reboots, checks what is
//! armed and selftests, crashes, and at the next boot checks the report lastgasp-save.service
//! made, then removes the package and checks nothing but the reports is left. The guest is
//! driven without a shell: a unit baked into the image runs each boot's step script from a
//! control disk the host makes per run (lab/disk-image).

mod base;
mod build;
mod checks;
mod loopdev;
mod recipe;
mod run;

pub use build::ensure as ensure_image;

use anyhow::{Context, Result};
use lastgasp::arming_state::{Backend, Bootloader};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The most one disk-image run may take: four boots from disk under TCG, a package install,
/// GRUB or initramfs rebuilds and a crash, on a busy 2-core host.
pub const TIME_LIMIT: Duration = Duration::from_secs(2400);

/// The two disk images, one per boot set-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Image {
    /// MBR, ext4 root, GRUB (grub-pc), SeaBIOS.
    GrubBios,
    /// GPT, an ESP and an ext4 root, systemd-boot with kernel-install's entries, OVMF.
    SystemdBootOvmf,
}

impl Image {
    pub const ALL: [Image; 2] = [Image::GrubBios, Image::SystemdBootOvmf];

    pub fn name(self) -> &'static str {
        match self {
            Image::GrubBios => "grub-bios",
            Image::SystemdBootOvmf => "systemd-boot-ovmf",
        }
    }

    /// The lab scenario's name: `disk-grub-bios`, `disk-systemd-boot-ovmf`.
    pub fn scenario(self) -> String {
        format!("disk-{}", self.name())
    }

    /// Whether it boots through UEFI firmware (OVMF).
    pub fn uefi(self) -> bool {
        self.esp_partition().is_some()
    }
}

/// How a scenario arms its image, and what the host checks came of it.
pub struct Arming {
    /// The arguments of boot 1's `lastgasp setup` (a shell word list).
    pub setup_args: &'static str,
    /// The backend setup.json must name.
    pub backend: Backend,
    /// The boot set-up setup.json must name.
    pub bootloader: Bootloader,
    /// Whether boot 1 runs `kernel-install add` for the running kernel after setup, as a kernel
    /// upgrade does: the loader entry boot 2 starts from is then kernel-install's, made from the
    /// /etc/kernel/cmdline setup edited, and `dpkg -r` must take setup's parameters out of it.
    pub kernel_install: bool,
}

impl Image {
    /// The GRUB image is armed as a user would arm it, with setup choosing everything: ramoops
    /// through `memmap=` and update-grub. The UEFI image names ramoops: left to itself setup
    /// takes efi-pstore there, which needs no kernel parameter, and systemd-boot's command line
    /// (/etc/kernel/cmdline, kernel-install's entry) would go unproven. efi-pstore is proven by
    /// the lab's `efi` and `selftest-efi` scenarios.
    pub fn arming(self) -> Arming {
        match self {
            Image::GrubBios => Arming {
                setup_args: "",
                backend: Backend::Ramoops,
                bootloader: Bootloader::Grub,
                kernel_install: false,
            },
            Image::SystemdBootOvmf => Arming {
                setup_args: "--backend ramoops",
                backend: Backend::Ramoops,
                bootloader: Bootloader::SystemdBoot,
                kernel_install: true,
            },
        }
    }
}

/// The Debian package the guests install, made from the lab's static binary by the same step
/// as `cargo xtask dist` (once per lab run; each run copies it onto its control disk).
fn package(workspace: &Path, lastgasp: &Path) -> Result<PathBuf> {
    crate::dist::deb_package(workspace, lastgasp)
        .context("building the Debian package the disk images install (cargo xtask dist)")
}

/// Runs one disk-image scenario under `cache/runs/<scenario>` and checks it; returns a summary
/// with the run's time and when each boot's step began.
pub fn run(
    workspace: &Path,
    cache: &Path,
    lastgasp: &Path,
    image: Image,
    limit: Duration,
) -> Result<String> {
    let raw = build::ensure(image)?;
    let deb = package(workspace, lastgasp)?;
    let dir = cache.join("runs").join(image.scenario());
    let arming = image.arming();
    let payload = run::Payload {
        scripts: &workspace.join("lab/disk-image"),
        deb: &deb,
        arming: &arming,
    };
    let finished = run::run(image, &raw, &payload, &dir, limit)?;
    let serial = String::from_utf8_lossy(
        &std::fs::read(&finished.serial)
            .with_context(|| format!("reading {}", finished.serial.display()))?,
    )
    .into_owned();
    let boots = checks::load(&finished.out)?;
    let checked = checks::verify(&boots, &serial, &arming);
    let where_ = || {
        format!(
            "serial log {}, records in {}",
            finished.serial.display(),
            finished.out.display()
        )
    };
    // A guest that hung or timed out still wrote what it did: the checks say which step failed.
    if let Some(stopped) = &finished.stopped {
        return Err(match checked {
            Err(err) => err.context(format!("{stopped}; {}", where_())),
            Ok(_) => anyhow::anyhow!("{stopped} after every check passed; {}", where_()),
        });
    }
    let summary = checked.with_context(where_)?;
    Ok(format!(
        "{summary}; {}s, steps began at {:?}s",
        finished.seconds, finished.boot_starts
    ))
}
