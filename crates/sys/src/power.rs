//! Ending the capture kernel: `reboot(2)`, and the magic SysRq path for when the syscall is
//! refused (a seccomp filter, a missing capability) but /proc is writable.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::thread;
use std::time::Duration;

use rustix::system::RebootCommand;

use crate::Error;

/// `reboot(LINUX_REBOOT_CMD_RESTART)` (RB_AUTOBOOT): restarts at once, without syncing. Call
/// [`crate::sync`] first. It returns only on failure.
pub fn reboot() -> Result<(), Error> {
    rustix::system::reboot(RebootCommand::Restart).map_err(|errno| Error::syscall("reboot", errno))
}

/// SysRq 's' (emergency sync), 'u' (remount everything read-only), 'b' (reboot) through
/// `<root>/proc/sysrq-trigger`, which works whatever `kernel.sysrq` allows. The first two run
/// asynchronously in the kernel, so `pause` is left between the keys for them to finish.
/// Returns only on failure (or, under a fake root, after writing the three keys).
pub fn sysrq_reboot(root: &Path, pause: Duration) -> Result<(), Error> {
    let path = root.join("proc/sysrq-trigger");
    // Never create it: under a real root a missing file means no SysRq support.
    let mut trigger = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| Error::file(&path, e))?;
    for key in [b's', b'u', b'b'] {
        trigger
            .write_all(&[key])
            .map_err(|e| Error::file(&path, e))?;
        if key != b'b' {
            thread::sleep(pause);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysrq_writes_sync_unmount_reboot_in_that_order() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("proc")).unwrap();
        std::fs::write(root.path().join("proc/sysrq-trigger"), "").unwrap();
        sysrq_reboot(root.path(), Duration::ZERO).unwrap();
        let written = std::fs::read_to_string(root.path().join("proc/sysrq-trigger")).unwrap();
        assert_eq!(written, "sub");
    }

    #[test]
    fn sysrq_without_the_trigger_file_names_it() {
        let root = tempfile::tempdir().unwrap();
        let error = sysrq_reboot(root.path(), Duration::ZERO).unwrap_err();
        assert_eq!(error.errno(), Some(libc::ENOENT));
        assert!(
            error.to_string().contains("proc/sysrq-trigger: "),
            "{error}"
        );
        assert!(!root.path().join("proc/sysrq-trigger").exists());
    }
}
