//! What leaves the machine for one report: its files scrubbed, its report.json scrubbed too
//! (except the analysis' identity: class, function, frames, signature and hashes, computed
//! before scrubbing) with each file's size and SHA-256 updated, packed by the report crate's own
//! `export` into the same .tar.zst `lastgasp export` makes, memory dumps left out. A file that
//! is not UTF-8 text cannot be scrubbed and is left out, and the manifest says so.

use std::fs;
use std::io::Read;
use std::path::Path;

use report::{Loaded, Store};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::identifiers;
use crate::scrub::{Identifiers, Scrubber};

/// The largest report file read for sending.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// Keys of report.json whose values are kept as they are: ids, hashes and file names (the
/// archive holds the files under the names listed), and the analysis' identity, which the
/// signature is made of and which must stay what was computed.
const KEPT_KEYS: [&str; 12] = [
    "id",
    "name",
    "sha256",
    "signature",
    "signature_frames",
    "hashes",
    "class",
    "function",
    "faulting_function",
    "frames",
    "fault_frame",
    "link_register",
];

/// A report ready to go.
#[derive(Debug, Clone)]
pub struct Payload {
    pub id: String,
    /// Of the analysis, computed before scrubbing.
    pub signature: Option<String>,
    pub class: Option<String>,
    pub title: Option<String>,
    pub kernel_release: Option<String>,
    /// The scrubbed report.json.
    pub manifest: Value,
    /// The .tar.zst.
    pub archive: Vec<u8>,
    /// Files left out because they are not text.
    pub left_out: Vec<String>,
}

impl Payload {
    /// The payload a queued archive holds, its facts read back from its report.json.
    pub fn from_archive(id: &str, archive: Vec<u8>) -> std::io::Result<Self> {
        let manifest_name = format!("{id}/report.json");
        let manifest: Value = contents(&archive)?
            .into_iter()
            .find(|f| f.name == manifest_name)
            .and_then(|f| serde_json::from_slice(&f.bytes).ok())
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("the queued archive has no readable {manifest_name}"),
                )
            })?;
        let analysis = |key: &str| {
            manifest
                .get("analysis")
                .and_then(|a| a.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Ok(Self {
            id: id.to_string(),
            signature: analysis("signature"),
            class: analysis("class"),
            title: analysis("title"),
            kernel_release: manifest
                .get("kernel_release")
                .and_then(Value::as_str)
                .map(str::to_string),
            manifest,
            archive,
            left_out: Vec::new(),
        })
    }
}

/// One file inside an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Builds the payload of report `id` from `store`, scrubbing with the machine's identifiers
/// `ids` (plus the host name its journal tail names) and `patterns`. `staging` is an empty
/// directory of ours to lay the scrubbed copy out in; it is emptied again after.
pub fn build(
    store: &Store,
    id: &str,
    ids: &Identifiers,
    patterns: &[String],
    staging: &Path,
) -> Result<Payload> {
    let fail = |source| Error::Report {
        id: id.to_string(),
        source,
    };
    let loaded = store.load(id).map_err(fail)?;
    let mut files = Vec::new();
    let mut left_out = Vec::new();
    for entry in loaded.manifest.files.iter().filter(|f| !f.dump) {
        let bytes = store
            .read_file(&loaded, &entry.name, MAX_FILE_BYTES)
            .map_err(fail)?;
        match String::from_utf8(bytes) {
            Ok(text) => files.push((entry.name.clone(), text)),
            // A kernel log with a damaged byte is still the log (and the server needs
            // dmesg.txt): the bad bytes become U+FFFD and the rest is scrubbed as usual.
            Err(e) if is_text_name(&entry.name) => files.push((
                entry.name.clone(),
                String::from_utf8_lossy(e.as_bytes()).into_owned(),
            )),
            Err(_) => left_out.push(entry.name.clone()),
        }
    }
    let mut ids = ids.clone();
    for (_, text) in files.iter().filter(|(name, _)| name.contains("journal")) {
        if let Some(host) = identifiers::journal_hostname(text) {
            ids.hostnames.insert(host);
        }
    }
    let scrubber = Scrubber::new(&ids, patterns)?;
    let scrubbed: Vec<(String, String)> = files
        .into_iter()
        .map(|(name, text)| (name, scrubber.scrub(&text)))
        .collect();
    let manifest = scrub_manifest(&loaded, &scrubbed, &left_out, &scrubber);
    let archive = pack(&loaded, &manifest, &scrubbed, staging)?;
    let analysis = loaded.manifest.analysis.as_ref();
    Ok(Payload {
        id: loaded.id.clone(),
        signature: analysis.map(|a| a.signature.clone()),
        class: analysis.map(|a| a.class.clone()),
        title: analysis.map(|a| scrubber.scrub(&a.title)),
        kernel_release: loaded.manifest.kernel_release.clone(),
        manifest,
        archive,
        left_out,
    })
}

/// Files that are text by their name, whatever bytes they hold.
fn is_text_name(name: &str) -> bool {
    name.ends_with(".txt") || name.ends_with(".json") || name.ends_with(".log")
}

/// report.json with its strings scrubbed, the files that stay listed with their new size and
/// digest, and those left out dropped.
fn scrub_manifest(
    loaded: &Loaded,
    files: &[(String, String)],
    left_out: &[String],
    scrubber: &Scrubber,
) -> Value {
    let mut manifest = serde_json::to_value(&loaded.manifest).expect("manifests serialise");
    if let Some(list) = manifest.get_mut("files").and_then(Value::as_array_mut) {
        list.retain(|f| {
            let name = f.get("name").and_then(Value::as_str).unwrap_or_default();
            let dump = f.get("dump").and_then(Value::as_bool).unwrap_or(false);
            !dump && !left_out.iter().any(|l| l == name)
        });
        for file in list.iter_mut() {
            let name = file.get("name").and_then(Value::as_str).unwrap_or_default();
            if let Some((_, text)) = files.iter().find(|(n, _)| n == name) {
                file["size"] = Value::from(text.len() as u64);
                file["sha256"] = Value::from(hex::encode(Sha256::digest(text.as_bytes())));
            }
        }
    }
    scrub_value(&mut manifest, scrubber);
    manifest
}

fn scrub_value(value: &mut Value, scrubber: &Scrubber) {
    match value {
        Value::String(text) => *text = scrubber.scrub(text),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, scrubber)),
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if !KEPT_KEYS.contains(&key.as_str()) {
                    scrub_value(v, scrubber);
                }
            }
        }
        _ => {}
    }
}

/// The scrubbed copy laid out as a report in `staging`, exported by the report crate.
fn pack(
    loaded: &Loaded,
    manifest: &Value,
    files: &[(String, String)],
    staging: &Path,
) -> Result<Vec<u8>> {
    let dir = staging.join(&loaded.id);
    let result = (|| {
        for (name, text) in files {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(Error::io(parent))?;
            }
            fs::write(&path, text).map_err(Error::io(&path))?;
        }
        fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        let mut json = serde_json::to_vec_pretty(manifest).expect("values serialise");
        json.push(b'\n');
        let path = dir.join("report.json");
        fs::write(&path, json).map_err(Error::io(&path))?;
        let out = staging.join(format!("{}.tar.zst", loaded.id));
        Store::open(staging)
            .export(&loaded.id, &out, true, false)
            .map_err(|source| Error::Report {
                id: loaded.id.clone(),
                source,
            })?;
        fs::read(&out).map_err(Error::io(&out))
    })();
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_file(staging.join(format!("{}.tar.zst", loaded.id)));
    result
}

/// The files of a .tar.zst, in order (directories left out).
pub fn contents(archive: &[u8]) -> std::io::Result<Vec<ArchivedFile>> {
    let decoder = ruzstd::decoding::StreamingDecoder::new(archive)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    let mut tar = tar::Archive::new(decoder);
    let mut out = Vec::new();
    for entry in tar.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path()?.to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        out.push(ArchivedFile { name, bytes });
    }
    Ok(out)
}
