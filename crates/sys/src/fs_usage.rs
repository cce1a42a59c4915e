//! What a mounted filesystem says about itself through statfs(2): its type and how much it holds
//! and has free. For efivarfs this is the UEFI variable store's own account (QueryVariableInfo),
//! which is how a report can say how full the store efi-pstore writes to is.

use std::path::Path;

use crate::error::Error;

/// efivarfs' `f_type` (EFIVARFS_MAGIC in include/uapi/linux/magic.h).
pub const EFIVARFS_MAGIC: u64 = 0xde5e_81e4;

/// A filesystem's type and size as statfs(2) reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsUsage {
    /// `f_type`, the filesystem's magic number.
    pub magic: u64,
    pub total_bytes: u64,
    pub free_bytes: u64,
}

/// statfs(2) of the filesystem holding `path`.
pub fn fs_usage(path: &Path) -> Result<FsUsage, Error> {
    let stat = rustix::fs::statfs(path).map_err(|errno| Error::syscall("statfs", errno))?;
    // The field types differ between architectures; every value here fits in 64 bits.
    let block = u64::try_from(stat.f_bsize).unwrap_or(0);
    let count = |blocks: u64| blocks.saturating_mul(block);
    Ok(FsUsage {
        magic: stat.f_type as u64,
        total_bytes: count(stat.f_blocks as u64),
        free_bytes: count(stat.f_bfree as u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_has_a_filesystem_and_a_missing_path_is_an_errno() {
        let dir = tempfile::tempdir().unwrap();
        let usage = fs_usage(dir.path()).unwrap();
        assert_ne!(usage.magic, EFIVARFS_MAGIC);
        assert!(usage.total_bytes >= usage.free_bytes);
        let err = fs_usage(&dir.path().join("absent")).unwrap_err();
        assert_eq!(err.errno(), Some(libc::ENOENT));
    }
}
