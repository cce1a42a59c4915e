//! `lastgasp unsetup`: undo what setup.json says setup did, and nothing else. Files setup
//! created go; files it edited get their original back byte for byte, or, when someone edited
//! them since, lose only setup's lines and parameters. grub.cfg or the UKIs are regenerated.

use std::path::Path;

use anyhow::Result;
use lastgasp::arming_state::{ArmingState, Bootloader};
use setup::bootloader::{self, Step};
use setup::files;

use super::{KDUMP_UNIT, steps, summary};
use crate::cli::UnsetupArgs;

pub fn run(root: &Path, args: &UnsetupArgs, quiet: bool) -> Result<()> {
    if setup::root::is_live(root) && !sys::running_as_root() && !args.dry_run {
        anyhow::bail!("unsetup must run as root: it restores files under /etc and /boot");
    }
    let Some(state) = ArmingState::read(root)? else {
        return summary::print_nothing_to_undo(&ArmingState::path(root), args.json, quiet);
    };
    let mut changes = files::plan_unsetup(root, &state.files, &state.kernel_params)?;
    if state.bootloader == Bootloader::SystemdBoot {
        let stray: Vec<_> = bootloader::entry_files(root)
            .into_iter()
            .filter(|entry| !state.files.iter().any(|f| f.path == *entry))
            .collect();
        changes.extend(files::plan_strip_entries(
            root,
            &stray,
            &state.kernel_params,
        )?);
    }
    let boot_changed = changes
        .iter()
        .any(|c| c.changes() && c.path != Path::new(setup::sysctl::DROPIN));
    let mut wanted: Vec<Step> = if boot_changed {
        bootloader::regenerate(root, state.bootloader)
    } else {
        Vec::new()
    };
    if state.mode.wants_kdump() {
        wanted.push(Step::new(
            &["systemctl", "disable", KDUMP_UNIT],
            "stop loading the capture kernel at boot",
            "run `systemctl disable lastgasp-kdump.service` and read its error",
        ));
    }
    if !args.dry_run {
        files::commit(root, &changes)?;
    }
    let outcomes = steps::run(root, &wanted, args.dry_run, |_| Ok(()));
    if !args.dry_run {
        ArmingState::remove(root)?;
    }
    summary::print_unsetup(
        &summary::Unsetup {
            dry_run: args.dry_run,
            state: &state,
            changes: &changes,
            commands: &outcomes,
            reboot: !args.dry_run && boot_changed,
        },
        args.json,
        quiet,
    )?;
    super::steps_failed(&outcomes)
}
