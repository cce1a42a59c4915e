//! Durable file-system steps: write and fsync a file, fsync a directory, publish a finished
//! directory with one rename. A crash at any point leaves either no report or a complete one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Creates `path` (which must not exist), writes `data` and fsyncs it.
pub(crate) fn write_file_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(data)?;
    file.sync_all()
}

/// fsync on a directory makes the entries created or renamed in it durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Renames the finished `tmp` directory to `target`. Returns `Ok(false)` without touching anything
/// when `target` already exists (another run published the same content first).
pub(crate) fn publish_dir(tmp: &Path, target: &Path) -> io::Result<bool> {
    // Not `exists()`: that follows a symlink, and a symlink to some directory is no report.
    match fs::symlink_metadata(target) {
        Ok(meta) if meta.is_dir() => return Ok(false),
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} is in the way and is not a report", target.display()),
            ));
        }
        Err(_) => {}
    }
    match fs::rename(tmp, target) {
        Ok(()) => Ok(true),
        // rename(2) onto a non-empty directory fails this way when we lost a race.
        Err(e)
            if fs::symlink_metadata(target).is_ok_and(|m| m.is_dir())
                && matches!(
                    e.kind(),
                    io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::AlreadyExists
                ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Removes a temporary directory after a failure. Best effort: the caller reports the original
/// error, and `Store::prune` sweeps whatever is left over.
pub(crate) fn discard_dir(dir: &Path) {
    let _ = fs::remove_dir_all(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_file_synced(&path, b"one").unwrap();
        let err = write_file_synced(&path, b"two").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"one");
    }

    #[test]
    fn publish_keeps_an_existing_target() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, target) = (dir.path().join(".t"), dir.path().join("t"));
        fs::create_dir(&tmp).unwrap();
        fs::write(tmp.join("a"), "new").unwrap();
        fs::create_dir(&target).unwrap();
        fs::write(target.join("a"), "old").unwrap();
        assert!(!publish_dir(&tmp, &target).unwrap());
        assert_eq!(fs::read_to_string(target.join("a")).unwrap(), "old");
        fs::remove_dir_all(&target).unwrap();
        assert!(publish_dir(&tmp, &target).unwrap());
        assert_eq!(fs::read_to_string(target.join("a")).unwrap(), "new");
        sync_dir(dir.path()).unwrap();
    }
}
