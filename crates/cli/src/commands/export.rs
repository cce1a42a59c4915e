//! `lastgasp export ID -o FILE`: one archive of a report for whoever debugs the crash.

use anyhow::{Result, anyhow};

use crate::cli::ExportArgs;
use crate::config::Config;
use crate::output;

pub fn run(config: &Config, args: &ExportArgs, quiet: bool) -> Result<()> {
    let outcome = super::store(config)
        .export(&args.id, &args.output, args.force, args.with_dump)
        .map_err(|e| match e {
            report::Error::Exists { path } => {
                anyhow!(
                    "{} already exists; pass --force to replace it",
                    path.display()
                )
            }
            other => other.into(),
        })?;
    if !quiet {
        output::line(&format!(
            "wrote {} ({} bytes, report {})",
            outcome.path.display(),
            outcome.bytes,
            outcome.id
        ))?;
    }
    Ok(())
}
