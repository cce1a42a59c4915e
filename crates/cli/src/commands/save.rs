//! `lastgasp save`: pstore records and kdump captures to reports. The order is the point: read,
//! assemble, write the report durably, and only then unlink the records it holds, so a failure
//! at any step leaves every record where the kernel put it.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use serde::Serialize;

use crate::cli::SaveArgs;
use crate::config::Config;
use crate::output;

use super::selftest::settle::settle;

/// How long to wait for another `lastgasp save` to finish before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(30);
const LOCK_FILE: &str = ".lock";

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct SaveOutput {
    reports: Vec<Saved>,
    pruned: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct Saved {
    pub id: String,
    pub path: PathBuf,
    pub already_present: bool,
    pub previously_pruned: bool,
    pub backend: Option<String>,
    pub dump_reason: Option<String>,
    pub class: Option<String>,
    pub signature: Option<String>,
    pub partial: bool,
    /// pstore records, or the kdump capture directory, removed once the report was durable.
    pub records_removed: Vec<PathBuf>,
}

pub fn run(config: &Config, root: &Path, args: &SaveArgs, quiet: bool) -> Result<()> {
    let mut output = SaveOutput {
        reports: Vec::new(),
        pruned: Vec::new(),
    };
    // A look at the directory listings first, without the lock, so that a boot with nothing
    // to collect creates nothing. A pending selftest whose canary did not come back is still
    // settled (failed, once the boot changed).
    if !pstore::has_records(&config.pstore_dir, &config.systemd_archive)
        && !super::save_kdump::any_captures(config)
    {
        settle(root, Vec::new());
        super::selftest::settle::settle_kdump(root, &[]);
        tracing::info!(dir = %config.pstore_dir.display(), "nothing to collect");
        return print_json(args.json, &output);
    }
    let keep = args.keep || config.keep;
    let store = super::store(config);
    let _lock = lock(store.dir())?;
    // Under the lock no other save is writing: any temporary directory is a killed run's.
    store.sweep_leftovers();
    // The records are read under the lock only: a concurrent save may have removed some, and a
    // half-seen set of records would make a second, partial report. A selftest's canaries are
    // settled here and never become reports.
    let (records, archive_error) = read_records(config)?;
    if let Some(e) = &archive_error {
        tracing::warn!("{e:#}; going on without systemd-pstore's archive");
    }
    let records = settle(root, records);
    tracing::info!(count = records.len(), "pstore records found");

    let mut unlink_failures = Vec::new();
    for crash in pstore::assemble(records) {
        let removable: Vec<pstore::UsedRecord> = crash
            .records
            .iter()
            .filter(|r| r.origin == pstore::Origin::Pstore)
            .cloned()
            .collect();
        let analysis = analyze(&crash);
        let mut new = report::NewReport::from_crash(crash, analysis);
        add_context(&mut new, config, root, &store);
        let outcome = match held_elsewhere(&store, &new)? {
            Some(outcome) => outcome,
            None => store.write(&new)?,
        };
        let records_removed = if keep {
            Vec::new()
        } else {
            remove_records(&removable, &mut unlink_failures)
        };
        let saved = Saved {
            id: outcome.id,
            path: outcome.path,
            already_present: outcome.already_present,
            previously_pruned: outcome.previously_pruned,
            backend: new.backend,
            dump_reason: new.dump_reason,
            class: new.analysis.as_ref().map(|a| a.class.clone()),
            signature: new.analysis.as_ref().map(|a| a.signature.clone()),
            partial: new.partial,
            records_removed,
        };
        announce(&saved, quiet || args.json);
        output.reports.push(saved);
    }
    let mut unsaved = Vec::new();
    let captures = super::save_kdump::save_captures(
        config,
        root,
        &store,
        keep,
        &mut unlink_failures,
        &mut unsaved,
    )?;
    for saved in captures {
        announce(&saved, quiet || args.json);
        output.reports.push(saved);
    }

    let written: Vec<PathBuf> = output.reports.iter().map(|s| s.path.clone()).collect();
    super::selftest::settle::settle_kdump(root, &written);

    let protect: Vec<String> = output
        .reports
        .iter()
        .filter(|s| !s.already_present)
        .map(|s| s.id.clone())
        .collect();
    let limits = report::Retention {
        max_reports: config.max_reports,
        max_bytes: config.max_bytes,
    };
    match store.prune(&limits, &protect) {
        Ok(pruned) => {
            for p in &pruned {
                tracing::info!(id = %p.id, bytes = p.bytes, "pruned old report");
            }
            output.pruned = pruned.into_iter().map(|p| p.id).collect();
        }
        // The new reports are safe; an old one that cannot go is worth a warning, not a failure.
        Err(e) => tracing::warn!("retention: {e}"),
    }
    print_json(args.json, &output)?;
    // The rest is saved; what could not be read is left where it is, and the run fails so that
    // it is seen (the next save tries again).
    if let Some(e) = archive_error {
        return Err(e.context("systemd-pstore's archive left unsaved"));
    }
    if let Some(problem) = unsaved.first() {
        bail!("cannot save kdump capture {problem}; left where it is");
    }
    if let Some((path, error)) = unlink_failures.first() {
        bail!(
            "report saved, but cannot remove {}: {}{}",
            path.display(),
            super::os_cause(error),
            match unlink_failures.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            }
        );
    }
    Ok(())
}

/// The report that already holds every record of `new`, when a save was killed after writing
/// it but before unlinking them all: the leftovers are removed, not saved a second time.
fn held_elsewhere(
    store: &report::Store,
    new: &report::NewReport,
) -> Result<Option<report::WriteOutcome>> {
    let sha256s: Vec<&str> = new.records.iter().map(|r| r.sha256.as_str()).collect();
    let Some(id) = store.holding(&sha256s)? else {
        return Ok(None);
    };
    Ok(Some(report::WriteOutcome {
        path: store.dir().join(&id),
        id,
        already_present: true,
        previously_pruned: false,
    }))
}

/// Adds the context `[collect]` asks for, unless the report is already saved (then it would
/// be read for nothing, at boot).
pub(super) fn add_context(
    new: &mut report::NewReport,
    config: &Config,
    root: &Path,
    store: &report::Store,
) {
    if !store.dir().join(new.id()).exists() {
        let runner = super::collect::System::for_root(root);
        super::collect::add_context(new, &config.collect, root, &runner);
    }
}

/// The records of the pstore directory and of systemd-pstore's archive, with why the archive
/// could not be read (its records are then left out: they stay where they are).
fn read_records(config: &Config) -> Result<(Vec<pstore::Record>, Option<anyhow::Error>)> {
    let opts = pstore::ReadOptions {
        max_record_bytes: config.max_record_bytes,
    };
    let mut records = pstore::read_pstore_dir(&config.pstore_dir, &opts)?;
    match pstore::read_systemd_archive(&config.systemd_archive, &opts) {
        Ok(archived) => {
            // A record systemd-pstore copied while this run was reading pstore is in both
            // places: one copy is the record, the other would double it in the report (and
            // change its id). The pstore copy is kept, to be removed once saved; the archive's
            // is left alone, and a later save finds it held by this report.
            let fresh: Vec<pstore::Record> = archived
                .into_iter()
                .filter(|a| {
                    !records
                        .iter()
                        .any(|r| r.file_name == a.file_name && r.data == a.data)
                })
                .collect();
            records.extend(fresh);
            Ok((records, None))
        }
        Err(e) => Ok((records, Some(e.into()))),
    }
}

fn announce(saved: &Saved, silent: bool) {
    if saved.previously_pruned {
        tracing::info!(id = %saved.id, "records of a report retention removed; not saved again");
    } else if saved.already_present {
        tracing::info!(id = %saved.id, "records already saved in this report");
    } else if !silent {
        // The report is saved and its records gone; a closed stdout changes nothing of that.
        let _ = output::line(&saved_line(saved));
    }
}

/// The crash's kernel log analysed: dmesg, or the console when pstore kept no dmesg.
fn analyze(crash: &pstore::Crash) -> Option<kmsg::Analysis> {
    analyze_text(&crash.dmesg).or_else(|| analyze_text(crash.console.as_deref()?))
}

/// The analysis of a log, unless it holds no text at all.
pub(super) fn analyze_text(log: &[u8]) -> Option<kmsg::Analysis> {
    let has_text = log.iter().any(|b| !b.is_ascii_whitespace());
    has_text.then(|| kmsg::analyze(&String::from_utf8_lossy(log)))
}

/// Unlinks the records; a record already gone (systemd-pstore moved it meanwhile) is fine. A
/// record larger than what was read (over `max_record_bytes`) stays: the report lacks its tail.
fn remove_records(
    records: &[pstore::UsedRecord],
    failures: &mut Vec<(PathBuf, io::Error)>,
) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for record in records {
        let path = &record.path;
        if record.truncated {
            // The path is in the message: the journal shows fields only on request.
            tracing::warn!(
                read = record.size,
                "{} is larger than max_record_bytes; left in pstore",
                path.display()
            );
            continue;
        }
        match fs::remove_file(path) {
            Ok(()) => removed.push(path.clone()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!("cannot remove record {}: {e}", path.display());
                failures.push((path.clone(), e));
            }
        }
    }
    removed
}

/// One exclusive lock per reports directory: a boot-time save and a manual one must not race
/// on retention or on unlinking the same records.
fn lock(dir: &Path) -> Result<File> {
    let cannot_write = |error| {
        anyhow!(
            "{}",
            report::Error::Write {
                dir: dir.to_path_buf(),
                error
            }
        )
    };
    fs::create_dir_all(dir).map_err(cannot_write)?;
    let path = dir.join(LOCK_FILE);
    // Opening with O_CREAT follows a symlink and would create its target wherever it points;
    // a symlink in our own directory is not ours to follow, so it goes.
    if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        tracing::warn!("{} is a symlink; removed, not followed", path.display());
        fs::remove_file(&path).map_err(cannot_write)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(cannot_write)?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(TryLockError::WouldBlock) => bail!(
                "another lastgasp save has held {} for {}s",
                path.display(),
                LOCK_WAIT.as_secs()
            ),
            Err(TryLockError::Error(error)) => return Err(cannot_write(error)),
        }
    }
}

fn saved_line(saved: &Saved) -> String {
    let what = saved
        .signature
        .clone()
        .unwrap_or_else(|| "no kernel log text".to_string());
    let source: Vec<&str> = [saved.backend.as_deref(), saved.dump_reason.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let partial = if saved.partial { ", partial" } else { "" };
    format!("saved {}: {what} ({}{partial})", saved.id, source.join(" "))
}

fn print_json(json: bool, output: &SaveOutput) -> Result<()> {
    if json {
        output::line(&serde_json::to_string_pretty(output)?)?;
    }
    Ok(())
}
