//! `lastgasp setup` and `lastgasp unsetup`: arm this machine for crash collection through the
//! boot set-up it has, and undo exactly that. The decisions and file edits are the setup
//! crate's; this module gathers the inputs (configuration, setup.json, selftest.json, the
//! crashkernel estimate), carries the plan out or prints it (`--dry-run`), runs or names the
//! commands, and records setup.json.

mod steps;
mod summary;
mod unsetup;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lastgasp::arming_state::{self, ArmingState};
use setup::bootloader::{self, Step};
use setup::decide::{self, Wishes};
use setup::files::{self, Edit};
use setup::model::{Mode, Placement};
use setup::{probe, sysctl};

use super::selftest::state::{Outcome, SelftestState};
use crate::cli::{InitramfsArgs, SetupArgs};
use crate::config::Config;
pub use unsetup::run as unsetup;

const UNITS: [&str; 2] = ["lastgasp-load.service", "lastgasp-save.service"];
const KDUMP_UNIT: &str = "lastgasp-kdump.service";

pub fn run(config: &Config, root: &Path, args: &SetupArgs, quiet: bool) -> Result<()> {
    // As anyone else, /proc/iomem reads as zeros and /etc is not writable: the choice would be
    // wrong before the writes failed.
    if setup::root::is_live(root) && !sys::running_as_root() {
        anyhow::bail!("setup must run as root: it reads /proc/iomem's addresses and writes /etc");
    }
    let previous = ArmingState::read(root)?;
    let facts = probe::facts(root);
    let wishes = wishes(config, root, args, previous.as_ref())?;
    let decision = decide::decide(&facts, &wishes)?;
    let crashkernel = match decision.mode.wants_kdump() {
        true => Some(crashkernel(config, root)?),
        false => None,
    };
    let params = decide::kernel_params(
        &decision,
        &facts,
        crashkernel.as_ref().map(|c| c.0.as_str()),
    );
    let detected = bootloader::detect(root);
    let proc_cmdline = probe::proc_cmdline(root);
    let boot = bootloader::plan(root, &detected, &params, &proc_cmdline)?;
    let mut notes = boot.notes.clone();
    notes.extend(crashkernel_overridden(
        &proc_cmdline,
        &params,
        previous.as_ref(),
        crashkernel.is_some(),
    ));
    let sysctls = config.setup.sysctls();
    let mut wanted = boot.edits.clone();
    wanted.push((PathBuf::from(sysctl::DROPIN), Edit::Own(sysctls.dropin())));
    let (old_files, old_params) = previous
        .as_ref()
        .map(|p| (p.files.as_slice(), p.kernel_params.as_slice()))
        .unwrap_or_default();
    let changes = files::plan_setup(root, &wanted, old_files, old_params)?;

    let changed = |path: &str| {
        changes
            .iter()
            .any(|c| c.path == Path::new(path) && c.changes())
    };
    let boot_changed = changes
        .iter()
        .any(|c| c.changes() && c.path != Path::new(sysctl::DROPIN));
    let wanted_steps = wanted_steps(
        &boot.steps,
        boot_changed,
        changed(sysctl::DROPIN),
        decision.mode,
        previous.as_ref(),
    );
    let mut state = ArmingState {
        version: arming_state::VERSION,
        mode: decision.mode,
        backend: decision.backend,
        bootloader: detected.kind,
        kernel_params: params.clone(),
        ramoops: decision.ramoops.clone(),
        blk: decision.blk.clone(),
        crashkernel: crashkernel.as_ref().map(|c| c.0.clone()),
        sysctl: sysctls.values(),
        files: changes.iter().filter_map(|c| c.record.clone()).collect(),
        pending_commands: wanted_steps.iter().map(Step::command_line).collect(),
    };
    // setup.json first, naming every command as pending: whatever stops setup half-way, the
    // next setup or unsetup knows which files are setup's.
    if !args.dry_run {
        state.write(root)?;
        files::commit(root, &changes)?;
    }
    let outcomes = steps::run(root, &wanted_steps, args.dry_run, |_| {
        make_initramfs(config, root)
    });
    state.pending_commands = outcomes
        .iter()
        .filter(|o| matches!(o.status, "pending" | "failed"))
        .map(|o| o.command.clone())
        .collect();
    if !args.dry_run {
        state.write(root)?;
    }
    let report = summary::Setup {
        dry_run: args.dry_run,
        state: &state,
        reasons: &decision.reasons,
        warnings: &decision.warnings,
        bootloader_why: &detected.why,
        crashkernel_how: crashkernel.as_ref().map(|c| c.1.as_str()),
        changes: &changes,
        commands: &outcomes,
        manual: &boot.manual,
        notes: &notes,
        reboot: !args.dry_run && boot_changed,
    };
    summary::print_setup(&report, args.json, quiet)?;
    steps_failed(&outcomes)
}

/// The commands this setup needs: regenerating the boot set-up when its files changed, the units,
/// the sysctls when their drop-in changed, the capture initramfs for kdump, and whatever the
/// last setup left pending that is still wanted.
fn wanted_steps(
    boot_steps: &[Step],
    boot_changed: bool,
    sysctl_changed: bool,
    mode: Mode,
    previous: Option<&ArmingState>,
) -> Vec<Step> {
    let mut candidates: Vec<(Step, bool)> = boot_steps
        .iter()
        .map(|s| (s.clone(), boot_changed))
        .collect();
    let mut enable = vec!["systemctl", "enable"];
    enable.extend(UNITS);
    if mode.wants_kdump() {
        enable.push(KDUMP_UNIT);
    }
    candidates.push((
        Step::new(
            &enable,
            "arm at every boot (load), collect after it (save)",
            "run `systemctl enable` on the units and read its error; `lastgasp load` can be run by hand meanwhile",
        ),
        true,
    ));
    candidates.push((
        Step::new(
            &["systemctl", "restart", "systemd-sysctl.service"],
            "apply the panic settings now rather than at the next boot",
            "they apply at the next boot anyway; `journalctl -u systemd-sysctl` says which line failed",
        ),
        sysctl_changed,
    ));
    if mode.wants_kdump() {
        candidates.push((
            Step::new(
                &[steps::INITRAMFS],
                "make the capture initramfs that the capture kernel boots",
                "run `lastgasp initramfs` and read its error; [kdump] target may need setting",
            ),
            true,
        ));
    } else if previous.is_some_and(|p| p.mode.wants_kdump()) {
        candidates.push((
            Step::new(
                &["systemctl", "disable", KDUMP_UNIT],
                "kdump is no longer wanted: stop loading the capture kernel at boot",
                "run `systemctl disable lastgasp-kdump.service` and read its error",
            ),
            true,
        ));
    }
    // A command the last setup could not run (under --root, or failed) is still owed.
    let left_pending =
        |step: &Step| previous.is_some_and(|p| p.pending_commands.contains(&step.command_line()));
    candidates
        .into_iter()
        .filter(|(step, needed)| *needed || left_pending(step))
        .map(|(step, _)| step)
        .collect()
}

/// A note when the running kernel's own `crashkernel=` is not setup's: setup's, later on the
/// command line, wins.
fn crashkernel_overridden(
    proc_cmdline: &str,
    params: &[String],
    previous: Option<&ArmingState>,
    wanted: bool,
) -> Option<String> {
    let theirs = sys::cmdline::find(proc_cmdline, "crashkernel")?;
    let ours = params.iter().any(|p| p == theirs)
        || previous.is_some_and(|p| p.kernel_params.iter().any(|q| q == theirs));
    (wanted && !ours).then(|| {
        format!(
            "the running kernel already has {theirs}; setup's crashkernel= comes later on the \
             command line, and the kernel uses the last one"
        )
    })
}

/// Setup fails (exit 1) when a command it ran failed; the lines above said which and the fix.
fn steps_failed(outcomes: &[steps::Outcome]) -> Result<()> {
    let failed = outcomes.iter().filter(|o| o.status == "failed").count();
    if failed > 0 {
        anyhow::bail!("{failed} command(s) failed; setup.json lists them as pending");
    }
    Ok(())
}

fn wishes(
    config: &Config,
    root: &Path,
    args: &SetupArgs,
    previous: Option<&ArmingState>,
) -> Result<Wishes> {
    let s = &config.setup;
    let mode = match args.mode.as_deref() {
        Some("auto") => None,
        Some(name) => Some(name.parse::<Mode>().map_err(anyhow::Error::msg)?),
        None => s.mode,
    };
    let backend = match args.backend.as_deref() {
        Some("auto") => None,
        Some(name) => Some(name.parse().map_err(anyhow::Error::msg)?),
        None => s.backend,
    };
    Ok(Wishes {
        mode,
        backend,
        placement: s.placement.0,
        ramoops_size: s.ramoops_size,
        record_size: s.ramoops_record_size,
        blk_device: s.blk_device.clone(),
        reserve_mem_proven: reserve_mem_proven(root, previous)?,
        previous_ramoops: previous.and_then(|p| p.ramoops.clone()),
    })
}

/// A selftest passed through ramoops while setup.json had a `reserve_mem=` region: the
/// placement survives a warm reboot on this machine.
fn reserve_mem_proven(root: &Path, previous: Option<&ArmingState>) -> Result<bool> {
    let Some(selftest) = SelftestState::read(root)? else {
        return Ok(false);
    };
    Ok(selftest.outcome == Outcome::Passed
        && selftest.backend == "ramoops"
        && previous
            .and_then(|p| p.ramoops.as_ref())
            .is_some_and(|r| r.placement == Placement::ReserveMem))
}

/// The `crashkernel=` value and how it was found.
fn crashkernel(config: &Config, root: &Path) -> Result<(String, String)> {
    if let Some(value) = &config.setup.crashkernel {
        return Ok((value.clone(), "[setup] crashkernel".into()));
    }
    let estimate = super::estimate::estimate(root, config).context(
        "cannot estimate the crashkernel= size (set [setup] crashkernel, e.g. \"256M\", to skip the estimate)",
    )?;
    Ok((estimate.crashkernel, "`lastgasp estimate`".into()))
}

fn make_initramfs(config: &Config, root: &Path) -> Result<()> {
    let args = InitramfsArgs {
        output: None,
        kernel_version: None,
        target: None,
        dir: None,
        modules_dir: None,
        binary: None,
        print_config: false,
        print_modules: false,
        uncompressed: false,
        json: false,
    };
    super::initramfs::run(config, root, &args, true)
}
