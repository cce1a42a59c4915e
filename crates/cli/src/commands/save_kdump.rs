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
    kdump_capture::find_captures(&config.kdump.dir)
        .is_ok_and(|(found, problems)| !found.is_empty() || !problems.is_empty())
}

/// Saves every capture; `removal_failures` collects capture directories that could not go.
pub(super) fn save_captures(
    config: &Config,
    root: &Path,
    store: &report::Store,
    keep: bool,
    removal_failures: &mut Vec<(PathBuf, std::io::Error)>,
) -> Result<Vec<Saved>> {
    let dir = &config.kdump.dir;
    let (found, problems) = kdump_capture::find_captures(dir)
        .map_err(|e| anyhow!("cannot read kdump captures in {}: {e}", dir.display()))?;
    for problem in &problems {
        tracing::warn!("{problem}; left where it is");
    }
    let mut saved = Vec::new();
    for capture in found {
        let path = capture.path.clone();
        let mut new = to_report(capture);
        add_context(&mut new, config, root, store);
        let outcome = store.write(&new).map_err(|e| anyhow!("{e}"))?;
        let mut removed = Vec::new();
        if !keep {
            match fs::remove_dir_all(&path) {
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
