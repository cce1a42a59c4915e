//! What setup and unsetup tell the user: one screen saying what was chosen and why, which files
//! and commands, what needs a reboot; with `--dry-run` the diff of every file first; `--json`
//! for scripts and the lab.

use std::fmt::Write;
use std::path::Path;

use anyhow::Result;
use lastgasp::arming_state::{ArmingState, FileAction};
use serde::Serialize;
use setup::diff;
use setup::files::Change;

use super::steps::Outcome;
use crate::output;

pub struct Setup<'a> {
    pub dry_run: bool,
    pub state: &'a ArmingState,
    pub reasons: &'a [String],
    pub warnings: &'a [String],
    pub bootloader_why: &'a str,
    pub crashkernel_how: Option<&'a str>,
    pub changes: &'a [Change],
    pub commands: &'a [Outcome],
    pub manual: &'a [String],
    pub notes: &'a [String],
    pub reboot: bool,
}

pub struct Unsetup<'a> {
    pub dry_run: bool,
    pub state: &'a ArmingState,
    pub changes: &'a [Change],
    pub commands: &'a [Outcome],
    pub reboot: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct FileLine {
    path: String,
    /// "created", "edited", "removed", "restored" or "unchanged".
    change: &'static str,
    backup: Option<String>,
    /// Unsetup kept edits made after setup.
    kept_edits: bool,
    /// With --dry-run: the unified diff.
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
}

fn file_lines(changes: &[Change], dry_run: bool) -> Vec<FileLine> {
    changes
        .iter()
        .map(|c| {
            let change = match (&c.before, &c.after, c.changes()) {
                (_, _, false) => "unchanged",
                (None, Some(_), _) => "created",
                (Some(_), None, _) => "removed",
                (Some(_), Some(_), _) if c.record.is_none() => "restored",
                _ => "edited",
            };
            let path = c.path.display().to_string();
            FileLine {
                diff: dry_run
                    .then(|| diff::unified(&path, c.before.as_deref(), c.after.as_deref())),
                backup: c
                    .record
                    .as_ref()
                    .filter(|r| r.action == FileAction::Edited)
                    .and_then(|r| r.backup.as_ref())
                    .map(|b| b.display().to_string()),
                kept_edits: c.kept_edits,
                path,
                change,
            }
        })
        .collect()
}

fn commands_text(out: &mut String, commands: &[Outcome]) {
    if commands.is_empty() {
        return;
    }
    out.push_str("commands:\n");
    for c in commands {
        let status = match c.status {
            "pending" => "not run under --root, run it on the machine:",
            "would-run" => "would run:",
            "ran" => "ran:",
            _ => "FAILED:",
        };
        let _ = writeln!(out, "  {status} {}  ({})", c.command, c.why);
        if let Some(error) = &c.error {
            let _ = writeln!(out, "    {error}");
        }
    }
}

fn files_text(out: &mut String, files: &[FileLine]) {
    out.push_str("files:\n");
    for f in files {
        let _ = write!(out, "  {:<9} {}", f.change, f.path);
        if let Some(backup) = &f.backup
            && f.change != "unchanged"
        {
            let _ = write!(out, " (original kept in {backup})");
        }
        if f.kept_edits {
            out.push_str(" (edited since setup: only setup's part taken out)");
        }
        out.push('\n');
    }
}

fn diffs_text(files: &[FileLine]) -> String {
    files.iter().filter_map(|f| f.diff.clone()).collect()
}

pub fn print_setup(report: &Setup<'_>, json: bool, quiet: bool) -> Result<()> {
    let state = report.state;
    let files = file_lines(report.changes, report.dry_run);
    if json {
        let value = serde_json::json!({
            "action": if report.dry_run { "dry-run" } else { "setup" },
            "state": state,
            "reasons": report.reasons,
            "warnings": report.warnings,
            "bootloader-why": report.bootloader_why,
            "crashkernel-from": report.crashkernel_how,
            "files": files,
            "commands": report.commands,
            "manual-steps": report.manual,
            "notes": report.notes,
            "reboot-needed": report.reboot,
        });
        return Ok(output::line(&serde_json::to_string_pretty(&value)?)?);
    }
    if quiet && !report.dry_run {
        return Ok(());
    }
    let mut out = diffs_text(&files);
    let what = match (state.mode.wants_pstore(), state.backend) {
        (true, Some(backend)) if state.mode.wants_kdump() => {
            format!("pstore through {backend}, and kdump")
        }
        (true, Some(backend)) => format!("pstore through {backend}"),
        _ => "kdump".into(),
    };
    let verb = if report.dry_run { "would arm" } else { "armed" };
    let _ = writeln!(out, "lastgasp setup {verb} this machine for {what}");
    for reason in report.reasons {
        let _ = writeln!(out, "  {reason}");
    }
    let _ = writeln!(
        out,
        "bootloader: {} ({})",
        state.bootloader, report.bootloader_why
    );
    if state.kernel_params.is_empty() {
        out.push_str("kernel parameters: none needed\n");
    } else {
        let _ = writeln!(out, "kernel parameters: {}", state.kernel_params.join(" "));
    }
    if let (Some(size), Some(how)) = (&state.crashkernel, report.crashkernel_how) {
        let _ = writeln!(out, "  crashkernel={size} from {how}");
    }
    let sysctls: Vec<String> = state
        .sysctl
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(out, "sysctl: {}", sysctls.join(" "));
    files_text(&mut out, &files);
    commands_text(&mut out, report.commands);
    for step in report.manual {
        let _ = writeln!(out, "manual step: {step}");
    }
    for note in report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    for warning in report.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    if report.dry_run {
        out.push_str("dry run: nothing was written or run\n");
    } else if report.reboot || !report.manual.is_empty() {
        out.push_str(
            "next: reboot for the kernel parameters; then `lastgasp status` should say armed, \
             and `lastgasp selftest` checks that the backend keeps a record across a reboot\n",
        );
    } else {
        out.push_str("next: `lastgasp status` says whether it is armed; `lastgasp selftest` checks the backend\n");
    }
    Ok(output::emit(&out)?)
}

pub fn print_unsetup(report: &Unsetup<'_>, json: bool, quiet: bool) -> Result<()> {
    let files = file_lines(report.changes, report.dry_run);
    if json {
        let value = serde_json::json!({
            "action": if report.dry_run { "dry-run" } else { "unsetup" },
            "undone": report.state,
            "files": files,
            "commands": report.commands,
            "reboot-needed": report.reboot,
        });
        return Ok(output::line(&serde_json::to_string_pretty(&value)?)?);
    }
    if quiet && !report.dry_run {
        return Ok(());
    }
    let mut out = diffs_text(&files);
    let verb = if report.dry_run {
        "would undo"
    } else {
        "undid"
    };
    let _ = writeln!(
        out,
        "lastgasp unsetup {verb} setup's {} arming (kernel parameters: {})",
        report.state.mode,
        if report.state.kernel_params.is_empty() {
            "none".to_string()
        } else {
            report.state.kernel_params.join(" ")
        }
    );
    files_text(&mut out, &files);
    commands_text(&mut out, report.commands);
    if report.dry_run {
        out.push_str("dry run: nothing was written or run\n");
    } else {
        out.push_str(
            "next: reboot to drop the kernel parameters; the panic sysctls in effect stay until then\n",
        );
    }
    Ok(output::emit(&out)?)
}

pub fn print_nothing_to_undo(state_file: &Path, json: bool, quiet: bool) -> Result<()> {
    if json {
        let value = serde_json::json!({ "action": "nothing", "files": [], "commands": [] });
        return Ok(output::line(&serde_json::to_string_pretty(&value)?)?);
    }
    if quiet {
        return Ok(());
    }
    Ok(output::line(&format!(
        "nothing to undo: {} does not exist (setup has not run, or unsetup already did)",
        state_file.display()
    ))?)
}
