//! What goes into each of the lab's disk images, as data: the partition table, the packages, the
//! bootloader's configuration and the files baked in. The whole recipe is also the cache key
//! (its hash names the cached image), so changing any of it builds the image afresh.

use super::Image;
use crate::lab::qemu::GUEST_PARAMETERS;

/// Bumped when the build steps in build.rs change in a way the data below does not show.
const BUILD_REVISION: u32 = 1;

/// The raw image's size: the system takes about 1.2 GB; the rest is room for the package, the
/// reports and the initramfs rebuilds a scenario causes.
pub const IMAGE_BYTES: u64 = 3 << 30;

/// Debian release of the images.
pub const SUITE: &str = "bookworm";

/// Packages debootstrap puts in the base system (on top of minbase): a systemd system with udev
/// and module loading, and sysctl (procps) for the scenario's checks.
pub const BASE_PACKAGES: &[&str] = &["systemd-sysv", "udev", "kmod", "procps"];

/// What decides the base system both images start from (base.rs): its cache key. Every line
/// of it is in each image's recipe too, so a new base makes new images.
pub fn base_recipe() -> String {
    format!(
        "revision {BUILD_REVISION}\nsuite {SUITE}\nvariant minbase, merged /usr\nbase {}\n",
        BASE_PACKAGES.join(",")
    )
}

/// The kernel command line the images boot with before lastgasp touches it: the serial console
/// the lab reads, and the parameters every lab guest gets under TCG.
pub fn base_cmdline() -> String {
    format!("console=ttyS0 {GUEST_PARAMETERS}")
}

/// The baked-in unit that runs each boot's step from the control disk, and its script.
pub const STEP_UNIT: &str = include_str!("../../../../lab/disk-image/lastgasp-lab-step.service");
pub const STEP_SCRIPT: &str = include_str!("../../../../lab/disk-image/lastgasp-lab-step");

impl Image {
    /// The sfdisk script of the image's partition table.
    pub fn partition_table(self) -> &'static str {
        match self {
            // One bootable Linux partition; GRUB's core image goes in the gap before it.
            Image::GrubBios => "label: dos\nstart=2048, type=83, bootable\n",
            // The EFI system partition, then the root.
            Image::SystemdBootOvmf => {
                "label: gpt\nstart=2048, size=256MiB, type=U, name=esp\ntype=L, name=root\n"
            }
        }
    }

    /// The root file system's partition number.
    pub fn root_partition(self) -> u32 {
        match self {
            Image::GrubBios => 1,
            Image::SystemdBootOvmf => 2,
        }
    }

    /// The EFI system partition's number, on UEFI images.
    pub fn esp_partition(self) -> Option<u32> {
        match self {
            Image::GrubBios => None,
            Image::SystemdBootOvmf => Some(1),
        }
    }

    /// Packages installed in the chroot before the kernel: the bootloader's, so that the
    /// kernel's installation hooks find it set up.
    pub fn bootloader_packages(self) -> &'static [&'static str] {
        match self {
            Image::GrubBios => &["grub-pc"],
            Image::SystemdBootOvmf => &["systemd-boot"],
        }
    }

    /// /etc/default/grub of the GRUB image: no menu wait, everything on the serial port.
    pub fn grub_defaults(self) -> Option<String> {
        (self == Image::GrubBios).then(|| {
            format!(
                "GRUB_DEFAULT=0\n\
                 GRUB_TIMEOUT=0\n\
                 GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n\
                 GRUB_CMDLINE_LINUX_DEFAULT=\"\"\n\
                 GRUB_CMDLINE_LINUX=\"{}\"\n\
                 GRUB_TERMINAL=serial\n\
                 GRUB_SERIAL_COMMAND=\"serial --unit=0 --speed=115200\"\n",
                base_cmdline()
            )
        })
    }

    /// systemd-boot's loader.conf: boot the newest entry at once.
    pub fn loader_conf(self) -> Option<&'static str> {
        (self == Image::SystemdBootOvmf).then_some("timeout 0\neditor no\n")
    }

    /// Everything that decides the image's contents, as text: hashed for the cache key and
    /// kept beside the image.
    pub fn recipe(self) -> String {
        format!(
            "revision {BUILD_REVISION}\nimage {}\nsuite {SUITE}\nbytes {IMAGE_BYTES}\n\
             partitions\n{}base {}\nbootloader {}\ncmdline {}\ngrub\n{}\nloader\n{}\n\
             unit\n{STEP_UNIT}\nscript\n{STEP_SCRIPT}",
            self.name(),
            self.partition_table(),
            BASE_PACKAGES.join(","),
            self.bootloader_packages().join(","),
            base_cmdline(),
            self.grub_defaults().unwrap_or_default(),
            self.loader_conf().unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recipes_differ_and_name_their_bootloader() {
        let grub = Image::GrubBios.recipe();
        let boot = Image::SystemdBootOvmf.recipe();
        assert_ne!(grub, boot);
        assert!(
            grub.contains("grub-pc") && grub.contains("label: dos"),
            "{grub}"
        );
        assert!(
            boot.contains("systemd-boot") && boot.contains("label: gpt"),
            "{boot}"
        );
        assert!(
            grub.contains("GRUB_CMDLINE_LINUX=\"console=ttyS0 "),
            "{grub}"
        );
    }
}
