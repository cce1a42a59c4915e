//! The upload parser: turns the body of `POST /api/v1/reports` (a `.tar.zst` as `lastgasp export`
//! writes it) into a checked report, or says in one line why not. Pure and bounded: the body's
//! size is checked before decompression, the decompressed size while it happens (a bomb stops at
//! the limit), and only regular files and their directories under one `<id>/` folder get through.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// How much one upload may weigh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Compressed body, bytes.
    pub max_upload: u64,
    /// Everything the body decompresses to, bytes.
    pub max_unpacked: u64,
    /// Entries in the archive, directories included.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_upload: 8 << 20,
            max_unpacked: 64 << 20,
            max_entries: 256,
        }
    }
}

/// A report that passed every check.
#[derive(Debug, Clone)]
pub struct Upload {
    pub manifest: report::Manifest,
    /// SHA-256 of the body as uploaded: the archive's name on disk.
    pub sha256: String,
    /// Size of the body as uploaded.
    pub bytes: u64,
    /// The server's own analysis of `dmesg.txt`.
    pub analysis: kmsg::Analysis,
    /// The signature the client's report.json carried, when it had one.
    pub client_signature: Option<String>,
    /// `dmesg.txt` as text.
    pub log: String,
}

impl Upload {
    pub fn id(&self) -> &str {
        &self.manifest.id
    }
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IngestError {
    #[error("upload is {size} bytes, more than the limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("archive unpacks to more than the limit of {limit} bytes")]
    Bomb { limit: u64 },
    #[error("archive has more than {limit} entries")]
    TooManyEntries { limit: usize },
    #[error("body is not zstd-compressed (expected a .tar.zst)")]
    NotZstd,
    #[error("zstd stream is damaged or truncated: {0}")]
    Zstd(String),
    #[error("tar archive is damaged or truncated: {0}")]
    Tar(String),
    #[error("archive entry {name:?}: {why}")]
    Entry { name: String, why: String },
    #[error("archive has no {0}")]
    Missing(String),
    #[error("report.json: {0}")]
    Manifest(String),
    #[error("{name}: {why}")]
    Mismatch { name: String, why: String },
}

impl IngestError {
    /// Too big for the server, as opposed to malformed.
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            Self::TooLarge { .. } | Self::Bomb { .. } | Self::TooManyEntries { .. }
        )
    }
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const MANIFEST: &str = "report.json";
const LOG: &str = "dmesg.txt";

/// Checks `body` and returns the report in it.
pub fn parse(body: &[u8], limits: &Limits) -> Result<Upload, IngestError> {
    let size = body.len() as u64;
    if size > limits.max_upload {
        return Err(IngestError::TooLarge {
            size,
            limit: limits.max_upload,
        });
    }
    if !body.starts_with(&ZSTD_MAGIC) {
        return Err(IngestError::NotZstd);
    }
    let tar = decompress(body, limits.max_unpacked)?;
    let (top, files) = read_tar(&tar, limits.max_entries)?;
    let manifest_bytes = files
        .get(MANIFEST)
        .ok_or_else(|| IngestError::Missing(format!("{top}/{MANIFEST}")))?;
    let manifest = check_manifest(manifest_bytes)?;
    if manifest.id != top {
        return Err(IngestError::Manifest(format!(
            "id {:?} is not the archive's folder {top:?}",
            manifest.id
        )));
    }
    check_files(&manifest, &files)?;
    let log_bytes = files
        .get(LOG)
        .ok_or_else(|| IngestError::Missing(format!("{top}/{LOG}")))?;
    let log = String::from_utf8_lossy(log_bytes).into_owned();
    let analysis = kmsg::analyze(&log);
    let client_signature = manifest.signature().map(str::to_owned);
    Ok(Upload {
        sha256: hex::encode(Sha256::digest(body)),
        bytes: size,
        manifest,
        analysis,
        client_signature,
        log,
    })
}

/// Decompresses at most `limit` bytes; one more means a bomb.
fn decompress(body: &[u8], limit: u64) -> Result<Vec<u8>, IngestError> {
    let decoder = zstd::stream::read::Decoder::with_buffer(body)
        .map_err(|e| IngestError::Zstd(e.to_string()))?;
    let mut out = Vec::new();
    decoder
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError::Zstd(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(IngestError::Bomb { limit });
    }
    Ok(out)
}

/// Reads every entry: one top folder, regular files and directories only, safe names, no
/// duplicates. Returns the folder and the files by their name under it.
fn read_tar(
    data: &[u8],
    max_entries: usize,
) -> Result<(String, BTreeMap<String, Vec<u8>>), IngestError> {
    let mut archive = tar::Archive::new(data);
    let entries = archive
        .entries()
        .map_err(|e| IngestError::Tar(e.to_string()))?;
    let mut top: Option<String> = None;
    let mut files = BTreeMap::new();
    let mut dirs = BTreeSet::new();
    let mut count = 0usize;
    for entry in entries {
        let mut entry = entry.map_err(|e| IngestError::Tar(e.to_string()))?;
        count += 1;
        if count > max_entries {
            return Err(IngestError::TooManyEntries { limit: max_entries });
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let bad = |why: &str| IngestError::Entry {
            name: raw.clone(),
            why: why.to_owned(),
        };
        let kind = entry.header().entry_type();
        let is_dir = kind == tar::EntryType::Directory;
        if !is_dir && kind != tar::EntryType::Regular {
            return Err(bad(&format!(
                "is a {}, only regular files and directories are accepted",
                kind_name(kind)
            )));
        }
        let trimmed = if is_dir {
            raw.strip_suffix('/').unwrap_or(&raw)
        } else {
            &raw
        };
        let parts: Vec<&str> = trimmed.split('/').collect();
        if let Some(why) = parts.iter().find_map(|p| unsafe_component(p)) {
            return Err(bad(why));
        }
        let first = parts[0].to_owned();
        match &top {
            None => top = Some(first),
            Some(t) if *t != first => return Err(bad("is outside the report's folder")),
            Some(_) => {}
        }
        let rest = parts[1..].join("/");
        if is_dir {
            if !dirs.insert(rest) {
                return Err(bad("appears twice"));
            }
            continue;
        }
        if rest.is_empty() {
            return Err(bad("is a file where the report's folder should be"));
        }
        let mut content = Vec::new();
        entry
            .read_to_end(&mut content)
            .map_err(|e| IngestError::Tar(e.to_string()))?;
        if files.insert(rest, content).is_some() {
            return Err(bad("appears twice"));
        }
    }
    let top = top.ok_or_else(|| IngestError::Missing("entry (empty archive)".into()))?;
    Ok((top, files))
}

/// Why a path component is refused, if it is.
fn unsafe_component(part: &str) -> Option<&'static str> {
    if part.is_empty() {
        Some("has an absolute path or an empty component")
    } else if part == "." || part == ".." {
        Some("climbs out of its folder (`.` or `..`)")
    } else if !part
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'@'))
    {
        Some("has characters outside [A-Za-z0-9._+@-]")
    } else {
        None
    }
}

fn kind_name(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Symlink => "symbolic link",
        tar::EntryType::Link => "hard link",
        tar::EntryType::Char => "character device",
        tar::EntryType::Block => "block device",
        tar::EntryType::Fifo => "fifo",
        _ => "special entry",
    }
}

/// Parses report.json after checking it against docs/report.schema.json.
fn check_manifest(bytes: &[u8]) -> Result<report::Manifest, IngestError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| IngestError::Manifest(e.to_string()))?;
    if let Err(error) = schema().validate(&value) {
        let at = error.instance_path.to_string();
        let at = if at.is_empty() { "/".into() } else { at };
        return Err(IngestError::Manifest(format!(
            "does not match the schema at {at}: {error}"
        )));
    }
    let manifest: report::Manifest =
        serde_json::from_value(value).map_err(|e| IngestError::Manifest(e.to_string()))?;
    if !report::is_valid_id(&manifest.id) {
        return Err(IngestError::Manifest(format!(
            "id {:?} is not a report id",
            manifest.id
        )));
    }
    Ok(manifest)
}

/// Compiles the report.json schema now rather than in the first upload (which would hold every
/// upload arriving meanwhile).
pub fn warm_up() {
    schema();
}

fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let value: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/report.schema.json"))
                .expect("docs/report.schema.json is JSON");
        jsonschema::validator_for(&value).expect("docs/report.schema.json is a valid schema")
    })
}

/// The archive holds exactly the files report.json lists (memory dumps excepted: they never
/// travel), each with the size and SHA-256 it lists.
fn check_files(
    manifest: &report::Manifest,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), IngestError> {
    let mut listed = BTreeSet::new();
    for entry in &manifest.files {
        if entry.dump {
            if files.contains_key(&entry.name) {
                return Err(IngestError::Mismatch {
                    name: entry.name.clone(),
                    why: "memory dumps are not accepted".into(),
                });
            }
            continue;
        }
        let data = files.get(&entry.name).ok_or_else(|| {
            IngestError::Missing(format!("{} (listed in report.json)", entry.name))
        })?;
        let mismatch = |why: String| IngestError::Mismatch {
            name: entry.name.clone(),
            why,
        };
        if data.len() as u64 != entry.size {
            return Err(mismatch(format!(
                "{} bytes, report.json says {}",
                data.len(),
                entry.size
            )));
        }
        if !hex::encode(Sha256::digest(data)).eq_ignore_ascii_case(&entry.sha256) {
            return Err(mismatch("sha256 differs from report.json".into()));
        }
        listed.insert(entry.name.as_str());
    }
    if let Some(extra) = files
        .keys()
        .find(|name| *name != MANIFEST && !listed.contains(name.as_str()))
    {
        return Err(IngestError::Mismatch {
            name: extra.clone(),
            why: "is not listed in report.json".into(),
        });
    }
    Ok(())
}
