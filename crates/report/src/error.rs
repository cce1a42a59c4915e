//! The one error type of this crate. Every message is a single line naming the path and the
//! cause, because the CLI prints it as is.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong while writing, reading, pruning or exporting reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The report could not be made durable; nothing that depends on it (deleting records) may run.
    #[error("cannot write report to {}: {}", dir.display(), cause(error))]
    Write { dir: PathBuf, error: io::Error },
    #[error("cannot read {}: {}", path.display(), cause(error))]
    Read { path: PathBuf, error: io::Error },
    #[error("{}: invalid report manifest: {error}", path.display())]
    Manifest {
        path: PathBuf,
        error: serde_json::Error,
    },
    #[error("{}: unsupported report format version {found} (this build reads {})", path.display(), crate::FORMAT_VERSION)]
    Version { path: PathBuf, found: u32 },
    #[error("invalid report id '{0}': only letters, digits and '-' are allowed")]
    InvalidId(String),
    #[error("no report matches '{0}'")]
    NotFound(String),
    #[error("'{prefix}' matches {} reports: {}", ids.len(), ids.join(", "))]
    Ambiguous { prefix: String, ids: Vec<String> },
    #[error("cannot remove report {}: {}", path.display(), cause(error))]
    Remove { path: PathBuf, error: io::Error },
    #[error("{} already exists (pass force to overwrite it)", path.display())]
    Exists { path: PathBuf },
    /// The report was there when it was looked up and was removed while it was read (retention
    /// or another run pruned it): nothing was written from it.
    #[error("report {id} went away while it was read (retention or another run removed it)")]
    Gone { id: String },
    #[error("cannot write archive {}: {}", path.display(), cause(error))]
    Export { path: PathBuf, error: io::Error },
    #[error("{}: unknown archive type, name it .tar.gz, .tgz, .tar.zst or .tar", path.display())]
    ArchiveType { path: PathBuf },
}

/// Whether `error`, met reading inside `report_dir`, means the whole report went away (it was
/// renamed out of sight to be removed) rather than that one of its files is missing.
pub(crate) fn went_away(report_dir: &Path, error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::NotFound && fs::symlink_metadata(report_dir).is_err()
}

/// The OS message without the "(os error N)" tail, so the line reads like the one coreutils print.
pub(crate) fn cause(error: &io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text.get(..at).unwrap_or(&text).to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_drops_the_errno_suffix() {
        let e = io::Error::from_raw_os_error(30);
        assert_eq!(cause(&e), "Read-only file system");
        let custom = io::Error::other("short write");
        assert_eq!(cause(&custom), "short write");
    }

    #[test]
    fn write_error_is_one_line() {
        let e = Error::Write {
            dir: PathBuf::from("/var/lib/lastgasp/reports"),
            error: io::Error::from_raw_os_error(28),
        };
        assert_eq!(
            e.to_string(),
            "cannot write report to /var/lib/lastgasp/reports: No space left on device"
        );
    }
}
