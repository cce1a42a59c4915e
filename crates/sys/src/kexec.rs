//! `kexec_file_load(2)`: hand the kernel an image, initramfs and command line to boot later, on
//! a panic (the kdump capture kernel) or on `reboot(LINUX_REBOOT_CMD_KEXEC)`. Neither the C
//! library nor rustix wraps it, so this module holds the crate's one raw syscall.

use std::ffi::CString;
use std::ops::BitOr;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::Error;

/// The `KEXEC_FILE_*` flags of `include/uapi/linux/kexec.h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KexecFlags(u64);

impl KexecFlags {
    /// Unload the loaded image (with `ON_CRASH`: the crash image) instead of loading one.
    pub const UNLOAD: Self = Self(0x1);
    /// Load into the `crashkernel=` reservation, to be started by a panic.
    pub const ON_CRASH: Self = Self(0x2);
    /// No initramfs; the initrd descriptor is ignored.
    pub const NO_INITRAMFS: Self = Self(0x4);
    /// Have the kernel log where it places the segments (Linux 6.8 and later; EINVAL before).
    pub const DEBUG: Self = Self(0x8);

    pub const fn empty() -> Self {
        Self(0)
    }

    pub const fn bits(self) -> u64 {
        self.0
    }

    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for KexecFlags {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// Loads `kernel` (an x86 bzImage or arm64 Image) with `initrd` and `cmdline`.
///
/// Without an initrd, `NO_INITRAMFS` is added. The kernel checks the image itself: `ENOEXEC`
/// for an image no loader recognises, `EKEYREJECTED`/`EBADMSG`/`ENOPKG` for a signature it
/// requires and does not get, `EADDRNOTAVAIL`/`ENOMEM` when the image does not fit the
/// reservation, `EPERM` without `CAP_SYS_BOOT` or once `kernel.kexec_load_disabled` is set,
/// `EBUSY` while another load or a crash is in progress.
pub fn kexec_file_load(
    kernel: BorrowedFd<'_>,
    initrd: Option<BorrowedFd<'_>>,
    cmdline: &str,
    flags: KexecFlags,
) -> Result<(), Error> {
    let cmdline = CString::new(cmdline).map_err(|_| Error::NulByte {
        call: "kexec_file_load",
        argument: "command line",
    })?;
    let (initrd_fd, flags) = match initrd {
        Some(fd) => (fd.as_raw_fd(), flags),
        None => (-1, flags | KexecFlags::NO_INITRAMFS),
    };
    raw_kexec_file_load(kernel.as_raw_fd(), initrd_fd, &cmdline, flags)
}

/// Unloads the crash (kdump) kernel, or with `crash` false the image loaded for a kexec reboot.
/// Unloading when nothing is loaded succeeds.
pub fn kexec_file_unload(crash: bool) -> Result<(), Error> {
    let flags = if crash {
        KexecFlags::UNLOAD | KexecFlags::ON_CRASH
    } else {
        KexecFlags::UNLOAD
    };
    // The kernel ignores the descriptors and the command line when unloading.
    raw_kexec_file_load(-1, -1, c"", flags)
}

#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "loongarch64",
    target_arch = "powerpc64",
    target_arch = "s390x",
    target_arch = "arm"
))]
fn raw_kexec_file_load(
    kernel_fd: i32,
    initrd_fd: i32,
    cmdline: &std::ffi::CStr,
    flags: KexecFlags,
) -> Result<(), Error> {
    let number = libc::c_long::from(linux_raw_sys::general::__NR_kexec_file_load);
    // The length counts the terminating NUL: the kernel refuses a command line whose last byte
    // is not NUL.
    let cmdline_len = cmdline.to_bytes_with_nul().len() as libc::c_ulong;
    // SAFETY: kexec_file_load reads `cmdline_len` bytes from the pointer, which points at the
    // `cmdline` CStr: that many bytes, NUL included, alive until the call returns. The other
    // arguments are plain integers (descriptors the kernel validates itself), passed as
    // c_long/c_ulong as the variadic syscall(2) expects for register-sized arguments.
    let rc = unsafe {
        libc::syscall(
            number,
            libc::c_long::from(kernel_fd),
            libc::c_long::from(initrd_fd),
            cmdline_len,
            cmdline.as_ptr(),
            flags.bits() as libc::c_ulong,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        let errno = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EINVAL);
        Err(Error::Syscall {
            call: "kexec_file_load",
            errno,
        })
    }
}

/// Architectures without the syscall (32-bit x86, MIPS, SPARC) get what the kernel would say.
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "loongarch64",
    target_arch = "powerpc64",
    target_arch = "s390x",
    target_arch = "arm"
)))]
fn raw_kexec_file_load(
    _kernel_fd: i32,
    _initrd_fd: i32,
    _cmdline: &std::ffi::CStr,
    _flags: KexecFlags,
) -> Result<(), Error> {
    Err(Error::Syscall {
        call: "kexec_file_load",
        errno: libc::ENOSYS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::fd::AsFd;

    #[test]
    fn flags_have_the_uapi_values() {
        assert_eq!(KexecFlags::UNLOAD.bits(), 1);
        assert_eq!(KexecFlags::ON_CRASH.bits(), 2);
        assert_eq!(KexecFlags::NO_INITRAMFS.bits(), 4);
        assert_eq!(KexecFlags::DEBUG.bits(), 8);
        let both = KexecFlags::UNLOAD | KexecFlags::ON_CRASH;
        assert_eq!(both.bits(), 3);
        assert!(both.contains(KexecFlags::ON_CRASH));
        assert!(!both.contains(KexecFlags::NO_INITRAMFS));
        assert_eq!(KexecFlags::empty().bits(), 0);
    }

    #[test]
    fn a_nul_in_the_command_line_is_refused_before_the_call() {
        let file = File::open("/dev/null").unwrap();
        let error = kexec_file_load(file.as_fd(), None, "a\0b", KexecFlags::ON_CRASH).unwrap_err();
        assert!(matches!(error, Error::NulByte { .. }), "{error}");
        assert_eq!(error.errno(), Some(libc::EINVAL));
    }

    /// A real call that cannot change anything: an unknown flag bit makes the kernel return
    /// EINVAL before it looks at the images (a failed crash load would free the loaded capture
    /// kernel, and tests may run as root on a machine with kdump armed). Where kexec is missing
    /// or refused the errno is ENOSYS or EPERM; either way it comes back under the call's name.
    #[test]
    fn a_real_call_reports_the_kernels_errno() {
        let file = File::open("/dev/null").unwrap();
        let unknown = KexecFlags(1 << 31);
        let error = kexec_file_load(
            file.as_fd(),
            None,
            "console=ttyS0",
            KexecFlags::ON_CRASH | unknown,
        )
        .unwrap_err();
        let errno = error.errno().unwrap();
        assert!(
            [libc::ENOSYS, libc::EPERM, libc::EINVAL].contains(&errno),
            "{error}"
        );
        assert!(
            error.to_string().starts_with("kexec_file_load: "),
            "{error}"
        );
    }
}
