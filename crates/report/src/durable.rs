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

/// Replaces `path` whole: `data` goes to a hidden `.<name>.tmp-<pid>` beside it (fsynced), is
/// renamed over it, and the directory is fsynced, so a crash leaves the old file or the new. A
/// temporary file left by a failure is removed; one left by a kill is swept by retention.
pub(crate) fn replace_file_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let written = write_file_synced(&tmp, data).and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    sync_dir(dir)
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
    fn replace_swaps_the_whole_file_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        replace_file_synced(&path, b"one").unwrap();
        replace_file_synced(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f"]);
        // A directory in the way: the old file stays and no temporary file is left.
        let blocked = dir.path().join("d");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("x"), b"").unwrap();
        assert!(replace_file_synced(&blocked, b"new").is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
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
