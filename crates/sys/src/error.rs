//! The error of a failed system call: which call, and the errno the kernel returned, which is
//! what callers need to say why (EPERM under lockdown, EADDRNOTAVAIL for a small reservation...).

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The system call `call` returned `errno`.
    #[error("{call}: {}", describe(*errno))]
    Syscall { call: &'static str, errno: i32 },
    /// A string argument held a NUL byte, which the kernel's C string cannot carry.
    #[error("{call}: the {argument} contains a NUL byte")]
    NulByte {
        call: &'static str,
        argument: &'static str,
    },
    /// Reading or writing a kernel file (`/proc/sysrq-trigger`, `/sys/kernel/...`) failed.
    #[error("{}: {}", path.display(), describe_io(source))]
    File { path: PathBuf, source: io::Error },
}

impl Error {
    pub(crate) fn syscall(call: &'static str, errno: rustix::io::Errno) -> Self {
        Self::Syscall {
            call,
            errno: errno.raw_os_error(),
        }
    }

    pub(crate) fn file(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::File {
            path: path.into(),
            source,
        }
    }

    /// The errno behind the failure, if the kernel gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Syscall { errno, .. } => Some(*errno),
            Self::NulByte { .. } => Some(libc::EINVAL),
            Self::File { source, .. } => source.raw_os_error(),
        }
    }
}

/// "Operation not permitted (EPERM)": the C library's text and the symbolic name, since the
/// name is what people search for and what the kernel sources use.
fn describe(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    // std appends " (os error N)"; the name says more.
    let text = text
        .rfind(" (os error ")
        .and_then(|at| text.get(..at))
        .unwrap_or(&text);
    match errno_name(errno) {
        Some(name) => format!("{text} ({name})"),
        None => format!("{text} (errno {errno})"),
    }
}

fn describe_io(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(errno) => describe(errno),
        None => error.to_string(),
    }
}

/// The symbolic name of the errno values these calls return.
pub fn errno_name(errno: i32) -> Option<&'static str> {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EINVAL => "EINVAL",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::ENOSYS => "ENOSYS",
        libc::ENOPKG => "ENOPKG",
        libc::EBADMSG => "EBADMSG",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::EKEYREJECTED => "EKEYREJECTED",
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syscall_error_names_the_call_and_the_errno() {
        let error = Error::Syscall {
            call: "kexec_file_load",
            errno: libc::EKEYREJECTED,
        };
        assert_eq!(
            error.to_string(),
            "kexec_file_load: Key was rejected by service (EKEYREJECTED)"
        );
        assert_eq!(error.errno(), Some(libc::EKEYREJECTED));
    }

    #[test]
    fn an_unnamed_errno_still_shows_its_number() {
        let error = Error::Syscall {
            call: "mount",
            errno: libc::ECHILD,
        };
        assert!(error.to_string().ends_with("(errno 10)"), "{error}");
    }

    #[test]
    fn a_file_error_names_the_path() {
        let error = Error::file(
            "/proc/sysrq-trigger",
            io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(
            error.to_string(),
            "/proc/sysrq-trigger: Permission denied (EACCES)"
        );
    }
}
