//! `lastgasp status`: whether this machine is armed to keep a crash, what is in effect against
//! what setup asked for, and each problem with its fix, on one screen or as JSON. Exit status 0
//! when armed, [`NOT_ARMED`] otherwise.

mod facts;
mod render;
mod submit_queue;
mod verdict;

use std::path::Path;

use anyhow::Result;

use crate::cli::StatusArgs;
use crate::config::Config;
use crate::output;

/// The status with the submit queue's after it, in one JSON object.
#[derive(serde::Serialize)]
struct WithSubmit<'a> {
    #[serde(flatten)]
    status: &'a verdict::Status,
    submit: &'a submit_queue::SubmitStatus,
}

/// The exit status when the machine is not armed (1 is "status could not run", 2 usage).
pub const NOT_ARMED: u8 = 3;

pub fn run(config: &Config, root: &Path, args: &StatusArgs) -> Result<()> {
    let status = verdict::judge(facts::Facts::read(config, root));
    let submit = submit_queue::read(config);
    if args.json {
        let whole = WithSubmit {
            status: &status,
            submit: &submit,
        };
        output::line(&serde_json::to_string_pretty(&whole)?)?;
    } else {
        output::emit(&render::text(&status, &[("submit", submit.line())]))?;
    }
    if status.armed {
        Ok(())
    } else {
        Err(super::Exit(NOT_ARMED).into())
    }
}
