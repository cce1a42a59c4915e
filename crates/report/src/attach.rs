//! Bringing a large file that is already on disk (a kdump dump) into a report directory without
//! holding it in memory: a hard link when source and report share a filesystem, else a streamed,
//! fsynced copy. Either way the content is hashed for the manifest.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Streaming buffer: large enough for sequential throughput, small enough for a capture kernel.
const CHUNK: usize = 1 << 20;

/// Puts `source` at `target` (which must not exist) and returns its size and SHA-256.
pub(crate) fn attach(source: &Path, target: &Path) -> io::Result<(u64, String)> {
    let linked = fs::hard_link(source, target).is_ok();
    if !linked {
        copy_synced(source, target)?;
    }
    hash_file(target)
}

fn copy_synced(source: &Path, target: &Path) -> io::Result<()> {
    let mut from = File::open(source)?;
    let mut to = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(target)?;
    io::copy(&mut from, &mut to)?;
    to.sync_all()
}

fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        let chunk = buffer.get(..read).unwrap_or_default();
        hasher.update(chunk);
        size += read as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attached_file_keeps_content_and_source() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("vmcore.kdump");
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        fs::write(&source, &data).unwrap();
        let target = dir.path().join("report-vmcore.kdump");
        let (size, sha) = attach(&source, &target).unwrap();
        assert_eq!(size, data.len() as u64);
        assert_eq!(sha, hex::encode(Sha256::digest(&data)));
        assert_eq!(fs::read(&target).unwrap(), data);
        assert!(source.exists(), "the caller removes the source, not attach");
        assert_eq!(
            attach(&source, &target).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
    }

    #[test]
    fn copy_is_used_across_filesystems() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("a");
        fs::write(&source, b"dump").unwrap();
        let target = dir.path().join("b");
        copy_synced(&source, &target).unwrap();
        assert_eq!(hash_file(&target).unwrap().0, 4);
    }
}
