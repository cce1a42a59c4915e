//! `lastgasp`: collects the last words of a crashed Linux kernel into crash reports. This file
//! only parses arguments, sets up logging and turns errors into one line and an exit status.

mod boots;
mod commands;
mod config;
mod config_collect;
mod config_files;
mod config_kdump;
mod config_setup;
mod config_submit;
mod kdump_capture;
mod kmod;
mod logging;
mod output;
mod paths;
mod size;

use std::process::ExitCode;

use clap::Parser;
use lastgasp::cli;

fn main() -> ExitCode {
    // In a capture initramfs this binary is /init: no arguments, never returns.
    if commands::initramfs::init::wanted() {
        commands::initramfs::init::run();
    }
    // clap exits with status 2 on usage errors and 0 for --help/--version.
    let cli = cli::Cli::parse();
    logging::init(cli.global.verbose, cli.global.quiet);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if output::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) if error.is::<commands::Exit>() => ExitCode::from(
            error
                .downcast_ref::<commands::Exit>()
                .map_or(1, |exit| exit.0),
        ),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
