//! Where a capture is written: `--out DIR` as given; else, when `[kdump] target` names a
//! filesystem, that filesystem found by UUID, LABEL or device among the block devices and
//! mounted for the capture, with `[kdump] dir` taken from its root; else `[kdump] dir` as it is
//! (a capture initramfs built for a system whose root is already mounted, such as dracut's).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

use crate::config_kdump::KdumpConfig;

/// Where the capture kernel mounts the target filesystem.
const MOUNT_POINT: &str = "/run/lastgasp/target";

/// The directory to write captures into, and the mount to undo when done.
pub struct Target {
    pub dir: PathBuf,
    mounted: Option<PathBuf>,
}

impl Target {
    pub fn directory(dir: PathBuf) -> Self {
        Self { dir, mounted: None }
    }

    /// Finds and mounts the configured target filesystem (devices looked up under `sys_root`,
    /// the mount point under `run_root`: both `/` in a capture kernel).
    pub fn mount(kdump: &KdumpConfig, spec_text: &str, sys_root: &Path) -> Result<Self> {
        let spec = fsprobe::Spec::parse(spec_text)
            .map_err(|e| anyhow!("[kdump] target {spec_text:?}: {}", e.0))?;
        let device = fsprobe::find(sys_root, &spec).map_err(|e| anyhow!("{e}"))?;
        let kind = device
            .filesystem
            .as_ref()
            .map(|fs| fs.kind)
            .ok_or_else(|| {
                anyhow!(
                    "{} holds no filesystem lastgasp knows",
                    device.node.display()
                )
            })?;
        let mount_point = Path::new(MOUNT_POINT);
        fs::create_dir_all(mount_point)
            .with_context(|| format!("cannot create {}", mount_point.display()))?;
        let node = device.node.to_string_lossy();
        // `dir` is a path from the filesystem's top, which on Btrfs is subvolume 5, not the
        // default subvolume a plain mount would give.
        let options = (kind == "btrfs").then_some("subvolid=5");
        sys::mount(&node, mount_point, kind, sys::MountFlags::empty(), options).map_err(|e| {
            anyhow!(
                "cannot mount {node} ({kind}, {spec_text}) on {}: {e}",
                mount_point.display()
            )
        })?;
        tracing::info!("mounted {node} ({kind}) on {}", mount_point.display());
        Ok(Self {
            dir: dir_on_target(mount_point, &kdump.dir),
            mounted: Some(mount_point.to_path_buf()),
        })
    }

    /// Flushes what was written and unmounts; the flush matters more than the unmount, and a
    /// reboot follows either way.
    pub fn release(self) -> Result<()> {
        sys::sync();
        if let Some(mount_point) = &self.mounted {
            sys::umount(mount_point, sys::UnmountFlags::empty())
                .map_err(|e| anyhow!("cannot unmount {}: {e}", mount_point.display()))?;
        }
        Ok(())
    }
}

/// `dir` (an absolute path as the running system sees it) below the target's mount point.
fn dir_on_target(mount_point: &Path, dir: &Path) -> PathBuf {
    mount_point.join(dir.strip_prefix("/").unwrap_or(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_is_taken_from_the_target_root() {
        assert_eq!(
            dir_on_target(Path::new("/run/lastgasp/target"), Path::new("/var/crash")),
            Path::new("/run/lastgasp/target/var/crash")
        );
    }
}
