//! What a power cut must not do, checked on what the finishing boot handed over: every record
//! the reference run found is held, byte for byte (its SHA-256 in a report's `records`), by
//! exactly one report; the reports are the reference run's, each intact (`lastgasp list
//! --verify`, in the guest and again on the host); pstore is empty or holds only records a
//! report already has; no `.tmp-`/`.del-` directory is left.

use crate::shell;
use anyhow::{Context, Result, ensure};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// What the reference run (a save left alone) found and made.
pub struct Reference {
    /// Each record's name and bytes, as pstore showed it before the save.
    pub records: BTreeMap<String, Vec<u8>>,
    /// Each record's SHA-256, by name.
    pub sha256: BTreeMap<String, String>,
    /// The ids of the reports it made.
    pub reports: BTreeSet<String>,
}

/// What one cut did wrong; all empty when nothing.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Records no report holds and pstore no longer has.
    pub lost: Vec<String>,
    /// Records held by more than one report, and reports the reference run did not make.
    pub doubled: Vec<String>,
    /// Reports whose integrity check failed, with the reason.
    pub corrupt: Vec<String>,
    /// Temporary or half-deleted directories left in the reports directory.
    pub leftovers: Vec<String>,
    /// Anything else: a save that failed, records left in pstore that no report holds.
    pub other: Vec<String>,
}

impl Verdict {
    pub fn clean(&self) -> bool {
        self.lost.is_empty()
            && self.doubled.is_empty()
            && self.corrupt.is_empty()
            && self.leftovers.is_empty()
            && self.other.is_empty()
    }

    /// One line naming every problem.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (what, list) in [
            ("lost", &self.lost),
            ("doubled", &self.doubled),
            ("corrupt", &self.corrupt),
            ("left over", &self.leftovers),
            ("wrong", &self.other),
        ] {
            if !list.is_empty() {
                parts.push(format!("{what}: {}", list.join(", ")));
            }
        }
        parts.join("; ")
    }
}

fn text(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_else(|err| format!("({}: {err})", path.display()))
}

fn files(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut found = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(found);
    };
    for entry in entries {
        let entry = entry?;
        found.insert(
            entry.file_name().to_string_lossy().into_owned(),
            std::fs::read(entry.path())?,
        );
    }
    Ok(found)
}

fn sha256(path: &Path) -> Result<String> {
    let out = shell::stdout(Command::new("sha256sum").arg(path))?;
    out.split_whitespace()
        .next()
        .map(str::to_owned)
        .with_context(|| format!("sha256sum printed nothing for {}", path.display()))
}

/// The report directories (not hidden) and their manifests' records as (name, SHA-256).
type Reports = BTreeMap<String, Result<Vec<(String, String)>, String>>;

fn reports(dir: &Path) -> Result<(Reports, Vec<String>)> {
    let mut reports = Reports::new();
    let mut hidden = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok((reports, hidden));
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            hidden.push(name);
            continue;
        }
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let manifest = std::fs::read(entry.path().join("report.json"))
            .map_err(|err| format!("report.json: {err}"))
            .and_then(|bytes| {
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .map_err(|err| format!("report.json: {err}"))
            })
            .map(|manifest| {
                manifest["records"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|record| {
                        let field = |key: &str| record[key].as_str().unwrap_or("").to_owned();
                        (field("file-name"), field("sha256"))
                    })
                    .collect()
            });
        reports.insert(name, manifest);
    }
    Ok((reports, hidden))
}

/// `lastgasp list --verify` on the host, over the reports the guest handed over (in `out`):
/// a second, independent look at the reports' integrity. A failure is added to `verdict`.
pub fn host_verify(lastgasp: &Path, out: &Path, verdict: &mut Verdict) -> Result<()> {
    let reports = out.join("reports");
    let root = reports.with_file_name("host-root");
    std::fs::create_dir_all(&root)?;
    let out = Command::new(lastgasp)
        .arg("--root")
        .arg(&root)
        .arg("--reports-dir")
        .arg(&reports)
        .args(["list", "--verify"])
        .output()
        .with_context(|| format!("running {}", lastgasp.display()))?;
    if !out.status.success() {
        verdict.corrupt.push(format!(
            "list --verify on the host: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Reads the reference run's output: the save must have succeeded and taken every record.
pub fn reference(out: &Path, lastgasp: &Path) -> Result<Reference> {
    let save_rc = text(&out.join("save.rc"));
    ensure!(
        save_rc == "0",
        "the reference save exited {save_rc}: {}",
        text(&out.join("save.err"))
    );
    let records = files(&out.join("pstore-before"))?;
    ensure!(
        !records.is_empty(),
        "the snapshot's pstore held no records (see the records boot's console)"
    );
    let left = files(&out.join("pstore-after"))?;
    ensure!(
        left.is_empty(),
        "the reference save left records in pstore: {:?}",
        left.keys()
    );
    let mut sha256s = BTreeMap::new();
    for name in records.keys() {
        sha256s.insert(name.clone(), sha256(&out.join("pstore-before").join(name))?);
    }
    let reference = Reference {
        records,
        sha256: sha256s,
        reports: BTreeSet::new(),
    };
    let mut verdict = cut(&reference, out)?;
    host_verify(lastgasp, out, &mut verdict)?;
    ensure!(
        verdict.lost.is_empty() && verdict.corrupt.is_empty() && verdict.leftovers.is_empty(),
        "the reference run itself is wrong: {}",
        verdict.describe()
    );
    let (made, _) = reports(&out.join("reports"))?;
    Ok(Reference {
        reports: made.into_keys().collect(),
        ..reference
    })
}

/// What the cut left for the finishing boot, as it found it before its save: "records only"
/// (no report had reached the disk), "report and records" (a durable report, its records not
/// yet erased: the next save must see they are held and not save them again), "report only",
/// or "nothing" (which the check calls a loss).
pub fn found(out: &Path) -> &'static str {
    let records = std::fs::read_dir(out.join("pstore-before"))
        .map(|entries| entries.count() > 0)
        .unwrap_or(false);
    // `ls -la` of the reports directory: a report's line ends with its id, which starts with
    // the year.
    let listing = std::fs::read_to_string(out.join("reports-before.txt")).unwrap_or_default();
    let report = listing.lines().any(|line| {
        line.split_whitespace()
            .last()
            .is_some_and(|name| name.starts_with(|c: char| c.is_ascii_digit()))
    });
    match (report, records) {
        (false, true) => "records only",
        (true, true) => "report and records",
        (true, false) => "report only",
        (false, false) => "nothing",
    }
}

/// Checks one cut's finishing boot against the reference (all but [`host_verify`]).
pub fn cut(reference: &Reference, out: &Path) -> Result<Verdict> {
    let mut verdict = Verdict::default();
    let save_rc = text(&out.join("save.rc"));
    if save_rc != "0" {
        verdict.other.push(format!(
            "save exited {save_rc}: {}",
            text(&out.join("save.err"))
        ));
    }
    let verify_rc = text(&out.join("verify.rc"));
    if verify_rc != "0" {
        verdict.corrupt.push(format!(
            "list --verify in the guest exited {verify_rc}: {}",
            text(&out.join("verify.err"))
        ));
    }
    let dir = out.join("reports");
    let (made, hidden) = reports(&dir)?;
    verdict.leftovers = hidden
        .into_iter()
        .filter(|name| name.contains(".tmp-") || name.contains(".del-"))
        .collect();
    for (id, records) in &made {
        if let Err(problem) = records {
            verdict.corrupt.push(format!("{id}: {problem}"));
        }
        if !reference.reports.is_empty() && !reference.reports.contains(id) {
            verdict
                .doubled
                .push(format!("report {id} (not the reference's)"));
        }
    }
    let left = files(&out.join("pstore-after"))?;
    for (name, sha) in &reference.sha256 {
        let holders = made
            .iter()
            .filter(|(_, records)| {
                records
                    .as_ref()
                    .is_ok_and(|records| records.iter().any(|r| r.0 == *name && r.1 == *sha))
            })
            .count();
        match holders {
            0 if left.get(name) == reference.records.get(name) => verdict
                .other
                .push(format!("{name} still in pstore after a full save")),
            0 => verdict.lost.push(name.clone()),
            1 => {}
            n => verdict.doubled.push(format!("{name} in {n} reports")),
        }
    }
    for name in left.keys() {
        if !reference.records.contains_key(name) {
            verdict
                .other
                .push(format!("{name} in pstore, not a record of the snapshot"));
        }
    }
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const RECORD: &[u8] = b"Oops#1 Part1\nthe log\n";
    /// Stands for RECORD's SHA-256 (`cut` compares the manifests' hashes with the reference's;
    /// the reference computes them with sha256sum).
    const RECORD_SHA: &str = "9e36c9d9d1a7c3f8bd9b6a7f5a83cfdbcb0d8a25ad2b4c3e66a64e7a1b3d63c1";

    fn reference() -> Reference {
        Reference {
            records: BTreeMap::from([("dmesg-pstore_blk-0".to_owned(), RECORD.to_vec())]),
            sha256: BTreeMap::from([("dmesg-pstore_blk-0".to_owned(), RECORD_SHA.to_owned())]),
            reports: BTreeSet::from(["20261201T105822Z-3ad4331fb610".to_owned()]),
        }
    }

    /// A finishing boot's output: save and verify exit codes, and reports holding `held_by`.
    fn out(held_by: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        fs::write(out.join("save.rc"), "0\n").unwrap();
        fs::write(out.join("verify.rc"), "0\n").unwrap();
        for id in held_by {
            fs::create_dir_all(out.join("reports").join(id)).unwrap();
            let manifest = serde_json::json!({
                "id": id,
                "records": [{"file-name": "dmesg-pstore_blk-0", "sha256": RECORD_SHA}],
            });
            fs::write(
                out.join("reports").join(id).join("report.json"),
                manifest.to_string(),
            )
            .unwrap();
        }
        fs::create_dir_all(out.join("pstore-after")).unwrap();
        dir
    }

    #[test]
    fn one_report_holding_every_record_is_clean() {
        let dir = out(&["20261201T105822Z-3ad4331fb610"]);
        let verdict = cut(&reference(), dir.path()).unwrap();
        assert!(verdict.clean(), "{}", verdict.describe());
        // A record still in pstore is fine when a report holds it.
        fs::write(dir.path().join("pstore-after/dmesg-pstore_blk-0"), RECORD).unwrap();
        assert!(cut(&reference(), dir.path()).unwrap().clean());
    }

    #[test]
    fn a_missing_record_is_lost_unless_pstore_still_has_it() {
        let dir = out(&[]);
        let verdict = cut(&reference(), dir.path()).unwrap();
        assert_eq!(verdict.lost, ["dmesg-pstore_blk-0"]);
        fs::write(dir.path().join("pstore-after/dmesg-pstore_blk-0"), RECORD).unwrap();
        let verdict = cut(&reference(), dir.path()).unwrap();
        assert!(verdict.lost.is_empty());
        assert_eq!(verdict.other.len(), 1, "{}", verdict.describe());
    }

    #[test]
    fn a_second_report_and_leftovers_and_failures_are_named() {
        let dir = out(&[
            "20261201T105822Z-3ad4331fb610",
            "20261201T105822Z-000000000000",
        ]);
        let hidden = dir
            .path()
            .join("reports/.20261201T105822Z-3ad4331fb610.tmp-77");
        fs::create_dir_all(hidden).unwrap();
        fs::create_dir_all(dir.path().join("reports/.lock")).unwrap();
        fs::write(dir.path().join("verify.rc"), "1\n").unwrap();
        fs::write(dir.path().join("verify.err"), "error: 1 damaged report(s)").unwrap();
        let verdict = cut(&reference(), dir.path()).unwrap();
        assert_eq!(verdict.doubled.len(), 2, "{}", verdict.describe());
        assert_eq!(verdict.leftovers, [".20261201T105822Z-3ad4331fb610.tmp-77"]);
        assert_eq!(verdict.corrupt.len(), 1);
        assert!(!verdict.clean());
    }

    #[test]
    fn what_the_cut_left_is_read_from_the_listings() {
        let dir = out(&[]);
        let listing = "drwxr-xr-x 2 0 0 1024 Dec  1 12:11 20261201T120857Z-17f2c5ab82ec\n\
                       -rw-r--r-- 1 0 0    0 Dec  1 12:11 .lock\n";
        fs::create_dir_all(dir.path().join("pstore-before")).unwrap();
        assert_eq!(found(dir.path()), "nothing");
        fs::write(dir.path().join("pstore-before/dmesg-pstore_blk-0"), RECORD).unwrap();
        assert_eq!(found(dir.path()), "records only");
        fs::write(dir.path().join("reports-before.txt"), listing).unwrap();
        assert_eq!(found(dir.path()), "report and records");
        fs::remove_file(dir.path().join("pstore-before/dmesg-pstore_blk-0")).unwrap();
        assert_eq!(found(dir.path()), "report only");
    }

    #[test]
    fn a_record_held_with_other_bytes_is_lost() {
        let dir = out(&["20261201T105822Z-3ad4331fb610"]);
        let mut other = reference();
        other
            .sha256
            .insert("dmesg-pstore_blk-0".to_owned(), "0".repeat(64));
        assert_eq!(
            cut(&other, dir.path()).unwrap().lost,
            ["dmesg-pstore_blk-0"]
        );
    }
}
