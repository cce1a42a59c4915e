//! The offline queue under /var/lib/lastgasp/submit: per report, `<id>.json` (its state: pending,
//! sent or rejected, attempts, when to try next) and, while it waits, `<id>.tar.zst` (the
//! scrubbed archive, made once, so what is sent is what `--dry-run` showed). Every file is
//! written atomically; the report id is the key, so a report is queued once and, once marked
//! sent, never sent again. `.lock` keeps two runs from sending the same report at once.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use setup::atomic::{remove_durably, write_atomic};

use crate::error::{Error, Result};

pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Waiting to be sent (again).
    Pending,
    /// The target has it; never sent again.
    Sent,
    /// The target refused it for good (too big, malformed); never sent again.
    Rejected,
}

/// One report's state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub version: u32,
    pub id: String,
    pub state: State,
    /// When it was queued, Unix seconds.
    pub queued_at: u64,
    /// Size of the archive to send.
    pub bytes: u64,
    pub signature: Option<String>,
    pub attempts: u32,
    /// Not before this time (Unix seconds): the backoff after a failed attempt.
    pub next_attempt: u64,
    /// Not before this time either: what the target asked for with Retry-After.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was sent and where the target keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl Entry {
    pub fn new(id: &str, bytes: u64, signature: Option<String>, now: u64) -> Self {
        Self {
            version: STATE_VERSION,
            id: id.to_string(),
            state: State::Pending,
            queued_at: now,
            bytes,
            signature,
            attempts: 0,
            next_attempt: now,
            retry_after: None,
            last_error: None,
            sent_at: None,
            location: None,
        }
    }

    /// When it may be tried again; `ignore_backoff` (`submit --now`) still honours Retry-After.
    pub fn due_at(&self, ignore_backoff: bool) -> u64 {
        let backoff = if ignore_backoff { 0 } else { self.next_attempt };
        backoff.max(self.retry_after.unwrap_or(0))
    }
}

/// The queue directory.
#[derive(Debug, Clone)]
pub struct Queue {
    dir: PathBuf,
}

/// The exclusive lock of a run; released when dropped.
pub struct Lock(#[allow(dead_code)] File);

/// Counts for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub pending: usize,
    pub sent: usize,
    pub rejected: usize,
    /// Bytes waiting to be sent.
    pub pending_bytes: u64,
    /// The earliest time a pending report may go, Unix seconds.
    pub next_attempt: Option<u64>,
    /// The last error of a pending report, if any failed.
    pub last_error: Option<String>,
}

impl Queue {
    pub fn open(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the queue's lock, waiting for another run to finish.
    pub fn lock(&self) -> Result<Lock> {
        fs::create_dir_all(&self.dir).map_err(Error::io(&self.dir))?;
        let path = self.dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Error::io(&path))?;
        file.lock().map_err(Error::io(&path))?;
        Ok(Lock(file))
    }

    fn state_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    pub fn archive_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.tar.zst"))
    }

    /// The entry of report `id`, if it was ever queued.
    pub fn get(&self, id: &str) -> Result<Option<Entry>> {
        let path = self.state_path(id);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Invalid {
                    path,
                    why: e.to_string(),
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path)(e)),
        }
    }

    /// Queues a report: its archive first, then its state, so a state file always has its
    /// archive while pending.
    pub fn add(&self, entry: &Entry, archive: &[u8]) -> Result<()> {
        write_atomic(&self.archive_path(&entry.id), archive, 0o600)?;
        self.save(entry)
    }

    /// Writes `entry`'s state; a sent or rejected report's archive is removed after.
    pub fn save(&self, entry: &Entry) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(entry).expect("entries serialise");
        bytes.push(b'\n');
        write_atomic(&self.state_path(&entry.id), &bytes, 0o600)?;
        if entry.state != State::Pending {
            remove_durably(&self.archive_path(&entry.id))?;
        }
        Ok(())
    }

    /// Drops report `id` from the queue altogether.
    pub fn forget(&self, id: &str) -> Result<()> {
        remove_durably(&self.state_path(id))?;
        remove_durably(&self.archive_path(id))?;
        Ok(())
    }

    pub fn archive(&self, id: &str) -> Result<Vec<u8>> {
        let path = self.archive_path(id);
        fs::read(&path).map_err(Error::io(path))
    }

    /// Every entry, oldest first (queue time, then id). A state file that cannot be read is an
    /// error naming it: the queue must not silently forget a report.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let list = match fs::read_dir(&self.dir) {
            Ok(list) => list,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.dir)(e)),
        };
        let mut entries = Vec::new();
        for item in list {
            let item = item.map_err(Error::io(&self.dir))?;
            let name = item.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            // Hidden files (the lock, the rate ledger, temporary files) are not reports.
            if !report::is_valid_id(id) {
                continue;
            }
            if let Some(entry) = self.get(id)? {
                entries.push(entry);
            }
        }
        entries.sort_by(|a, b| (a.queued_at, &a.id).cmp(&(b.queued_at, &b.id)));
        Ok(entries)
    }

    pub fn summary(&self) -> Result<Summary> {
        let mut summary = Summary::default();
        for entry in self.entries()? {
            match entry.state {
                State::Pending => {
                    summary.pending += 1;
                    summary.pending_bytes += entry.bytes;
                    let due = entry.due_at(false);
                    summary.next_attempt = Some(summary.next_attempt.map_or(due, |n| n.min(due)));
                    if entry.last_error.is_some() {
                        summary.last_error = entry.last_error;
                    }
                }
                State::Sent => summary.sent += 1,
                State::Rejected => summary.rejected += 1,
            }
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_sent_ones_lose_their_archive() {
        let tmp = tempfile::tempdir().unwrap();
        let queue = Queue::open(tmp.path().join("q"));
        assert!(queue.entries().unwrap().is_empty());
        let _lock = queue.lock().unwrap();
        let mut a = Entry::new("20261201T100000Z-aaaaaaaaaaaa", 10, Some("s1".into()), 100);
        let b = Entry::new("20261201T090000Z-bbbbbbbbbbbb", 20, None, 50);
        queue.add(&a, b"archive a").unwrap();
        queue.add(&b, b"archive b").unwrap();
        assert_eq!(queue.archive(&a.id).unwrap(), b"archive a");
        let ids: Vec<String> = queue.entries().unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(ids, [b.id.clone(), a.id.clone()]);
        let summary = queue.summary().unwrap();
        assert_eq!((summary.pending, summary.pending_bytes), (2, 30));
        assert_eq!(summary.next_attempt, Some(50));

        a.state = State::Sent;
        a.sent_at = Some(200);
        queue.save(&a).unwrap();
        assert!(!queue.archive_path(&a.id).exists());
        assert_eq!(queue.get(&a.id).unwrap(), Some(a));
        let summary = queue.summary().unwrap();
        assert_eq!((summary.pending, summary.sent), (1, 1));
    }

    #[test]
    fn a_damaged_state_file_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let queue = Queue::open(tmp.path());
        fs::write(tmp.path().join("20261201T100000Z-aaaaaaaaaaaa.json"), "{").unwrap();
        let err = queue.entries().unwrap_err().to_string();
        assert!(err.contains("20261201T100000Z-aaaaaaaaaaaa.json"), "{err}");
    }

    #[test]
    fn retry_after_holds_even_when_backoff_is_skipped() {
        let mut e = Entry::new("x", 1, None, 0);
        e.next_attempt = 500;
        assert_eq!(e.due_at(false), 500);
        assert_eq!(e.due_at(true), 0);
        e.retry_after = Some(300);
        assert_eq!(e.due_at(true), 300);
        assert_eq!(e.due_at(false), 500);
    }
}
