//! Command dispatch and what the commands share: the effective settings (configuration plus
//! command-line overrides) and the report store.

mod analyze;
pub(crate) mod backend;
mod capture;
mod collect;
mod config;
mod dmesg;
pub(crate) mod estimate;
mod export;
pub(crate) mod initramfs;
mod list;
pub(crate) mod load;
mod save;
mod save_kdump;
pub(crate) mod selftest;
mod setup;
mod show;
pub(crate) mod status;
mod submit;

use anyhow::Result;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::config::Config;

pub fn run(cli: Cli) -> Result<()> {
    let global = &cli.global;
    match &cli.command {
        // analyze needs no configuration, so a broken config file cannot stop it.
        Command::Analyze(args) => analyze::run(args),
        Command::Load(args) => load::run(&settings(global)?, &global.root, args, global.quiet),
        Command::Save(args) => save::run(&settings(global)?, &global.root, args, global.quiet),
        Command::List(args) => list::run(&settings(global)?, args),
        Command::Show(args) => show::run(&settings(global)?, args),
        Command::Export(args) => export::run(&settings(global)?, args, global.quiet),
        Command::Config(args) => config::run(&settings(global)?, args),
        Command::Dmesg(args) => dmesg::run(args),
        Command::Capture(args) => {
            capture::run(&global.root, &settings(global)?, args, global.quiet)
        }
        Command::Estimate(args) => estimate::run(&settings(global)?, &global.root, args),
        Command::Setup(args) => setup::run(&settings(global)?, &global.root, args, global.quiet),
        Command::Unsetup(args) => setup::unsetup(&global.root, args, global.quiet),
        Command::Initramfs(args) => {
            initramfs::run(&settings(global)?, &global.root, args, global.quiet)
        }
        Command::Status(args) => status::run(&settings(global)?, &global.root, args),
        Command::Submit(args) => submit::run(&settings(global)?, &global.root, args),
        Command::Selftest(args) => {
            selftest::run(&settings(global)?, &global.root, args, global.quiet)
        }
    }
}

/// The configuration with `--pstore-dir` / `--reports-dir` applied on top.
fn settings(global: &GlobalArgs) -> Result<Config> {
    let mut config = Config::load(&global.root, global.config.as_deref())?;
    if let Some(dir) = &global.pstore_dir {
        config.pstore_dir.clone_from(dir);
        config
            .origins
            .insert("pstore.dir", "command line".to_string());
    }
    if let Some(dir) = &global.reports_dir {
        config.reports_dir.clone_from(dir);
        config
            .origins
            .insert("reports.dir", "command line".to_string());
    }
    tracing::debug!(?config, "effective settings");
    Ok(config)
}

fn store(config: &Config) -> report::Store {
    report::Store::open(&config.reports_dir)
}

/// A command's answer that is not an error but is still a nonzero exit status (`status`: not
/// armed); `main` exits with it without printing anything more.
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// An OS error without its "(os error N)" tail.
pub(crate) fn os_cause(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text.get(..at).unwrap_or(&text).to_string(),
        None => text,
    }
}
