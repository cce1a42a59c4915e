//! A pstore record as read from disk: its file name, where it came from and its raw bytes.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::name::{RecordName, parse_record_name};

/// Where a record was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// The pstore filesystem (normally /sys/fs/pstore).
    Pstore,
    /// A file systemd-pstore already moved into its archive (/var/lib/systemd/pstore).
    SystemdArchive,
}

/// One file, read as is. `name` is `None` for files whose name is not a pstore record name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Record {
    pub file_name: String,
    pub path: PathBuf,
    pub origin: Origin,
    pub name: Option<RecordName>,
    pub data: Vec<u8>,
    /// Modification time in unix seconds; pstore sets it to the dump time.
    pub mtime: Option<i64>,
    /// The file was longer than `ReadOptions::max_record_bytes`; `data` is its head.
    pub truncated: bool,
}

impl Record {
    /// A record held in memory (tests, fuzzing, records taken from elsewhere): the path is the
    /// file name, the origin pstore, no mtime.
    pub fn in_memory(file_name: &str, data: Vec<u8>) -> Self {
        Record {
            file_name: file_name.to_owned(),
            path: PathBuf::from(file_name),
            origin: Origin::Pstore,
            name: parse_record_name(file_name),
            data,
            mtime: None,
            truncated: false,
        }
    }
}

/// Limits for reading record files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReadOptions {
    /// Read at most this many bytes of one file; longer files are marked `truncated`.
    pub max_record_bytes: u64,
}

/// 64 MiB: far above any real pstore record, low enough to keep boot-time memory bounded.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 64 << 20;

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}
