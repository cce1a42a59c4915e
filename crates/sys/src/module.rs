//! `finit_module(2)`: loads a kernel module from an open file, as `ramoops` with the parameters
//! lastgasp computed, without depending on modprobe being present (the capture initramfs has
//! none); and `delete_module(2)`, to reload one with other parameters.

use std::ffi::CString;
use std::ops::BitOr;
use std::os::fd::AsFd;

use crate::Error;

/// The `MODULE_INIT_*` flags of `include/uapi/linux/module.h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModuleInitFlags(u32);

impl ModuleInitFlags {
    pub const IGNORE_MODVERSIONS: Self = Self(0x1);
    pub const IGNORE_VERMAGIC: Self = Self(0x2);
    /// The file is compressed (.ko.xz, .ko.zst, .ko.gz) and the kernel decompresses it itself.
    /// Linux 6.4 and later, with the matching CONFIG_MODULE_DECOMPRESS; EINVAL before.
    pub const COMPRESSED_FILE: Self = Self(0x4);

    pub const fn empty() -> Self {
        Self(0)
    }

    pub const fn bits(self) -> u32 {
        self.0
    }
}

impl BitOr for ModuleInitFlags {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// Loads the module in `file` with `params` ("mem_address=0x... mem_size=...", or ""). EEXIST
/// means the module is already loaded; ENOEXEC that the file is not a module for this kernel.
pub fn finit_module(file: impl AsFd, params: &str, flags: ModuleInitFlags) -> Result<(), Error> {
    let params = CString::new(params).map_err(|_| Error::NulByte {
        call: "finit_module",
        argument: "module parameters",
    })?;
    // The uapi flags are small positive values, so the conversion never fails in practice.
    let flags = i32::try_from(flags.bits()).map_err(|_| Error::Syscall {
        call: "finit_module",
        errno: libc::EINVAL,
    })?;
    rustix::system::finit_module(file, &params, flags)
        .map_err(|errno| Error::syscall("finit_module", errno))
}

/// `delete_module(2)` with O_NONBLOCK: unloads module `name` (as `rmmod` does), failing with
/// EBUSY while something uses it and ENOENT when it is not loaded.
pub fn delete_module(name: &str) -> Result<(), Error> {
    let name = CString::new(name).map_err(|_| Error::NulByte {
        call: "delete_module",
        argument: "module name",
    })?;
    rustix::system::delete_module(&name, libc::O_NONBLOCK)
        .map_err(|errno| Error::syscall("delete_module", errno))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn flags_have_the_uapi_values() {
        assert_eq!(ModuleInitFlags::IGNORE_MODVERSIONS.bits(), 1);
        assert_eq!(ModuleInitFlags::IGNORE_VERMAGIC.bits(), 2);
        assert_eq!(ModuleInitFlags::COMPRESSED_FILE.bits(), 4);
        let all = ModuleInitFlags::IGNORE_MODVERSIONS
            | ModuleInitFlags::IGNORE_VERMAGIC
            | ModuleInitFlags::COMPRESSED_FILE;
        assert_eq!(all.bits(), 7);
    }

    /// Not an ELF module: the kernel refuses it (ENOEXEC), or refuses the call (EPERM without
    /// CAP_SYS_MODULE, ENOSYS in a sandbox); either way the errno comes back.
    #[test]
    fn loading_a_file_that_is_not_a_module_fails_with_the_errno() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"not a kernel module").unwrap();
        let error = finit_module(&file, "", ModuleInitFlags::empty()).unwrap_err();
        let errno = error.errno().unwrap();
        assert!(
            [libc::ENOEXEC, libc::EPERM, libc::ENOSYS, libc::EINVAL].contains(&errno),
            "{error}"
        );
        assert!(error.to_string().starts_with("finit_module: "), "{error}");
    }

    #[test]
    fn unloading_a_module_that_is_not_loaded_fails_with_the_errno() {
        let error = delete_module("lastgasp_no_such_module").unwrap_err();
        let errno = error.errno().unwrap();
        assert!(
            [libc::ENOENT, libc::EPERM, libc::ENOSYS].contains(&errno),
            "{error}"
        );
        assert!(error.to_string().starts_with("delete_module: "), "{error}");
    }

    #[test]
    fn a_nul_in_the_parameters_is_refused() {
        let file = tempfile::tempfile().unwrap();
        let error = finit_module(&file, "a=1\0", ModuleInitFlags::empty()).unwrap_err();
        assert!(matches!(error, Error::NulByte { .. }), "{error}");
    }
}
