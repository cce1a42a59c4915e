//! `lastgasp load` as setup.json says, at boot or by hand: the pstore half, then the kdump half
//! when the mode wants it or pstore could not be armed (mode pstore falls back to kdump when
//! crashkernel= reserved memory), all under the crash-loop guard. At boot the two halves run
//! from two units: lastgasp-load.service (`load --boot`) early, for pstore, and
//! lastgasp-kdump.service (`load --boot --kdump`) later, which reads in boots.json what the
//! first one managed in this boot.
//!
//! The guard holds kdump back and keeps pstore because pstore is passive (the crashing kernel
//! writes its log into memory or firmware storage and resets), while a capture kernel boots a
//! second kernel at every crash, probes and resets devices, and writes a dump to disk: on a
//! machine that crashes at every boot that lengthens each loop and fills the disk, and a loop
//! caused by the capture path itself (a driver that hangs under reset_devices, a reservation
//! too small) only ends when kdump stops being armed.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use sys::kexec_state::KexecState;

use super::pstore::{self, Armed};
use super::{LoadOutput, OSRELEASE, PROC_CMDLINE, checks, only_into_this_machine, read_trimmed};
use crate::boots::{self, Boot, BootRecord, Guard};
use crate::cli::LoadArgs;
use crate::config::Config;
use crate::output;
use crate::paths::under_root;
use lastgasp::arming_state::{ArmingState, Mode};

/// Everything `load` did, for --json and for the lines it prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct ArmOutput {
    /// setup's mode; `None` without setup.json.
    mode: Option<&'static str>,
    boot_id: String,
    guard: Guard,
    pstore: Option<Armed>,
    kdump: Option<KdumpPart>,
    /// What the text output prints, one line each.
    lines: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct KdumpPart {
    /// loaded, dry-run, failed, skipped (not wanted, or held back by the guard), or later (left
    /// to lastgasp-kdump.service).
    action: &'static str,
    why: Option<String>,
    #[serde(flatten)]
    load: Option<LoadOutput>,
}

/// The halves a call may arm.
#[derive(Debug, Clone, Copy)]
struct Halves {
    pstore: bool,
    /// The kdump half runs in this call (else, at boot, it is left to the kdump unit).
    kdump_now: bool,
}

impl Halves {
    fn of(args: &LoadArgs) -> Self {
        Halves {
            pstore: !args.kdump,
            kdump_now: !args.pstore && (!args.boot || args.kdump),
        }
    }
}

pub fn run(config: &Config, root: &Path, args: &LoadArgs, quiet: bool) -> Result<()> {
    if !args.dry_run {
        only_into_this_machine(root)?;
    }
    let running = read_trimmed(&under_root(root, Path::new(PROC_CMDLINE)))?;
    checks::not_in_capture_kernel(&running).map_err(|why| anyhow!("nothing to arm: {why}"))?;
    let state = ArmingState::read(root)?;
    let release = read_trimmed(&under_root(root, Path::new(OSRELEASE)))?;
    let boot_id = boots::current_boot_id(root)?;
    let mut lines = Vec::new();
    let mut record = read_record(root, &mut lines);
    if args.boot && !args.dry_run {
        record.start(Boot {
            boot_id: boot_id.clone(),
            started: jiff::Timestamp::now(),
            release: release.clone(),
            clean_shutdown: None,
            guarded: false,
            armed: Vec::new(),
            pstore_failed: false,
        });
    }
    let guard = record.guard(&boot_id, config.crash_loop_boots);
    if guard.active {
        tracing::warn!("{}", guard.explain());
        lines.push(guard.explain());
    }
    let halves = Halves::of(args);
    let Some(state) = state else {
        return without_setup(config, root, args, quiet, record, guard, lines, &boot_id);
    };
    let mut out = ArmOutput {
        mode: Some(state.mode.name()),
        boot_id: boot_id.clone(),
        guard,
        pstore: None,
        kdump: None,
        lines,
    };
    let mut failure = None;

    // Why pstore is not armed, when this call tried and failed.
    let mut pstore_why = None;
    let pstore_failed = if halves.pstore && state.mode.wants_pstore() {
        match pstore::plan(&state) {
            Ok(plan) => {
                let armed = pstore::arm(root, &release, &state, plan, args.dry_run);
                out.lines.push(pstore_line(&armed));
                if !armed.armed && armed.action != "dry-run" {
                    pstore_why = armed.why.clone();
                }
                out.pstore = Some(armed);
            }
            Err(why) => {
                out.lines.push(format!("pstore: not armed: {why}"));
                pstore_why = Some(why);
            }
        }
        pstore_why.is_some()
    } else {
        // Known from an earlier call in this boot (the early unit), when there was one.
        record.find(&boot_id).is_some_and(|boot| boot.pstore_failed)
    };

    let kexec = KexecState::read(root)?;
    let reserved = kexec.crash_size.unwrap_or(0) > 0;
    let fallback = state.mode == Mode::Pstore && pstore_failed;
    let wants_kdump = state.mode.wants_kdump() || fallback;
    const NO_RESERVATION: &str = "pstore could not be armed and there is no crash reservation \
                                  for the kdump fallback (no crashkernel= in this boot)";
    // Whether kdump is loaded, or will be by the kdump unit, for a fallback to count.
    let mut kdump_covers = false;
    if halves.kdump_now {
        let part = if !wants_kdump {
            skipped(format!(
                "setup's mode is {}: no capture kernel while pstore can be armed",
                state.mode
            ))
        } else if out.guard.active {
            skipped("held back by the crash-loop guard".to_string())
        } else if fallback && !reserved {
            KdumpPart {
                action: "failed",
                why: Some(NO_RESERVATION.to_string()),
                load: None,
            }
        } else {
            kdump_part(config, root, args.dry_run)
        };
        kdump_covers = matches!(part.action, "loaded" | "dry-run");
        if part.action == "failed" {
            failure = part.why.clone();
        }
        out.lines.push(kdump_line(&part, fallback));
        out.kdump = Some(part);
    } else if args.boot && wants_kdump {
        if out.guard.active {
            out.lines
                .push("kdump: held back by the crash-loop guard".to_string());
        } else if fallback && !reserved {
            out.lines.push(format!("kdump: {NO_RESERVATION}"));
        } else if !kdump_unit_enabled(root) {
            let why = format!(
                "{}lastgasp-kdump.service, which loads the capture kernel at boot, is not \
                 enabled: systemctl enable lastgasp-kdump.service",
                if fallback {
                    "pstore could not be armed and the kdump fallback needs "
                } else {
                    "setup wants kdump but "
                }
            );
            out.lines.push(format!("kdump: {why}"));
            failure = Some(why);
        } else {
            kdump_covers = true;
            out.lines.push(format!(
                "kdump: {}left to lastgasp-kdump.service, later in boot",
                if fallback {
                    "the fallback, since pstore could not be armed: "
                } else {
                    ""
                }
            ));
        }
    }
    if let Some(why) = pstore_why
        && !(fallback && kdump_covers)
    {
        failure.get_or_insert(format!("pstore is not armed: {why}"));
    }

    if !args.dry_run {
        remember(root, &mut record, &boot_id, &out, pstore_failed)?;
    }
    emit(args, quiet, &out)?;
    match failure {
        Some(why) => Err(anyhow!("{why}")),
        None => Ok(()),
    }
}

/// Where `systemctl enable` (or a vendor preset) links lastgasp-kdump.service (WantedBy=
/// multi-user.target): without the link the kdump half is never loaded at boot.
const KDUMP_UNIT_LINKS: [&str; 3] = [
    "/etc/systemd/system/multi-user.target.wants/lastgasp-kdump.service",
    "/usr/lib/systemd/system/multi-user.target.wants/lastgasp-kdump.service",
    "/lib/systemd/system/multi-user.target.wants/lastgasp-kdump.service",
];

fn kdump_unit_enabled(root: &Path) -> bool {
    KDUMP_UNIT_LINKS
        .iter()
        .any(|link| std::fs::symlink_metadata(under_root(root, Path::new(link))).is_ok())
}

/// The kdump half through the same code as `load --kdump`.
fn kdump_part(config: &Config, root: &Path, dry_run: bool) -> KdumpPart {
    match super::kdump(config, root, dry_run) {
        Ok(done) if dry_run => KdumpPart {
            action: "dry-run",
            why: done.refused.map(|why| format!("a load would fail: {why}")),
            load: Some(done.out),
        },
        Ok(done) => KdumpPart {
            action: "loaded",
            why: Some(done.summary),
            load: Some(done.out),
        },
        Err(error) => KdumpPart {
            action: "failed",
            why: Some(format!("{error:#}")),
            load: None,
        },
    }
}

fn skipped(why: String) -> KdumpPart {
    KdumpPart {
        action: "skipped",
        why: Some(why),
        load: None,
    }
}

fn pstore_line(armed: &Armed) -> String {
    let params = if armed.plan.params.is_empty() {
        String::new()
    } else {
        format!(" with {}", armed.plan.params)
    };
    match armed.action {
        "loaded" => format!(
            "pstore: {} armed: {} loaded{params}; pstore's backend is {}",
            armed.plan.backend,
            armed.plan.module.unwrap_or("nothing"),
            armed.registered.as_deref().unwrap_or("?")
        ),
        "already-armed" => format!(
            "pstore: {} armed already (pstore's backend is {})",
            armed.plan.backend,
            armed.registered.as_deref().unwrap_or("?")
        ),
        "dry-run" => match armed.plan.module {
            Some(module) => format!("pstore: would load {module}{params}"),
            None => format!("pstore: would check that {} registered", armed.plan.backend),
        },
        _ => format!(
            "pstore: {} not armed: {}",
            armed.plan.backend,
            armed.why.as_deref().unwrap_or("unknown reason")
        ),
    }
}

fn kdump_line(part: &KdumpPart, fallback: bool) -> String {
    let lead = if fallback { "fallback to kdump: " } else { "" };
    match (part.action, &part.why) {
        ("loaded", Some(summary)) => format!("kdump: {lead}{summary}"),
        ("dry-run", None) => format!("kdump: {lead}would load the capture kernel"),
        (action, Some(why)) => format!("kdump: {lead}{action}: {why}"),
        (action, None) => format!("kdump: {lead}{action}"),
    }
}

/// A damaged boot record must not stop arming at boot: it is started afresh, and said so.
fn read_record(root: &Path, lines: &mut Vec<String>) -> BootRecord {
    BootRecord::read(root).unwrap_or_else(|error| {
        let line = format!("{error:#}; starting a new one");
        tracing::warn!("{line}");
        lines.push(line);
        BootRecord {
            version: boots::VERSION,
            boots: Vec::new(),
        }
    })
}

/// Notes in this boot's record what was armed, for the kdump unit, `status` and the guard.
fn remember(
    root: &Path,
    record: &mut BootRecord,
    boot_id: &str,
    out: &ArmOutput,
    pstore_failed: bool,
) -> Result<()> {
    let Some(boot) = record.find_mut(boot_id) else {
        // Armed by hand in a boot load --boot did not record: nothing to keep.
        return Ok(());
    };
    boot.guarded |= out.guard.active;
    if let Some(pstore) = &out.pstore {
        boot.pstore_failed = pstore_failed;
        if pstore.armed {
            let what = format!("pstore {}", pstore.plan.backend);
            if !boot.armed.contains(&what) {
                boot.armed.push(what);
            }
        }
    }
    if out.kdump.as_ref().is_some_and(|k| k.action == "loaded")
        && !boot.armed.iter().any(|a| a == "kdump")
    {
        boot.armed.push("kdump".to_string());
    }
    record.write(root)
}

fn emit(args: &LoadArgs, quiet: bool, out: &ArmOutput) -> Result<()> {
    if args.json {
        return Ok(output::line(&serde_json::to_string_pretty(out)?)?);
    }
    if quiet && !args.dry_run {
        return Ok(());
    }
    let mut text = String::new();
    for line in &out.lines {
        text += line;
        text.push('\n');
    }
    Ok(output::emit(&text)?)
}

/// No setup.json: at boot, the record is kept and the kdump unit loads the capture kernel as
/// before setup existed; by hand, setup comes first.
#[allow(clippy::too_many_arguments)]
fn without_setup(
    config: &Config,
    root: &Path,
    args: &LoadArgs,
    quiet: bool,
    mut record: BootRecord,
    guard: Guard,
    mut lines: Vec<String>,
    boot_id: &str,
) -> Result<()> {
    const NOT_SET_UP: &str = "setup has not been run (no /var/lib/lastgasp/setup.json): run \
                              `lastgasp setup` to choose what to arm, or `lastgasp load --kdump` \
                              to load the capture kernel alone";
    if !args.boot {
        return Err(anyhow!(NOT_SET_UP));
    }
    let mut out = ArmOutput {
        mode: None,
        boot_id: boot_id.to_string(),
        guard,
        pstore: None,
        kdump: None,
        lines: Vec::new(),
    };
    let mut failure = None;
    if args.kdump {
        let part = if out.guard.active {
            skipped("held back by the crash-loop guard".to_string())
        } else {
            kdump_part(config, root, args.dry_run)
        };
        if part.action == "failed" {
            failure = part.why.clone();
        }
        lines.push(kdump_line(&part, false));
        out.kdump = Some(part);
    } else {
        lines.push(format!("nothing armed: {NOT_SET_UP}"));
    }
    out.lines = lines;
    if !args.dry_run {
        remember(root, &mut record, boot_id, &out, false)
            .context("recording this boot for the crash-loop guard")?;
    }
    emit(args, quiet, &out)?;
    match failure {
        Some(why) => Err(anyhow!("{why}")),
        None => Ok(()),
    }
}

/// `load --shutdown`: this boot ended cleanly.
pub fn shutdown(root: &Path, args: &LoadArgs, quiet: bool) -> Result<()> {
    let boot_id = boots::current_boot_id(root)?;
    let mut record = BootRecord::read(root)?;
    let when = jiff::Timestamp::now();
    let recorded = record.end_cleanly(&boot_id, when);
    if recorded {
        record.write(root)?;
    }
    let line = if recorded {
        format!("boot {boot_id} recorded as ended cleanly")
    } else {
        format!(
            "boot {boot_id} was not recorded at its start (load --boot did not run): nothing to mark"
        )
    };
    if args.json {
        let json = serde_json::json!({
            "boot-id": boot_id,
            "recorded": recorded,
            "clean-shutdown": recorded.then(|| when.to_string()),
        });
        return Ok(output::line(&serde_json::to_string_pretty(&json)?)?);
    }
    if !quiet {
        output::line(&line)?;
    }
    Ok(())
}
