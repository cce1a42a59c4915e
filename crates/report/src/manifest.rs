//! `report.json`: the versioned manifest of one report. These types are the on-disk format, kept
//! separate from the `pstore` crate's in-memory types so that format stays stable while parsers
//! evolve; `docs/report.schema.json` describes exactly what they serialize to.

use serde::{Deserialize, Deserializer, Serialize};

use crate::context::ContextItem;

/// The manifest format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Contents of `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Manifest {
    pub format_version: u32,
    /// Directory name of the report; derived from the records' content only.
    pub id: String,
    /// When the report was written, RFC 3339 UTC.
    pub created: String,
    /// Where the crash data came from: "pstore" for now, "kdump" later.
    pub source: String,
    pub backend: Option<String>,
    /// Reason of the last dump: "Panic", "Oops", ...
    pub dump_reason: Option<String>,
    /// Wall-clock time of the crash, RFC 3339 UTC, when a record carried it.
    pub crash_time: Option<String>,
    pub kernel_release: Option<String>,
    /// True when parts are missing, a record was truncated or could not be decoded.
    pub partial: bool,
    #[serde(default)]
    pub dumps: Vec<DumpEntry>,
    pub records: Vec<RecordEntry>,
    pub gaps: Vec<String>,
    /// Every file of the report directory except `report.json` itself.
    pub files: Vec<FileEntry>,
    /// The capture kernel's account, for kdump reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdump: Option<KdumpEntry>,
    /// The kernel log analysis; absent when the crash left no text at all. A manifest whose
    /// analysis an older or newer `kmsg` cannot read still loads, without it.
    #[serde(default, deserialize_with = "lenient_analysis")]
    pub analysis: Option<kmsg::Analysis>,
    /// Facts about the machine read at save time (see `context`); absent when none was asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ContextItem>,
}

/// One kmsg dump (`Panic#1`, `Oops#2`) and which of its parts were found: pstore's own
/// description, serialised as is.
pub use pstore::Dump as DumpEntry;

/// A pstore record the report was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RecordEntry {
    pub file_name: String,
    pub origin: RecordOrigin,
    pub size: u64,
    /// SHA-256 of the record file as read, lowercase hex.
    pub sha256: String,
    pub decoding: RecordDecoding,
}

/// Where a record was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordOrigin {
    /// The pstore filesystem (`/sys/fs/pstore`).
    Pstore,
    /// systemd-pstore's archive (`/var/lib/systemd/pstore`).
    SystemdArchive,
}

/// How a record's bytes were turned into report content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum RecordDecoding {
    Plain,
    Decompressed {
        algorithm: String,
    },
    /// Kept byte for byte in the report because it could not be decoded.
    Raw {
        reason: String,
    },
}

/// A file of the report directory with its integrity data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FileEntry {
    /// Path relative to the report directory, '/'-separated.
    pub name: String,
    pub size: u64,
    pub sha256: String,
    /// A memory dump (kdump's `vmcore.kdump`): kept beside the report, left out of exports
    /// unless asked for.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dump: bool,
}

/// What the capture kernel did, for a report whose source is kdump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct KdumpEntry {
    /// Size of /proc/vmcore (or of the file captured offline).
    pub vmcore_bytes: u64,
    /// The log holds every record the ring buffer had.
    pub log_complete: bool,
    /// Why parts of the log or the dump are missing, one line each.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The dump written beside the log, when one was.
    pub dump: Option<KdumpDump>,
}

/// The filtered, compressed dump of a kdump capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct KdumpDump {
    /// Its name in the report directory.
    pub file: String,
    /// makedumpfile's dump level, 0-31.
    pub level: u8,
    /// zstd, zlib, lzo or none.
    pub compression: String,
    /// False when the capture stopped part way (a full disk, say): readers get the pages
    /// written before that.
    pub complete: bool,
    pub pages: u64,
}

impl From<pstore::Origin> for RecordOrigin {
    fn from(origin: pstore::Origin) -> Self {
        match origin {
            pstore::Origin::Pstore => Self::Pstore,
            pstore::Origin::SystemdArchive => Self::SystemdArchive,
        }
    }
}

impl From<&pstore::Decoding> for RecordDecoding {
    fn from(decoding: &pstore::Decoding) -> Self {
        match decoding {
            pstore::Decoding::Plain => Self::Plain,
            pstore::Decoding::Decompressed { algorithm } => Self::Decompressed {
                algorithm: algorithm.clone(),
            },
            pstore::Decoding::Raw { reason } => Self::Raw {
                reason: reason.clone(),
            },
        }
    }
}

impl From<&pstore::UsedRecord> for RecordEntry {
    fn from(record: &pstore::UsedRecord) -> Self {
        Self {
            file_name: record.file_name.clone(),
            origin: record.origin.into(),
            size: record.size,
            sha256: record.sha256.clone(),
            decoding: (&record.decoding).into(),
        }
    }
}

fn lenient_analysis<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<kmsg::Analysis>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

impl Manifest {
    /// The class of the analysis, or "unknown" when there is none.
    pub fn class(&self) -> &str {
        self.analysis
            .as_ref()
            .map_or("unknown", |a| a.class.as_str())
    }

    /// The crash signature, when an analysis exists.
    pub fn signature(&self) -> Option<&str> {
        self.analysis.as_ref().map(|a| a.signature.as_str())
    }
}
