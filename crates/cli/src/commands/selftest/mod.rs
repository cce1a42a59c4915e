//! `lastgasp selftest`: checks, without crashing the machine, that the armed pstore backend
//! keeps a record across a reboot. It writes a canary through the backend and records the
//! selftest as pending in selftest.json; at the next boot `lastgasp save` settles it, and
//! `lastgasp selftest` then prints the result. `--crash` does the real thing instead.

mod canary;
pub(crate) mod settle;
pub(crate) mod state;

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cli::SelftestArgs;
use crate::commands::backend::{self, RamoopsParams};
use crate::config::Config;
use crate::output;
use lastgasp::arming_state::ArmingState;
use state::{Method, Outcome, SelftestState};

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct SelftestOutput<'a> {
    /// "started", "pending", "result" or "crashing".
    action: &'static str,
    selftest: &'a SelftestState,
    /// Where the canary went, when one was written now.
    canary_target: Option<String>,
    /// Actions on the running system not taken under a fake root.
    not_run: Vec<String>,
    next: String,
}

pub fn run(config: &Config, root: &Path, args: &SelftestArgs, quiet: bool) -> Result<()> {
    let boot = state::boot_id(root)?;
    let previous = SelftestState::read(root)?;
    // Without --again, a selftest already there is reported rather than replaced.
    if !args.again
        && !args.crash
        && let Some(mut last) = previous
    {
        if last.outcome == Outcome::Pending && last.boot_id != boot {
            // After the reboot, before (or without) lastgasp-save: settle it from pstore now.
            let records = pstore::read_pstore_dir(&config.pstore_dir, &Default::default())?;
            settle::settle(root, records);
            last = SelftestState::read(root)?.unwrap_or(last);
        }
        if last.outcome != Outcome::Pending || last.boot_id == boot {
            return report(&last, &boot, args.json);
        }
    }
    let armed = match armed_backend(root) {
        // A real crash also tests kdump: the capture kernel saves the log holding the canary.
        Err(_) if args.crash && capture_kernel_loaded(root) => "kdump".to_string(),
        other => other?,
    };
    let id = new_id(&boot);
    let canary = state::canary_line(&id);
    let live = setup::root::is_live(root);
    let mut selftest = SelftestState {
        version: state::VERSION,
        id,
        backend: armed.clone(),
        method: Method::Crash,
        boot_id: boot,
        started: state::now(),
        ramoops_address: RamoopsParams::read(root).map(|p| p.address),
        outcome: Outcome::Pending,
        settled: None,
        detail: None,
    };
    if args.crash {
        return crash(root, &mut selftest, &canary, args, live);
    }
    let written = match armed.as_str() {
        "efi" => canary::write_efi(root, &canary, jiff::Timestamp::now().as_second())?,
        "ramoops" => canary::write_ramoops(root, &canary, live)?,
        "blk" => canary::write_blk(root, &canary)?,
        "erst" => canary::write_erst(root, &canary)?,
        other => bail!("the {other} backend has no selftest"),
    };
    selftest.method = written.method;
    selftest.write(root)?;
    let next = "reboot now (a warm reboot: `systemctl reboot`); at the next boot \
                lastgasp-save.service checks the canary and `lastgasp selftest` (or `lastgasp \
                status`) shows the result"
        .to_string();
    if args.json {
        print_json(&SelftestOutput {
            action: "started",
            selftest: &selftest,
            canary_target: Some(written.target),
            not_run: written.not_run,
            next,
        })?;
    } else if !quiet {
        let mut lines = vec![format!(
            "selftest {}: canary written through {} as {} ({})",
            selftest.id,
            selftest.backend,
            selftest.method.describe(),
            written.target
        )];
        for command in &written.not_run {
            lines.push(format!("not run under --root: {command}"));
        }
        lines.push(next);
        output::emit(&(lines.join("\n") + "\n"))?;
    }
    Ok(())
}

/// The backend to test: setup.json's, which must be the one registered; without setup.json,
/// whichever is registered.
fn armed_backend(root: &Path) -> Result<String> {
    let wanted = ArmingState::read(root)?;
    let registered = backend::registered(root);
    let now = registered
        .as_deref()
        .map(|n| backend::setup_name(n).unwrap_or(n).to_string());
    match (wanted, now) {
        (Some(state), _) if !state.mode.wants_pstore() => bail!(
            "setup armed kdump only, which has no canary to write: the capture kernel is tested \
             by `lastgasp selftest --crash` (it crashes the machine after asking)"
        ),
        (Some(state), now) => {
            let wanted = state.backend.map(|b| b.name().to_string());
            match (wanted, now) {
                (Some(wanted), Some(now)) if wanted == now => Ok(now),
                (Some(wanted), Some(now)) => bail!(
                    "setup chose the {wanted} backend but {now} is registered: run `lastgasp \
                     load` (or reboot) so {wanted} is armed, then test again"
                ),
                (Some(wanted), None) => bail!(
                    "no pstore backend is registered (setup chose {wanted}): run `lastgasp \
                     load` first"
                ),
                (None, Some(now)) => Ok(now),
                (None, None) => bail!("no pstore backend is registered: run `lastgasp setup`"),
            }
        }
        (None, Some(now)) => Ok(now),
        (None, None) => bail!(
            "no pstore backend is registered and lastgasp setup has not run: run `lastgasp \
             setup`, reboot, then test"
        ),
    }
}

fn capture_kernel_loaded(root: &Path) -> bool {
    sys::kexec_state::read_crash_loaded(root).is_ok_and(|loaded| loaded == Some(true))
}

/// A selftest id: the UTC time and 8 hex digits of this boot and the moment.
fn new_id(boot: &str) -> String {
    let now = jiff::Timestamp::now();
    let digest = Sha256::digest(format!("{boot}{}", now.as_nanosecond()));
    format!(
        "{}-{}",
        now.strftime("%Y%m%dT%H%M%SZ"),
        hex::encode(&digest[..4])
    )
}

/// Prints a selftest's state; exits nonzero when it failed.
fn report(last: &SelftestState, boot: &str, json: bool) -> Result<()> {
    let (action, next) = match last.outcome {
        Outcome::Pending => (
            "pending",
            "reboot to complete it (a warm reboot: `systemctl reboot`)".to_string(),
        ),
        Outcome::Passed => (
            "result",
            "pstore is proven on this machine; `lastgasp selftest --again` tests again".to_string(),
        ),
        Outcome::Failed => (
            "result",
            "fix the cause, then `lastgasp selftest --again`; `lastgasp status` shows what is armed"
                .to_string(),
        ),
    };
    if json {
        print_json(&SelftestOutput {
            action,
            selftest: last,
            canary_target: None,
            not_run: Vec::new(),
            next,
        })?;
    } else {
        let what = match last.outcome {
            Outcome::Pending if last.boot_id == boot => {
                "pending, waiting for the reboot".to_string()
            }
            Outcome::Pending => "pending".to_string(),
            outcome => format!(
                "{}: {}",
                outcome.name(),
                last.detail.as_deref().unwrap_or("no detail")
            ),
        };
        output::emit(&format!(
            "selftest {} ({}, {}, started {}): {what}\n{next}\n",
            last.id,
            last.backend,
            last.method.describe(),
            last.started
        ))?;
    }
    if last.outcome == Outcome::Failed {
        return Err(super::Exit(1).into());
    }
    Ok(())
}

/// `--crash`: records the selftest, logs the canary, syncs and crashes through SysRq 'c'.
fn crash(
    root: &Path,
    selftest: &mut SelftestState,
    canary: &str,
    args: &SelftestArgs,
    live: bool,
) -> Result<()> {
    if !args.yes {
        confirm()?;
    }
    selftest.write(root)?;
    canary::log_to_kernel(root, canary)?;
    let next = "the machine crashes now; at the next boot lastgasp-save.service makes the \
                report and `lastgasp selftest` shows the result"
        .to_string();
    if args.json {
        print_json(&SelftestOutput {
            action: "crashing",
            selftest,
            canary_target: Some("the kernel log".into()),
            not_run: if live {
                Vec::new()
            } else {
                vec!["sync".into()]
            },
            next,
        })?;
    } else {
        output::line(&format!("selftest {}: {next}", selftest.id))?;
    }
    if live {
        sys::sync();
    }
    let trigger = crate::paths::under_root(root, Path::new("/proc/sysrq-trigger"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&trigger)
        .map_err(|e| anyhow!("cannot open {}: {}", trigger.display(), super::os_cause(&e)))?;
    file.write_all(b"c").map_err(|e| {
        anyhow!(
            "cannot write {}: {}",
            trigger.display(),
            super::os_cause(&e)
        )
    })?;
    Ok(())
}

/// Asks on the terminal; anything but "yes" refuses.
fn confirm() -> Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "selftest --crash crashes this machine: run it on a terminal to confirm, or add --yes"
        );
    }
    eprint!("This crashes the kernel now (SysRq 'c'); unsaved work is lost. Type yes to go on: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        bail!("not confirmed; nothing done");
    }
    Ok(())
}

fn print_json(out: &SelftestOutput<'_>) -> Result<()> {
    output::line(&serde_json::to_string_pretty(out)?)?;
    Ok(())
}
