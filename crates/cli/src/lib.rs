//! The `lastgasp` command line as data: the clap definition the binary parses with, exposed so
//! that `cargo xtask man` can render man pages from the same source. Behaviour stays in the
//! binary; with the `man` feature this crate also renders the pages. The one piece of state
//! several commands share, setup.json ([`arming_state`]), is here too so each reads it the same way,
//! with the helper every state file under /var/lib/lastgasp is read and written by ([`state_file`]).

pub mod arming_state;
pub mod cli;
#[cfg(any(test, feature = "man"))]
pub mod man;
pub mod state_file;

/// The complete `lastgasp` command: every subcommand, option and help text.
pub fn command() -> clap::Command {
    <cli::Cli as clap::CommandFactory>::command()
}
