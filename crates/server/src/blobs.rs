//! Report archives on disk, content-addressed: `<data>/archives/<first 2 hex>/<sha256>.tar.zst`.
//! The same bytes always land under the same name, so two servers sharing the directory, or a
//! retried upload, write one file; a file appears only whole (temp file, then rename).
//!
//! Durability is grouped like the database's commits: `put` leaves the file in the page cache
//! and `sync` makes it durable with one `syncfs` shared by every upload that finished writing
//! before it started. A fsync per file and per directory cost each upload several device
//! writes of its own; one `syncfs` writes a whole group's files in one pass. An upload is
//! acknowledged only after its `sync`, so a file a crash left torn (renamed, its data not yet
//! written) is never one a stored report points at, and `put` replaces it when the same bytes
//! come again.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
    syncs: Arc<SyncGroup>,
}

/// Counts the files written and the last of them a finished `syncfs` covers.
#[derive(Debug, Default)]
struct SyncGroup {
    /// Files written so far (`put` calls that returned).
    written: AtomicU64,
    /// How many of them the last successful `syncfs` covered; held while one runs, so the
    /// callers that arrive meanwhile wait for it and then find themselves covered or start
    /// the next one.
    covered: tokio::sync::Mutex<u64>,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Blobs {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("archives"),
            syncs: Arc::default(),
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

    /// Writes `data` under `sha256` (the caller computed it from `data`) into the page cache;
    /// `sync` makes it durable. Returns whether the file was new. A file already there with
    /// other bytes can only be one a crash tore before its `sync`: it is replaced.
    pub fn put(&self, sha256: &str, data: &[u8]) -> io::Result<bool> {
        let path = self
            .path(sha256)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a sha256"))?;
        let new = match fs::read(&path) {
            Ok(stored) if stored == data => false,
            Ok(_) => {
                tracing::warn!(
                    "replacing {}: torn by a crash before it was synced",
                    path.display()
                );
                self.write(&path, sha256, data)?;
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.write(&path, sha256, data)?;
                true
            }
            Err(e) => return Err(e),
        };
        self.syncs.written.fetch_add(1, Ordering::SeqCst);
        Ok(new)
    }

    /// A temp file renamed into place: readers see the whole file or none.
    fn write(&self, path: &Path, sha256: &str, data: &[u8]) -> io::Result<()> {
        let parent = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(parent)?;
        let tmp = parent.join(format!(
            ".{sha256}.tmp-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?
                .write_all(data)?;
            fs::rename(&tmp, path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }

    /// Makes every file `put` returned before this call durable, with their names: waits for a
    /// `syncfs` of the archive directory's filesystem that started after them, running one
    /// when none is under way.
    pub async fn sync(&self) -> io::Result<()> {
        let mine = self.syncs.written.load(Ordering::SeqCst);
        let mut covered = self.syncs.covered.lock().await;
        if *covered >= mine {
            return Ok(());
        }
        // Every file counted by now was written before the syncfs below starts.
        let upto = self.syncs.written.load(Ordering::SeqCst);
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            let handle = fs::File::open(&dir)?;
            rustix::fs::syncfs(&handle).map_err(io::Error::from)
        })
        .await
        .map_err(io::Error::other)??;
        *covered = upto;
        Ok(())
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
        // What a crash leaves of a file renamed before its data reached the disk.
        fs::write(blobs.path(&sha).unwrap(), b"").unwrap();
        assert!(blobs.put(&sha, b"x").unwrap());
        assert_eq!(blobs.get(&sha).unwrap(), b"x");
        assert_eq!(blobs.files().unwrap().len(), 1);
        assert!(blobs.path("../../etc/passwd").is_none());
        assert!(blobs.put(&"AB".repeat(32), b"x").is_err());
        blobs.remove(&sha).unwrap();
        blobs.remove(&sha).unwrap();
        assert!(blobs.files().unwrap().is_empty());
    }

    /// Concurrent callers share syncfs calls, and each returns only once one that started
    /// after its file was written has finished.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sync_covers_every_earlier_put() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path());
        let mut tasks = Vec::new();
        for i in 0..64u32 {
            let blobs = blobs.clone();
            tasks.push(tokio::spawn(async move {
                let sha = format!("{i:064x}");
                blobs.put(&sha, &i.to_le_bytes()).unwrap();
                let written = blobs.syncs.written.load(Ordering::SeqCst);
                blobs.sync().await.unwrap();
                assert!(*blobs.syncs.covered.lock().await >= written);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(blobs.files().unwrap().len(), 64);
        // Nothing new: no syncfs needed.
        let covered = *blobs.syncs.covered.lock().await;
        blobs.sync().await.unwrap();
        assert_eq!(*blobs.syncs.covered.lock().await, covered);
    }
}
