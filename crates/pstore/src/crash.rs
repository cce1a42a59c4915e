//! What `assemble` produces: crashes, the dumps they were made of, and the records they used.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::record::Origin;

/// Everything pstore kept about one crash (or, with no dmesg at all, about the previous boot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Crash {
    /// Backend of the dmesg records: `ramoops`, `efi_pstore`, `efi`, `erst`, `pstore_blk`, ...
    pub backend: String,
    /// Reason of the last dump: `Panic`, `Oops`, ...
    pub dump_reason: Option<String>,
    /// Unix seconds of the last dump, from the record mtime or the efi-pstore id.
    pub crash_time: Option<i64>,
    /// The dumps, oldest first.
    pub dumps: Vec<Dump>,
    /// The complete log: part headers stripped, chronological, no line lost or doubled.
    pub dmesg: Vec<u8>,
    pub console: Option<Vec<u8>>,
    pub pmsg: Option<Vec<u8>>,
    pub ftrace: Option<Vec<u8>>,
    /// Records kept byte for byte (opaque, undecodable, conflicting), named by their file name.
    pub extra_files: Vec<(String, Vec<u8>)>,
    /// Every record this crash consumed.
    pub records: Vec<UsedRecord>,
    /// What is missing or doubtful, one human line each.
    pub gaps: Vec<String>,
    /// Gaps, truncation or undecodable data: the report is not the whole story.
    pub partial: bool,
}

/// One kmsg dump (`Reason#count`), possibly split into parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Dump {
    pub reason: String,
    pub count: u32,
    /// Part numbers present, ascending.
    pub parts: Vec<u32>,
    /// Part numbers below the highest present one that are missing.
    pub missing_parts: Vec<u32>,
}

/// A record a crash consumed; the caller may delete it once the report is on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct UsedRecord {
    pub file_name: String,
    pub path: PathBuf,
    pub origin: Origin,
    /// Bytes read from the file.
    pub size: u64,
    /// The file is longer than what was read (`ReadOptions::max_record_bytes`): the crash holds
    /// only its head, so the file must stay where it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// SHA-256 of the bytes read, lower-case hex.
    pub sha256: String,
    pub decoding: Decoding,
}

/// How a record's bytes were turned into what the crash holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Decoding {
    /// Used as is (after stripping headers).
    Plain,
    /// Decompressed from a `.enc.z` record.
    Decompressed { algorithm: String },
    /// Not decoded; kept byte for byte in `extra_files`.
    Raw { reason: String },
}
