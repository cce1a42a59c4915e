//! Report archives on disk, content-addressed: `<data>/archives/<first 2 hex>/<sha256>.tar.zst`.
//! The same bytes always land under the same name, so two servers sharing the directory, or a
//! retried upload, write one file; a file appears only complete (temp file, fsync, rename).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Blobs {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("archives"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the archive of `sha256` lives; `None` for anything but 64 lowercase hex digits.
    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        let ok = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| {
            self.dir
                .join(&sha256[..2])
                .join(format!("{sha256}.tar.zst"))
        })
    }

    /// Stores `data` under `sha256` (the caller computed it from `data`). Returns whether the
    /// file was new.
    pub fn put(&self, sha256: &str, data: &[u8]) -> io::Result<bool> {
        let path = self
            .path(sha256)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a sha256"))?;
        if path.exists() {
            return Ok(false);
        }
        let parent = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(parent)?;
        let tmp = parent.join(format!(
            ".{sha256}.tmp-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            file.write_all(data)?;
            file.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(parent)?.sync_all()
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written.map(|()| true)
    }

    pub fn get(&self, sha256: &str) -> io::Result<Vec<u8>> {
        let path = self
            .path(sha256)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a sha256"))?;
        fs::read(path)
    }

    pub fn remove(&self, sha256: &str) -> io::Result<()> {
        match self.path(sha256).map(fs::remove_file) {
            Some(Err(e)) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every file under the archive directory (temp files included), for checks that nothing
    /// was left behind.
    pub fn files(&self) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let Ok(shards) = fs::read_dir(&self.dir) else {
            return Ok(out);
        };
        for shard in shards {
            for file in fs::read_dir(shard?.path())? {
                out.push(file?.path());
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_same_file_and_bad_names_refused() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path());
        let sha = "ab".repeat(32);
        assert!(blobs.put(&sha, b"x").unwrap());
        assert!(!blobs.put(&sha, b"x").unwrap());
        assert_eq!(blobs.get(&sha).unwrap(), b"x");
        assert_eq!(blobs.files().unwrap().len(), 1);
        assert!(blobs.path("../../etc/passwd").is_none());
        assert!(blobs.put(&"AB".repeat(32), b"x").is_err());
        blobs.remove(&sha).unwrap();
        blobs.remove(&sha).unwrap();
        assert!(blobs.files().unwrap().is_empty());
    }
}
