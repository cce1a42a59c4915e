//! The host side of building a disk image: a raw file attached as a loop device with its
//! partitions, and the mounts of its file systems, both undone when dropped (also when a build
//! step fails), so a failed build leaves neither a mount nor an attached loop device behind.

use crate::shell;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A raw disk image attached to a free loop device, with partition scanning.
pub struct LoopDevice {
    pub device: PathBuf,
}

impl LoopDevice {
    pub fn attach(image: &Path) -> Result<Self> {
        let out = shell::stdout(
            Command::new("losetup")
                .args(["--find", "--show", "--partscan"])
                .arg(image),
        )?;
        Ok(LoopDevice {
            device: PathBuf::from(out.trim()),
        })
    }

    /// The node of partition `number`. The kernel's partition scan may not have created it yet
    /// (there is no udev on a build host in a container): `partx --add` asks again.
    pub fn partition(&self, number: u32) -> Result<PathBuf> {
        let node = PathBuf::from(format!("{}p{number}", self.device.display()));
        for _ in 0..20 {
            if node.exists() {
                return Ok(node);
            }
            // Fails when the partition is there already but its node is still being made.
            shell::run(Command::new("partx").arg("--add").arg(&self.device)).ok();
            std::thread::sleep(Duration::from_millis(250));
        }
        bail!(
            "{} never appeared after attaching {}",
            node.display(),
            self.device.display()
        )
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        if let Err(err) = shell::run(Command::new("losetup").arg("--detach").arg(&self.device)) {
            eprintln!("lab: could not detach {}: {err:#}", self.device.display());
        }
    }
}

/// Mounts made for a build, unmounted in reverse order when dropped.
#[derive(Default)]
pub struct Mounts {
    points: Vec<PathBuf>,
}

impl Mounts {
    /// Mounts `source` (a device, or a directory with `--bind`) on `target`, creating it.
    pub fn mount(&mut self, args: &[&str], source: &Path, target: &Path) -> Result<()> {
        std::fs::create_dir_all(target)
            .with_context(|| format!("creating mount point {}", target.display()))?;
        shell::run(Command::new("mount").args(args).arg(source).arg(target))?;
        self.points.push(target.to_path_buf());
        Ok(())
    }

    /// Unmounts everything, newest first; the first failure is returned after trying them all.
    pub fn unmount_all(&mut self) -> Result<()> {
        let mut first_error = None;
        while let Some(point) = self.points.pop() {
            if let Err(err) = shell::run(Command::new("umount").arg(&point)) {
                // Something still holds it (a daemon a package started in the chroot): detach it
                // lazily so the loop device can go, and report the trouble.
                shell::run(Command::new("umount").arg("--lazy").arg(&point)).ok();
                first_error.get_or_insert(err);
            }
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        if let Err(err) = self.unmount_all() {
            eprintln!("lab: unmounting after a build: {err:#}");
        }
    }
}
