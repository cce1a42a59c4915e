//! The promise checked after every faulted run: each record is still where the kernel (or
//! systemd-pstore, or the capture kernel) put it, byte for byte, or held by a complete report
//! whose manifest checks out; nothing else that looks like a report is visible.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Files with their bytes.
type Files = Vec<(PathBuf, Vec<u8>)>;

/// Every crash input of a fake root before the first save, with its bytes.
pub struct Originals {
    pstore: Files,
    archive: Files,
    /// Capture directories, with the files each held.
    captures: Vec<(PathBuf, Files)>,
}

/// A report directory that checked out.
pub struct Report {
    pub id: String,
    records: BTreeSet<String>,
    files: BTreeSet<(String, String)>,
    source: String,
}

/// What a root holds after a run.
pub struct State {
    pub reports: Vec<Report>,
    /// Records (and capture directories) not yet saved.
    pub unsaved: usize,
    /// Hidden temporary or half-deleted directories in the reports directory.
    pub leftovers: Vec<String>,
}

pub fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn files_under(dir: &Path) -> Files {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push((path.clone(), fs::read(&path).unwrap()));
        }
    }
    found.sort();
    found
}

impl Originals {
    pub fn snapshot(root: &Path) -> Self {
        let captures = fs::read_dir(root.join("var/lib/lastgasp/kdump"))
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .map(|dir| (dir.clone(), files_under(&dir)))
                    .collect()
            })
            .unwrap_or_default();
        let originals = Self {
            pstore: files_under(&root.join("sys/fs/pstore")),
            archive: files_under(&root.join("var/lib/systemd/pstore")),
            captures,
        };
        assert!(
            originals.pstore.len() + originals.archive.len() + originals.captures.len() > 0,
            "no fixture records under {}",
            root.display()
        );
        originals
    }
}

/// Reads and checks every report of `reports_dir`; `Err` names the first broken one.
fn reports(reports_dir: &Path) -> Result<(Vec<Report>, Vec<String>), String> {
    let mut reports = Vec::new();
    let mut leftovers = Vec::new();
    let Ok(entries) = fs::read_dir(reports_dir) else {
        return Ok((reports, leftovers));
    };
    for entry in entries {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name == ".lock" || name == ".pruned" {
            continue;
        }
        if name.starts_with('.') && (name.contains(".tmp-") || name.contains(".del-")) {
            leftovers.push(name);
            continue;
        }
        reports.push(check_report(&entry.path(), &name)?);
    }
    reports.sort_by(|a, b| a.id.cmp(&b.id));
    Ok((reports, leftovers))
}

/// A visible report must be complete: manifest parses, names this directory, and every file it
/// lists has the recorded size and SHA-256.
fn check_report(dir: &Path, name: &str) -> Result<Report, String> {
    let text = fs::read(dir.join("report.json"))
        .map_err(|e| format!("half-written report {name}: report.json: {e}"))?;
    let manifest: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| format!("half-written report {name}: report.json: {e}"))?;
    if manifest["id"] != name {
        return Err(format!("report {name}: manifest id is {}", manifest["id"]));
    }
    let mut files = BTreeSet::new();
    for file in manifest["files"].as_array().into_iter().flatten() {
        let file_name = file["name"].as_str().unwrap_or_default();
        let data = fs::read(dir.join(file_name))
            .map_err(|e| format!("report {name}: {file_name}: {e}"))?;
        let sha = sha256(&data);
        if file["size"] != data.len() || file["sha256"] != sha.as_str() {
            return Err(format!(
                "report {name}: {file_name} differs from its manifest"
            ));
        }
        files.insert((file_name.to_string(), sha));
    }
    let records = manifest["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| format!("{}:{}", r["file-name"].as_str().unwrap_or(""), r["sha256"]))
        .collect();
    Ok(Report {
        id: name.to_string(),
        records,
        files,
        source: manifest["source"].as_str().unwrap_or_default().to_string(),
    })
}

fn record_key(path: &Path, data: &[u8]) -> String {
    let name = path.file_name().unwrap().to_string_lossy();
    format!("{name}:\"{}\"", sha256(data))
}

/// Checks the promise over `root`; `Err` says what was lost, changed or half-visible.
pub fn check(root: &Path, originals: &Originals) -> Result<State, String> {
    let (reports, leftovers) = reports(&root.join("var/lib/lastgasp/reports"))?;
    let held = |key: &str| reports.iter().any(|r| r.records.contains(key));
    let mut unsaved = 0;
    for (path, data) in &originals.pstore {
        match fs::read(path) {
            Ok(now) if now == *data => unsaved += 1,
            Ok(_) => return Err(format!("{} changed in pstore", path.display())),
            Err(_) if held(&record_key(path, data)) => {}
            Err(_) => {
                return Err(format!(
                    "LOST: {} is gone and no report holds it",
                    path.display()
                ));
            }
        }
    }
    for (path, data) in &originals.archive {
        if fs::read(path).ok().as_ref() != Some(data) {
            return Err(format!(
                "systemd-pstore's archive file {} was touched",
                path.display()
            ));
        }
        if !held(&record_key(path, data)) {
            unsaved += 1;
        }
    }
    for (dir, files) in &originals.captures {
        let intact = files
            .iter()
            .all(|(p, d)| fs::read(p).ok().as_ref() == Some(d));
        let dmesg = files
            .iter()
            .find(|(p, _)| p.file_name().is_some_and(|n| n == "dmesg.txt"))
            .map(|(_, d)| ("dmesg.txt".to_string(), sha256(d)));
        let saved = reports
            .iter()
            .any(|r| r.source == "kdump" && dmesg.as_ref().is_some_and(|d| r.files.contains(d)));
        match (intact, saved) {
            (_, true) => {}
            (true, false) => unsaved += 1,
            (false, false) => {
                return Err(format!(
                    "LOST: capture {} damaged and not saved",
                    dir.display()
                ));
            }
        }
    }
    Ok(State {
        reports,
        unsaved,
        leftovers,
    })
}
