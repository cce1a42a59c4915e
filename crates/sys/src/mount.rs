//! Mounting and syncing: what the capture initramfs needs to reach the disk it writes to and
//! to leave it consistent before rebooting.

use std::os::fd::AsFd;
use std::path::Path;

pub use rustix::mount::{MountFlags, UnmountFlags};

use crate::Error;

/// `mount(2)`: mounts `source` (a device, or a name such as "pstore" for a virtual filesystem)
/// of type `fstype` on `target`, with filesystem options `data` ("errors=remount-ro", ...).
pub fn mount(
    source: &str,
    target: &Path,
    fstype: &str,
    flags: MountFlags,
    data: Option<&str>,
) -> Result<(), Error> {
    let data = data
        .map(|d| {
            std::ffi::CString::new(d).map_err(|_| Error::NulByte {
                call: "mount",
                argument: "option string",
            })
        })
        .transpose()?;
    rustix::mount::mount(source, target, fstype, flags, data.as_deref())
        .map_err(|errno| Error::syscall("mount", errno))
}

/// `umount2(2)`.
pub fn umount(target: &Path, flags: UnmountFlags) -> Result<(), Error> {
    rustix::mount::unmount(target, flags).map_err(|errno| Error::syscall("umount2", errno))
}

/// `sync(2)`: flushes every filesystem. It cannot fail.
pub fn sync() {
    rustix::fs::sync();
}

/// `syncfs(2)`: flushes the filesystem holding `file`, and reports write-back errors that
/// `sync` would swallow.
pub fn syncfs(file: impl AsFd) -> Result<(), Error> {
    rustix::fs::syncfs(file).map_err(|errno| Error::syscall("syncfs", errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncfs_flushes_a_real_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("f")).unwrap();
        syncfs(&file).unwrap();
        sync();
    }

    #[test]
    fn mounting_on_a_missing_directory_reports_the_errno() {
        let dir = tempfile::tempdir().unwrap();
        let error = mount(
            "none",
            &dir.path().join("missing"),
            "tmpfs",
            MountFlags::empty(),
            None,
        )
        .unwrap_err();
        // ENOENT with CAP_SYS_ADMIN; EPERM in a container or as a user.
        let errno = error.errno().unwrap();
        assert!([libc::ENOENT, libc::EPERM].contains(&errno), "{error}");
        assert!(error.to_string().starts_with("mount: "), "{error}");
    }

    #[test]
    fn a_nul_in_the_options_is_refused() {
        let error = mount(
            "none",
            Path::new("/nonexistent"),
            "tmpfs",
            MountFlags::empty(),
            Some("size=1\0M"),
        )
        .unwrap_err();
        assert!(matches!(error, Error::NulByte { .. }), "{error}");
    }

    #[test]
    fn unmounting_what_is_not_mounted_fails_with_einval_or_eperm() {
        let dir = tempfile::tempdir().unwrap();
        let error = umount(dir.path(), UnmountFlags::empty()).unwrap_err();
        let errno = error.errno().unwrap();
        assert!([libc::EINVAL, libc::EPERM].contains(&errno), "{error}");
        assert!(error.to_string().starts_with("umount2: "), "{error}");
    }
}

/// Flushes `file`'s data to disk and drops its pages from the page cache. A capture kernel has a
/// few tens of MiB: a dump's written pages, dirty or clean, must not pile up there.
pub fn write_back_and_drop(file: impl AsFd) -> Result<(), Error> {
    let file = file.as_fd();
    rustix::fs::fdatasync(file).map_err(|errno| Error::syscall("fdatasync", errno))?;
    rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed)
        .map_err(|errno| Error::syscall("posix_fadvise", errno))
}

#[cfg(test)]
mod write_back_tests {
    use super::*;

    #[test]
    fn written_data_stays_readable_after_the_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump");
        std::fs::write(&path, vec![0x5a; 1 << 20]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        write_back_and_drop(&file).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), vec![0x5a; 1 << 20]);
    }
}
