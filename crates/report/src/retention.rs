//! Retention: keep at most `max_reports` reports and `max_bytes` bytes, removing the oldest
//! first and never the reports the caller protects (the ones it just wrote).

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::error::Error;
use crate::store::{Listed, Store};

/// Leftover `.<id>.tmp-<pid>` / `.<id>.del-<pid>` entries older than this are swept.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Limits on the reports directory; 0 disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_reports: usize,
    pub max_bytes: u64,
}

/// A report removed by `Store::prune`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub id: String,
    pub bytes: u64,
}

impl Store {
    /// Removes the oldest reports until both limits hold, skipping the ids in `protect`, and
    /// remembers their ids so the same records do not bring them back (see `was_pruned`). Also
    /// sweeps temporary directories that a killed run left behind. Each report disappears with
    /// one rename first, so a half-removed report is never listed.
    pub fn prune(&self, limits: &Retention, protect: &[String]) -> Result<Vec<Pruned>, Error> {
        self.sweep(STALE_AFTER);
        let mut listed = self.list()?;
        listed.sort_by_key(age_key);
        let mut count = listed.len();
        let mut bytes: u64 = listed.iter().map(|l| l.bytes).sum();
        let over = |count: usize, bytes: u64| {
            (limits.max_reports > 0 && count > limits.max_reports)
                || (limits.max_bytes > 0 && bytes > limits.max_bytes)
        };
        let mut pruned = Vec::new();
        for report in listed {
            if !over(count, bytes) {
                break;
            }
            if protect.contains(&report.id) {
                continue;
            }
            self.remove(&report.id, &report.path)?;
            count -= 1;
            bytes = bytes.saturating_sub(report.bytes);
            pruned.push(Pruned {
                id: report.id,
                bytes: report.bytes,
            });
        }
        let ids: Vec<String> = pruned.iter().map(|p| p.id.clone()).collect();
        // Best effort: without the note, a pruned report whose records are still around comes
        // back once more; that is no reason to fail retention.
        let _ = self.remember_pruned(&ids);
        Ok(pruned)
    }

    fn remove(&self, id: &str, path: &Path) -> Result<(), Error> {
        let doomed = self.dir().join(format!(".{id}.del-{}", std::process::id()));
        let fail = |error| Error::Remove {
            path: path.to_path_buf(),
            error,
        };
        fs::rename(path, &doomed).map_err(fail)?;
        fs::remove_dir_all(&doomed).map_err(fail)
    }

    /// Removes every temporary or half-deleted directory a killed run left, whatever its age.
    /// Only for a caller that holds the writers' lock (`lastgasp save`): then no other run is
    /// writing, and every such entry is a leftover.
    pub fn sweep_leftovers(&self) {
        self.sweep(Duration::ZERO);
    }

    /// Removes leftover `.tmp-`/`.del-` entries older than `min_age`.
    fn sweep(&self, min_age: Duration) {
        let Ok(entries) = fs::read_dir(self.dir()) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ours = name.starts_with('.') && (name.contains(".tmp-") || name.contains(".del-"));
            let old = min_age.is_zero()
                || entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|age| age >= min_age);
            if ours && old {
                // Best effort: whatever cannot be removed now is retried next time.
                let _ = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    fs::remove_dir_all(entry.path())
                } else {
                    fs::remove_file(entry.path())
                };
            }
        }
    }
}

/// Oldest first: creation time from the manifest, else the directory's mtime; damaged reports
/// without either sort first.
fn age_key(listed: &Listed) -> (i64, String) {
    let created = listed
        .manifest
        .as_ref()
        .ok()
        .and_then(|m| m.created.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second());
    let mtime = || {
        fs::metadata(&listed.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| jiff::Timestamp::try_from(m).ok())
            .map(|t| t.as_second())
    };
    (
        created.or_else(mtime).unwrap_or(i64::MIN),
        listed.id.clone(),
    )
}
