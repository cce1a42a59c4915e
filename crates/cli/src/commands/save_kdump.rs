//! The kdump half of `lastgasp save`: each capture the capture kernel left under the kdump
//! directory becomes a report with source kdump, its dump brought in beside the log; only once
//! the report is durable is the capture directory removed.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};

use super::save::{Saved, add_context, analyze_text};
use crate::config::Config;
use crate::kdump_capture::{self, FoundCapture};

/// Whether there is anything to collect, without taking the lock.
pub(super) fn any_captures(config: &Config) -> bool {
    !leftovers(&config.kdump.dir).is_empty()
        || kdump_capture::find_captures(&config.kdump.dir).map_or(true, |(found, problems)| {
            !found.is_empty() || !problems.is_empty()
        })
}

/// Capture directories a killed save was removing (renamed out of sight first).
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(REMOVING))
        .map(|e| e.path())
        .collect()
}

/// Suffix of a saved capture directory on its way out. Hidden, so it is never read as a capture.
const REMOVING: &str = ".saved";

/// Removes a saved capture: renamed out of sight with one rename first, so a save killed (or
/// failing) midway never leaves a half-removed capture that reads as a damaged one.
fn remove_capture(path: &Path) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let hidden = path.with_file_name(format!(".{name}{REMOVING}"));
    fs::rename(path, &hidden)?;
    fs::remove_dir_all(&hidden)
}

/// Saves every capture; `removal_failures` collects capture directories that could not go,
/// `unsaved` the captures that could not be read (left where they are).
pub(super) fn save_captures(
    config: &Config,
    root: &Path,
    store: &report::Store,
    keep: bool,
    removal_failures: &mut Vec<(PathBuf, std::io::Error)>,
    unsaved: &mut Vec<String>,
) -> Result<Vec<Saved>> {
    let dir = &config.kdump.dir;
    // Under the save lock: a leftover is a killed run's, its report already durable.
    for leftover in leftovers(dir) {
        if let Err(e) = fs::remove_dir_all(&leftover) {
            tracing::warn!("cannot remove {}: {e}", leftover.display());
        }
    }
    let (found, problems) = kdump_capture::find_captures(dir)
        .map_err(|e| anyhow!("cannot read kdump captures in {}: {e}", dir.display()))?;
    for problem in &problems {
        tracing::warn!("{problem}; left where it is");
    }
    if let Some(problem) = problems.first() {
        // Save what can be saved first; the caller fails the run once that is done.
        unsaved.push(problem.clone());
    }
    let mut saved = Vec::new();
    for capture in found {
        let path = capture.path.clone();
        let mut new = to_report(capture);
        add_context(&mut new, config, root, store);
        let outcome = store.write(&new)?;
        let mut removed = Vec::new();
        if !keep {
            match remove_capture(&path) {
                Ok(()) => removed.push(path),
                Err(e) => {
                    tracing::warn!("cannot remove capture {}: {e}", path.display());
                    removal_failures.push((path, e));
                }
            }
        }
        saved.push(Saved {
            id: outcome.id,
            path: outcome.path,
            already_present: outcome.already_present,
            previously_pruned: outcome.previously_pruned,
            backend: Some("kdump".to_string()),
            dump_reason: new.dump_reason,
            class: new.analysis.as_ref().map(|a| a.class.clone()),
            signature: new.analysis.as_ref().map(|a| a.signature.clone()),
            partial: new.partial,
            records_removed: removed,
        });
    }
    Ok(saved)
}

fn to_report(capture: FoundCapture) -> report::NewReport {
    let FoundCapture {
        manifest,
        dmesg,
        dump,
        ..
    } = capture;
    let analysis = analyze_text(&dmesg);
    let dump_entry = manifest.dump.as_ref().map(|d| report::KdumpDump {
        file: kdump_capture::DUMP.to_string(),
        level: d.level,
        compression: d.compression.clone(),
        complete: d.complete
            && dump
                .as_ref()
                .is_some_and(|p| p.ends_with(kdump_capture::DUMP)),
        pages: d.pages,
    });
    let mut warnings = manifest.warnings.clone();
    if let Some(error) = manifest.dump.as_ref().and_then(|d| d.error.clone()) {
        warnings.push(format!("dump: {error}"));
    }
    let entry = report::KdumpEntry {
        vmcore_bytes: manifest.vmcore_bytes,
        log_complete: manifest.log_complete,
        warnings,
        dump: dump.as_ref().and(dump_entry),
    };
    let attached = dump.map(|source| report::AttachedFile {
        name: kdump_capture::DUMP.to_string(),
        source,
    });
    report::NewReport::from_kdump(dmesg, manifest.crash_time, entry, attached, analysis)
}
