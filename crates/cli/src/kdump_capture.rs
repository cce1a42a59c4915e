//! What `lastgasp capture` leaves on disk in the capture kernel and `lastgasp save` turns into a
//! report at the next boot: one directory per crash under the kdump directory, holding
//! `dmesg.txt`, `capture.json` and, when a dump was asked for, `vmcore.kdump` (named
//! `vmcore.kdump.part` until it is complete).
//!
//! The log goes to disk first and durably (temporary directory, fsync, rename), before any dump
//! is started: a dump that fills the disk or is cut short by a hang never costs the log.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const MANIFEST: &str = "capture.json";
pub const DMESG: &str = "dmesg.txt";
pub const DUMP: &str = "vmcore.kdump";
pub const DUMP_PART: &str = "vmcore.kdump.part";
const FORMAT_VERSION: u32 = 1;
/// Temporary directories start with this; `save` salvages the log of one a capture left behind.
const TMP_PREFIX: &str = ".capture-";

/// `capture.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CaptureManifest {
    pub format_version: u32,
    /// `lastgasp <version>` that wrote it.
    pub tool: String,
    pub machine: Option<String>,
    pub kernel_release: Option<String>,
    /// CRASHTIME from VMCOREINFO, Unix seconds.
    pub crash_time: Option<i64>,
    pub vmcore_bytes: u64,
    pub log_records: u64,
    pub log_complete: bool,
    #[serde(default)]
    pub warnings: Vec<String>,
    pub dump: Option<CaptureDump>,
}

/// The dump part of `capture.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CaptureDump {
    pub file: String,
    pub level: u8,
    pub compression: String,
    pub complete: bool,
    pub pages: u64,
    pub bytes: u64,
    /// Why the dump stopped, when it did.
    pub error: Option<String>,
}

impl CaptureManifest {
    pub fn new(vmcore_bytes: u64) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            tool: format!("lastgasp {}", env!("CARGO_PKG_VERSION")),
            machine: None,
            kernel_release: None,
            crash_time: None,
            vmcore_bytes,
            log_records: 0,
            log_complete: false,
            warnings: Vec::new(),
            dump: None,
        }
    }
}

/// The directory name of a capture: crash time, then a short hash of the log, so two captures
/// never collide and sort by time.
pub fn capture_name(crash_time: Option<i64>, dmesg: &[u8]) -> String {
    use sha2::Digest;
    let when = crash_time
        .and_then(|secs| jiff::Timestamp::from_second(secs).ok())
        .map_or_else(
            || "unknown-time".to_string(),
            |ts| ts.strftime("%Y%m%dT%H%M%SZ").to_string(),
        );
    let hash = hex::encode(sha2::Sha256::digest(dmesg));
    format!("{when}-{}", hash.get(..8).unwrap_or(&hash))
}

/// A capture directory being written.
pub struct CaptureDir {
    pub path: PathBuf,
}

impl CaptureDir {
    /// Writes the log and the manifest durably as `<parent>/<name>/`. From here on the log is
    /// safe whatever happens to the dump.
    pub fn publish_log(
        parent: &Path,
        name: &str,
        dmesg: &[u8],
        manifest: &CaptureManifest,
    ) -> io::Result<Self> {
        fs::create_dir_all(parent)?;
        let path = parent.join(name);
        let tmp = parent.join(format!("{TMP_PREFIX}{name}"));
        if fs::symlink_metadata(&tmp).is_ok() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir(&tmp)?;
        write_synced(&tmp.join(DMESG), dmesg)?;
        write_synced(&tmp.join(MANIFEST), &manifest_bytes(manifest)?)?;
        sync_dir(&tmp)?;
        if fs::symlink_metadata(&path).is_ok() {
            // The same crash captured again (a capture kernel that rebooted into itself):
            // the first capture stands.
            fs::remove_dir_all(&tmp)?;
        } else {
            fs::rename(&tmp, &path)?;
        }
        sync_dir(parent)?;
        Ok(Self { path })
    }

    /// Where the dump is written until it is complete.
    pub fn dump_part(&self) -> PathBuf {
        self.path.join(DUMP_PART)
    }

    /// Replaces the manifest atomically; after a complete dump, renames the part file first.
    pub fn finish(&self, manifest: &CaptureManifest) -> io::Result<()> {
        if manifest.dump.as_ref().is_some_and(|d| d.complete) {
            fs::rename(self.dump_part(), self.path.join(DUMP))?;
        }
        // setup's atomic write; its directory fsync also makes the dump's rename durable.
        setup::atomic::write_atomic(&self.path.join(MANIFEST), &manifest_bytes(manifest)?, 0o644)
            .map_err(io::Error::other)
    }
}

fn manifest_bytes(manifest: &CaptureManifest) -> io::Result<Vec<u8>> {
    let mut json = serde_json::to_vec_pretty(manifest).map_err(io::Error::other)?;
    json.push(b'\n');
    Ok(json)
}

fn write_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(data)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A capture found by `save`.
#[derive(Debug)]
pub struct FoundCapture {
    pub path: PathBuf,
    pub manifest: CaptureManifest,
    pub dmesg: Vec<u8>,
    /// The dump file, complete or not.
    pub dump: Option<PathBuf>,
}

/// Every capture under `dir`, oldest first. A directory a capture kernel left half-written (no
/// manifest, or still under its temporary name) is returned with what it holds and a warning
/// saying so; a directory without even a log is reported as an error line and skipped.
pub fn find_captures(dir: &Path) -> io::Result<(Vec<FoundCapture>, Vec<String>)> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(e),
    };
    // An entry that fails to list is an error, not the end of the list: a capture missed here
    // would be reported as nothing to save.
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            paths.push(entry.path());
        }
    }
    paths.sort();
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        match read_capture(&path) {
            Ok(Some(capture)) => found.push(capture),
            Ok(None) => {}
            Err(why) => problems.push(format!("{}: {why}", path.display())),
        }
    }
    Ok((found, problems))
}

fn read_capture(path: &Path) -> Result<Option<FoundCapture>, String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let unfinished = name.starts_with(TMP_PREFIX);
    if name.starts_with('.') && !unfinished {
        return Ok(None);
    }
    let dmesg = match fs::read(path.join(DMESG)) {
        Ok(data) => data,
        // Not a capture at all (lost+found on a dedicated dump filesystem, say), or one that
        // died before its log was written: nothing to save either way.
        Err(e)
            if e.kind() == io::ErrorKind::NotFound
                && (unfinished || !path.join(MANIFEST).exists()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(format!("cannot read {DMESG}: {e}")),
    };
    let mut manifest = match fs::read(path.join(MANIFEST)) {
        Ok(bytes) => serde_json::from_slice::<CaptureManifest>(&bytes)
            .map_err(|e| format!("{MANIFEST} is not a capture manifest: {e}"))?,
        // Only a manifest that is not there means the capture died first; one that fails to
        // read must not turn a complete capture into an undated one without its dump.
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(format!("cannot read {MANIFEST}: {e}"));
        }
        Err(_) => {
            let mut m = CaptureManifest::new(0);
            m.warnings
                .push("the capture stopped before writing its manifest".to_string());
            m
        }
    };
    if unfinished {
        manifest
            .warnings
            .push("the capture stopped while writing its log".to_string());
        manifest.log_complete = false;
    }
    let mut dump = None;
    for file in [DUMP, DUMP_PART].map(|file| path.join(file)) {
        // `is_file()` would read a failed stat as "no dump", and the dump would go unsaved.
        match fs::symlink_metadata(&file) {
            Ok(meta) if meta.is_file() => {
                dump = Some(file);
                break;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        }
    }
    if let (Some(file), Some(entry)) = (&dump, manifest.dump.as_mut())
        && file.ends_with(DUMP_PART)
        && entry.complete
    {
        entry.complete = false;
    }
    Ok(Some(FoundCapture {
        path: path.to_path_buf(),
        manifest,
        dmesg,
        dump,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> CaptureManifest {
        let mut m = CaptureManifest::new(4096);
        m.kernel_release = Some("6.1.0-57-amd64".into());
        m.crash_time = Some(1_764_561_000);
        m.log_records = 2;
        m.log_complete = true;
        m
    }

    fn complete_dump() -> CaptureDump {
        CaptureDump {
            file: DUMP.into(),
            level: 31,
            compression: "zstd".into(),
            complete: true,
            pages: 1,
            bytes: 4,
            error: None,
        }
    }

    #[test]
    fn names_sort_by_crash_time() {
        let a = capture_name(Some(1_764_561_000), b"log");
        assert!(a.starts_with("20251201T035000Z-"), "{a}");
        assert_eq!(a.len(), "20251201T034000Z-".len() + 8);
        assert!(capture_name(None, b"log").starts_with("unknown-time-"));
        assert_ne!(a, capture_name(Some(1_764_561_000), b"other log"));
    }

    #[test]
    fn log_is_published_then_dump_finished() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = CaptureDir::publish_log(tmp.path(), "c1", b"[ 1.0] hi\n", &manifest()).unwrap();
        let (found, problems) = find_captures(tmp.path()).unwrap();
        assert!(problems.is_empty());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].dmesg, b"[ 1.0] hi\n");
        assert!(found[0].dump.is_none());

        fs::write(dir.dump_part(), b"dump").unwrap();
        let mut m = manifest();
        m.dump = Some(complete_dump());
        dir.finish(&m).unwrap();
        let (found, _) = find_captures(tmp.path()).unwrap();
        assert_eq!(found[0].manifest, m);
        assert_eq!(
            found[0].dump.as_deref(),
            Some(dir.path.join(DUMP).as_path())
        );
    }

    #[test]
    fn a_part_file_is_never_called_complete() {
        let tmp = tempfile::tempdir().unwrap();
        let mut m = manifest();
        m.dump = Some(complete_dump());
        let dir = CaptureDir::publish_log(tmp.path(), "c1", b"log", &m).unwrap();
        fs::write(dir.dump_part(), b"du").unwrap();
        let (found, _) = find_captures(tmp.path()).unwrap();
        assert!(!found[0].manifest.dump.as_ref().unwrap().complete);
        assert!(found[0].dump.as_ref().unwrap().ends_with(DUMP_PART));
    }

    #[test]
    fn leftovers_of_a_dead_capture_are_salvaged() {
        let tmp = tempfile::tempdir().unwrap();
        let left = tmp.path().join(format!("{TMP_PREFIX}x"));
        fs::create_dir(&left).unwrap();
        fs::write(left.join(DMESG), b"half a log").unwrap();
        fs::create_dir(tmp.path().join(format!("{TMP_PREFIX}empty"))).unwrap();
        fs::create_dir(tmp.path().join("garbage")).unwrap();
        fs::write(tmp.path().join("garbage").join(DMESG), b"x").unwrap();
        fs::write(tmp.path().join("garbage").join(MANIFEST), b"{").unwrap();
        fs::create_dir(tmp.path().join("lost+found")).unwrap();
        let no_log = tmp.path().join("20261201T000000Z-00000000");
        fs::create_dir(&no_log).unwrap();
        fs::write(no_log.join(MANIFEST), b"{}").unwrap();
        let (found, problems) = find_captures(tmp.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert!(!found[0].manifest.log_complete);
        assert_eq!(found[0].manifest.warnings.len(), 2, "{found:?}");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("cannot read dmesg.txt"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("not a capture manifest"),
            "{problems:?}"
        );
    }

    #[test]
    fn missing_dir_has_no_captures() {
        let tmp = tempfile::tempdir().unwrap();
        let (found, problems) = find_captures(&tmp.path().join("none")).unwrap();
        assert!(found.is_empty() && problems.is_empty());
    }
}
