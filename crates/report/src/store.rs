//! The reports directory: writing a report durably (temporary directory, fsync, rename), listing,
//! resolving id prefixes, loading manifests and checking the files against them.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::durable::{discard_dir, publish_dir, sync_dir, write_file_synced};
use crate::error::{Error, went_away};
use crate::id::is_valid_id;
use crate::manifest::{FORMAT_VERSION, FileEntry, Manifest};
use crate::new_report::NewReport;

/// Name of the manifest inside a report directory.
pub const MANIFEST_FILE: &str = "report.json";
/// A manifest is a few KiB; anything near this is not one of ours.
const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// A directory holding one sub-directory per report.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// What `Store::write` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    pub id: String,
    pub path: PathBuf,
    /// The same records had already been saved; nothing was written.
    pub already_present: bool,
    /// The report had been saved and later removed by retention; it is not written again
    /// (`already_present` is set too, and `path` does not exist).
    pub previously_pruned: bool,
}

/// One entry of `Store::list`.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub path: PathBuf,
    /// Total size of the files in the report directory.
    pub bytes: u64,
    /// The manifest, or why it could not be read (the directory is still listed, and counted by
    /// retention, so a damaged report is visible rather than silently ignored).
    pub manifest: Result<Manifest, String>,
}

/// A report whose manifest was read.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub id: String,
    pub path: PathBuf,
    pub manifest: Manifest,
}

impl Store {
    /// A store rooted at `dir`. Nothing is touched until the first write; a missing directory
    /// lists as empty.
    pub fn open(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `report` stamped with the current time. See `write_at`.
    pub fn write(&self, report: &NewReport) -> Result<WriteOutcome, Error> {
        self.write_at(report, jiff::Timestamp::now())
    }

    /// Writes `report` into `<dir>/.<id>.tmp-<pid>`, fsyncs every file and directory, renames it
    /// to `<dir>/<id>` and fsyncs `<dir>`. Only after `Ok` is the report on disk for good. When a
    /// report with the same id exists, or retention removed it before, nothing is written and
    /// `already_present` is set.
    pub fn write_at(
        &self,
        report: &NewReport,
        created: jiff::Timestamp,
    ) -> Result<WriteOutcome, Error> {
        let fail = |error| Error::Write {
            dir: self.dir.clone(),
            error,
        };
        let id = report.id();
        let target = self.dir.join(&id);
        fs::create_dir_all(&self.dir).map_err(fail)?;
        // Only a real directory is a report: a symlink or file under the id's name is no proof
        // that the records were saved (publishing onto it fails, and the records stay).
        let exists = fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir());
        if exists || self.was_pruned(&id) {
            return Ok(WriteOutcome {
                id,
                path: target,
                already_present: true,
                previously_pruned: !exists,
            });
        }
        check_file_names(report).map_err(fail)?;
        let tmp = self.dir.join(format!(".{id}.tmp-{}", std::process::id()));
        if fs::symlink_metadata(&tmp).is_ok() {
            // Left by an earlier run that had our pid and died mid-write.
            fs::remove_dir_all(&tmp).map_err(fail)?;
        }
        fs::create_dir(&tmp).map_err(fail)?;
        let written = fill_dir(&tmp, &id, report, created)
            .and_then(|()| publish_dir(&tmp, &target))
            .and_then(|published| {
                sync_dir(&self.dir)?;
                Ok(published)
            });
        match written {
            Ok(published) => {
                if !published {
                    discard_dir(&tmp);
                }
                Ok(WriteOutcome {
                    id,
                    path: target,
                    already_present: !published,
                    previously_pruned: false,
                })
            }
            Err(error) => {
                discard_dir(&tmp);
                Err(fail(error))
            }
        }
    }

    /// Every report directory, oldest first (by creation time, then id). A missing reports
    /// directory is an empty list.
    pub fn list(&self) -> Result<Vec<Listed>, Error> {
        let mut listed: Vec<Listed> = self
            .report_dirs()?
            .into_iter()
            .filter_map(|(id, path)| {
                let manifest = read_manifest(&path);
                // Removed since the directory was listed (retention): gone, not damaged.
                if let Err(Error::Read { error, .. }) = &manifest
                    && went_away(&path, error)
                {
                    return None;
                }
                Some(Listed {
                    bytes: dir_size(&path),
                    manifest: manifest.map_err(|e| e.to_string()),
                    id,
                    path,
                })
            })
            .collect();
        listed.sort_by(|a, b| {
            let created = |l: &Listed| l.manifest.as_ref().map(|m| m.created.clone()).ok();
            created(a).cmp(&created(b)).then_with(|| a.id.cmp(&b.id))
        });
        Ok(listed)
    }

    /// The one report id that is `prefix` or starts with it.
    pub fn resolve(&self, prefix: &str) -> Result<String, Error> {
        if !is_valid_id(prefix) {
            return Err(Error::InvalidId(prefix.to_string()));
        }
        let ids: Vec<String> = self.report_dirs()?.into_iter().map(|(id, _)| id).collect();
        if ids.iter().any(|id| id == prefix) {
            return Ok(prefix.to_string());
        }
        let mut matching: Vec<String> = ids
            .into_iter()
            .filter(|id| id.starts_with(prefix))
            .collect();
        matching.sort();
        match matching.len() {
            0 => Err(Error::NotFound(prefix.to_string())),
            1 => Ok(matching.remove(0)),
            _ => Err(Error::Ambiguous {
                prefix: prefix.to_string(),
                ids: matching,
            }),
        }
    }

    /// Loads the report `id_or_prefix` names (see `resolve`).
    pub fn load(&self, id_or_prefix: &str) -> Result<Loaded, Error> {
        let id = self.resolve(id_or_prefix)?;
        let path = self.dir.join(&id);
        let manifest = match read_manifest(&path) {
            Err(Error::Read { error, .. }) if went_away(&path, &error) => {
                return Err(Error::Gone { id });
            }
            other => other?,
        };
        Ok(Loaded { id, path, manifest })
    }

    /// Reads one file of a loaded report named in its manifest, at most `max_bytes` of it.
    pub fn read_file(&self, loaded: &Loaded, name: &str, max_bytes: u64) -> Result<Vec<u8>, Error> {
        let path = loaded.path.join(name);
        if !is_safe_relative(name) {
            return Err(Error::Read {
                path,
                error: io::Error::new(io::ErrorKind::InvalidInput, "unsafe file name"),
            });
        }
        let mut data = Vec::new();
        File::open(&path)
            .and_then(|f| f.take(max_bytes).read_to_end(&mut data))
            .map_err(|error| Error::Read { path, error })?;
        Ok(data)
    }

    /// `(id, path)` of every directory that looks like a report (valid id, not hidden).
    pub(crate) fn report_dirs(&self) -> Result<Vec<(String, PathBuf)>, Error> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(Error::Read {
                    path: self.dir.clone(),
                    error,
                });
            }
        };
        let mut dirs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| Error::Read {
                path: self.dir.clone(),
                error,
            })?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && is_valid_id(&name) {
                dirs.push((name, entry.path()));
            }
        }
        dirs.sort();
        Ok(dirs)
    }
}

/// Writes the files, then the manifest describing them, and fsyncs every directory involved.
fn fill_dir(dir: &Path, id: &str, report: &NewReport, created: jiff::Timestamp) -> io::Result<()> {
    let mut entries = Vec::with_capacity(report.files.len());
    let mut subdirs: Vec<PathBuf> = Vec::new();
    for file in &report.files {
        let path = dir.join(&file.name);
        if let Some(parent) = path.parent().filter(|p| *p != dir)
            && !subdirs.iter().any(|d| d == parent)
        {
            fs::create_dir_all(parent)?;
            subdirs.push(parent.to_path_buf());
        }
        write_file_synced(&path, &file.data)?;
        entries.push(FileEntry {
            name: file.name.clone(),
            size: file.data.len() as u64,
            sha256: sha256_hex(&file.data),
            dump: false,
        });
    }
    for file in &report.attached {
        let path = dir.join(&file.name);
        let (size, sha256) = crate::attach::attach(&file.source, &path)?;
        entries.push(FileEntry {
            name: file.name.clone(),
            size,
            sha256,
            dump: true,
        });
    }
    let manifest = build_manifest(id, report, created, entries);
    let mut json = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
    json.push(b'\n');
    write_file_synced(&dir.join(MANIFEST_FILE), &json)?;
    for subdir in &subdirs {
        sync_dir(subdir)?;
    }
    sync_dir(dir)
}

fn build_manifest(
    id: &str,
    report: &NewReport,
    created: jiff::Timestamp,
    files: Vec<FileEntry>,
) -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        id: id.to_string(),
        created: rfc3339(created),
        source: report.source.clone(),
        backend: report.backend.clone(),
        dump_reason: report.dump_reason.clone(),
        crash_time: report
            .crash_time
            .and_then(|secs| jiff::Timestamp::from_second(secs).ok())
            .map(rfc3339),
        kernel_release: report
            .analysis
            .as_ref()
            .and_then(|a| a.kernel_release.clone()),
        partial: report.partial,
        dumps: report.dumps.clone(),
        records: report.records.clone(),
        gaps: report.gaps.clone(),
        files,
        kdump: report.kdump.clone(),
        analysis: report.analysis.clone(),
        context: report.context.clone(),
    }
}

/// RFC 3339 in UTC with whole seconds, e.g. `2026-11-26T03:17:29Z`.
fn rfc3339(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Rejects names that are absolute, climb up, are hidden, repeat, or shadow the manifest.
fn check_file_names(report: &NewReport) -> io::Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    let names = report
        .files
        .iter()
        .map(|f| f.name.as_str())
        .chain(report.attached.iter().map(|f| f.name.as_str()));
    for name in names {
        if !is_safe_relative(name) || name == MANIFEST_FILE || seen.contains(&name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing report file name {name:?}"),
            ));
        }
        seen.push(name);
    }
    Ok(())
}

pub(crate) fn is_safe_relative(name: &str) -> bool {
    !name.is_empty()
        && name.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

pub(crate) fn read_manifest(report_dir: &Path) -> Result<Manifest, Error> {
    let path = report_dir.join(MANIFEST_FILE);
    let mut data = Vec::new();
    File::open(&path)
        .and_then(|f| f.take(MAX_MANIFEST_BYTES).read_to_end(&mut data))
        .map_err(|error| Error::Read {
            path: path.clone(),
            error,
        })?;
    // Check the version first so a future format gets a clear message, not a field error.
    let version = serde_json::from_slice::<serde_json::Value>(&data)
        .ok()
        .and_then(|v| v.get("format-version").and_then(serde_json::Value::as_u64));
    if let Some(found) = version.filter(|v| *v != u64::from(FORMAT_VERSION)) {
        return Err(Error::Version {
            path,
            found: u32::try_from(found).unwrap_or(u32::MAX),
        });
    }
    serde_json::from_slice(&data).map_err(|error| Error::Manifest { path, error })
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Bytes of the regular files below `dir`, for retention; unreadable parts count as zero.
pub(crate) fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => dir_size(&entry.path()),
            Ok(t) if t.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}
