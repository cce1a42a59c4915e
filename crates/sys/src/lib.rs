//! Every system call lastgasp makes that the standard library lacks: kexec_file_load, reboot,
//! finit_module, mount and unmount, sync, memfd_create; the kernel's kexec state files under a
//! root directory that tests can redirect; and the two formats around a kexec load that need
//! parsing: the kernel command line and a kernel image's header.
//!
//! This is the only crate of the workspace allowed `unsafe`, and it has exactly one `unsafe`
//! block (the raw `kexec_file_load` syscall, which no safe crate wraps); everything else goes
//! through rustix. Failures carry the errno, so callers can explain them.

pub mod cmdline;
mod error;
mod fs_usage;
/// The fuzz targets' entry points and invariants: for fuzz/ and the corpus replay in tests/
/// only (the `fuzzing` feature), not part of the API.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod identity;
pub mod kexec;
pub mod kexec_image;
pub mod kexec_state;
pub mod kmsg_tail;
mod memfd;
pub mod module;
pub mod mount;
pub mod power;

pub use error::{Error, errno_name};
pub use fs_usage::{EFIVARFS_MAGIC, FsUsage, fs_usage};
pub use identity::running_as_root;

/// The errno values callers of this crate tell apart, so they need not depend on libc.
pub mod errno {
    pub use libc::{
        EADDRNOTAVAIL, EBADMSG, EBUSY, EEXIST, EINVAL, EIO, EKEYREJECTED, ENOENT, ENOEXEC, ENOMEM,
        ENOPKG, ENOSPC, ENOSYS, EPERM,
    };
}
pub use kexec::{KexecFlags, kexec_file_load, kexec_file_unload};
pub use kexec_state::KexecState;
pub use memfd::memfd;
pub use module::{ModuleInitFlags, delete_module, finit_module};
pub use mount::{MountFlags, UnmountFlags, mount, sync, syncfs, umount, write_back_and_drop};
pub use power::{reboot, sysrq_reboot};
