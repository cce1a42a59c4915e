//! What goes into a capture initramfs, decided before anything is written: the target
//! filesystem (configured, given, or the one holding the capture directory), where the
//! capture directory lies inside it, and the modules that reach it, in load order.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use fsprobe::Spec;
use initramfs::{KernelTree, Resolved};
use serde::Serialize;

use super::device_modules;
use super::mountinfo;

/// The filesystem captures are written to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Target {
    /// How the image names it: always UUID=... when the filesystem has a UUID, so it is found
    /// whatever the device is called in the capture kernel.
    pub spec: String,
    pub device: PathBuf,
    pub fstype: String,
    /// The capture directory, from the top of the target filesystem.
    pub dir_inside: PathBuf,
}

/// A module that something asked for, with why.
struct Wanted {
    name: String,
    reason: String,
}

/// The modules for one image.
#[derive(Debug, Clone, Default)]
pub struct ModuleChoice {
    /// Loadable modules, dependencies first.
    pub load: Vec<String>,
    pub builtin: Vec<String>,
    /// Names the running system uses that this kernel does not have (a different release):
    /// reported, not fatal.
    pub unknown: Vec<String>,
}

/// Finds the target: `given` (the command line or `[kdump] target`), else the filesystem
/// that holds `dir`. `dir` is a path as the running system sees it.
pub fn target(root: &Path, given: Option<&str>, dir: &Path) -> Result<(Target, fsprobe::Device)> {
    let mounts_path = root.join("proc/self/mountinfo");
    let mounts = mountinfo::parse(
        &std::fs::read_to_string(&mounts_path)
            .with_context(|| format!("reading {}", mounts_path.display()))?,
    );
    let holding = mountinfo::holding(&mounts, dir);
    let spec = match given {
        Some(text) => Spec::parse(text)?,
        None => {
            let Some(mount) = holding.filter(|m| m.source.starts_with("/dev/")) else {
                bail!(
                    "no block device holds {} (it is on {}): set [kdump] target or --target",
                    dir.display(),
                    holding.map_or("nothing mounted".to_string(), |m| m.fstype.clone())
                );
            };
            Spec::Path(PathBuf::from(&mount.source))
        }
    };
    let device = fsprobe::find(root, &spec)?;
    // Device-mapper (LVM, LUKS), md RAID and loop devices need userspace to assemble, which
    // the minimal image does not have.
    if device.sysfs.starts_with(root.join("sys/devices/virtual")) {
        bail!(
            "{spec} is on {}, a virtual block device (device-mapper, md or loop) that lastgasp's \
             minimal capture initramfs cannot assemble: choose a plain partition as [kdump] \
             target, or capture from the distribution's initramfs (dist/dracut, dist/mkinitcpio)",
            device.node.display()
        );
    }
    let Some(filesystem) = device.filesystem.clone() else {
        bail!(
            "{} ({}) holds no filesystem lastgasp recognises (ext2/3/4, xfs, btrfs, vfat){}",
            spec,
            device.node.display(),
            device
                .unreadable
                .as_deref()
                .map(|why| format!(": {why}"))
                .unwrap_or_default()
        );
    };
    // Where the running system has this filesystem mounted, if at all, decides where the
    // directory lies inside it; a target not mounted takes `dir` as a path inside it.
    let device_number = std::fs::read_to_string(device.sysfs.join("dev"))
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    let same_device = |m: &&mountinfo::Mount| {
        m.device == device_number || Path::new(&m.source).file_name() == Some(device.name.as_ref())
    };
    let dir_inside = match holding.filter(same_device) {
        Some(mount) => mountinfo::inside(mount, dir),
        None => match mounts.iter().find(same_device) {
            Some(elsewhere) => bail!(
                "{} is not on {spec}, which is mounted at {}",
                dir.display(),
                elsewhere.mount_point.display()
            ),
            None => dir.to_path_buf(),
        },
    };
    let spec = match &filesystem.uuid {
        Some(uuid) => format!("UUID={uuid}"),
        None => spec.to_string(),
    };
    Ok((
        Target {
            spec,
            device: device.node.clone(),
            fstype: filesystem.kind.to_string(),
            dir_inside,
        },
        device,
    ))
}

/// The modules for the target's device chain and filesystem type.
pub fn modules(
    root: &Path,
    tree: &KernelTree,
    device: &fsprobe::Device,
    fstype: &str,
) -> ModuleChoice {
    let index = &tree.index;
    let mut wanted: Vec<Wanted> = Vec::new();
    let mut want = |name: &str, reason: String| {
        let name = initramfs::modules::normalize(name);
        if !wanted.iter().any(|w| w.name == name) {
            wanted.push(Wanted { name, reason });
        }
    };
    let chain = device_modules::wanted(root, &device.sysfs);
    for alias in &chain.modaliases {
        for name in index.modules_for_alias(alias) {
            want(&name, format!("device {alias}"));
        }
    }
    for name in &chain.drivers {
        want(name, "driver in use".to_string());
    }
    // ext2 and ext3 are served by the ext4 module on current kernels, found by its alias.
    let fs_modules = if index.resolve(fstype).is_ok() {
        vec![fstype.to_string()]
    } else {
        index.modules_for_alias(&format!("fs-{fstype}"))
    };
    for name in fs_modules {
        want(&name, format!("filesystem {fstype}"));
    }
    if fstype == "vfat" {
        // vfat's default code page and character set are modules of their own.
        for name in ["nls_cp437", &format!("nls_{}", fat_iocharset(tree))] {
            want(name, "vfat character sets".to_string());
        }
    }
    let mut choice = ModuleChoice::default();
    for w in &wanted {
        match index.resolve(&w.name) {
            Ok(Resolved::Builtin) => choice.builtin.push(w.name.clone()),
            Ok(Resolved::Load(order)) => {
                tracing::debug!(module = %w.name, reason = %w.reason, ?order, "needed");
                for name in order {
                    if !choice.load.contains(&name) {
                        choice.load.push(name);
                    }
                }
            }
            Err(_) => {
                tracing::warn!(module = %w.name, reason = %w.reason, release = %tree.release, "not in this kernel");
                choice.unknown.push(w.name.clone());
            }
        }
    }
    choice
}

fn fat_iocharset(tree: &KernelTree) -> String {
    tree.config
        .as_deref()
        .and_then(|config| {
            config.lines().find_map(|line| {
                line.strip_prefix("CONFIG_FAT_DEFAULT_IOCHARSET=")
                    .map(|v| v.trim_matches('"').replace('-', "_"))
            })
        })
        .unwrap_or_else(|| "iso8859_1".to_string())
}
