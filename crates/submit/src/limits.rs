//! Rate limits, like ChromeOS' crash_sender: at most so many reports and so many bytes sent in
//! any 24 hours. Every attempt that reached the target counts (it cost the bandwidth either way);
//! the ledger, `.ledger.json` in the queue, keeps the last day's attempts across runs.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use setup::atomic::write_atomic;

use crate::error::{Error, Result};

pub const LEDGER_NAME: &str = ".ledger.json";
pub const DAY_SECS: u64 = 24 * 60 * 60;

/// One attempt: when, and how many bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub at: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    path: PathBuf,
    sent: Vec<Sent>,
}

/// Why a report may not go now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Go,
    /// Over a daily limit until this time (Unix seconds).
    WaitUntil {
        until: u64,
        why: String,
    },
    /// Larger than a whole day's byte budget: it can never go.
    TooBig {
        why: String,
    },
}

impl Ledger {
    pub fn load(queue_dir: &Path) -> Result<Self> {
        let path = queue_dir.join(LEDGER_NAME);
        let sent = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Invalid {
                path: path.clone(),
                why: e.to_string(),
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::io(path)(e)),
        };
        Ok(Self { path, sent })
    }

    /// Whether `bytes` more may go at `now` under the limits.
    pub fn check(&self, now: u64, bytes: u64, max_reports: u32, max_bytes: u64) -> Verdict {
        if bytes > max_bytes {
            return Verdict::TooBig {
                why: format!(
                    "{bytes} bytes, more than max_bytes_per_day ({max_bytes}) allows in a day"
                ),
            };
        }
        let window: Vec<Sent> = self
            .sent
            .iter()
            .copied()
            .filter(|s| s.at + DAY_SECS > now)
            .collect();
        if window.len() >= max_reports as usize {
            // The oldest attempt leaves the window first.
            let until = window.iter().map(|s| s.at).min().unwrap_or(now) + DAY_SECS;
            return Verdict::WaitUntil {
                until,
                why: format!(
                    "{} reports sent in the last 24 hours (max_reports_per_day)",
                    window.len()
                ),
            };
        }
        let used: u64 = window.iter().map(|s| s.bytes).sum();
        if used + bytes > max_bytes {
            // Wait until enough old attempts have left the window.
            let mut freed = 0;
            let mut until = now;
            let mut by_age = window.clone();
            by_age.sort_by_key(|s| s.at);
            for s in by_age {
                freed += s.bytes;
                until = s.at + DAY_SECS;
                if used - freed + bytes <= max_bytes {
                    break;
                }
            }
            return Verdict::WaitUntil {
                until,
                why: format!(
                    "{used} bytes sent in the last 24 hours, {bytes} more would pass max_bytes_per_day ({max_bytes})"
                ),
            };
        }
        Verdict::Go
    }

    /// Records an attempt and saves the ledger, dropping what is older than a day.
    pub fn record(&mut self, now: u64, bytes: u64) -> Result<()> {
        self.sent.retain(|s| s.at + DAY_SECS > now);
        self.sent.push(Sent { at: now, bytes });
        let mut text = serde_json::to_vec(&self.sent).expect("ledger serialises");
        text.push(b'\n');
        write_atomic(&self.path, &text, 0o600)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reports_and_bytes_over_a_sliding_day() {
        let tmp = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::load(tmp.path()).unwrap();
        assert_eq!(ledger.check(1000, 10, 2, 100), Verdict::Go);
        ledger.record(1000, 10).unwrap();
        ledger.record(2000, 10).unwrap();
        // Two reports in the window: the third waits until the first leaves it.
        match ledger.check(3000, 10, 2, 100) {
            Verdict::WaitUntil { until, why } => {
                assert_eq!(until, 1000 + DAY_SECS);
                assert!(why.contains("max_reports_per_day"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ledger.check(1000 + DAY_SECS, 10, 2, 100), Verdict::Go);
        // Bytes: 20 used, 85 more passes 100 until the first 10 leave the window.
        match ledger.check(3000, 85, 10, 100) {
            Verdict::WaitUntil { until, .. } => assert_eq!(until, 1000 + DAY_SECS),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            ledger.check(3000, 101, 10, 100),
            Verdict::TooBig { .. }
        ));
        // The ledger survives a new run.
        let again = Ledger::load(tmp.path()).unwrap();
        assert_eq!(again, ledger);
    }
}
