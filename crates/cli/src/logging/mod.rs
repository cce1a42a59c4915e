//! Diagnostics go to stderr through tracing (the journal captures a service's stderr); stdout
//! carries only command output. `LASTGASP_LOG` (an env-filter directive) overrides -v/-q.

use tracing_subscriber::EnvFilter;

pub fn init(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("LASTGASP_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    // A second init (only possible in tests) keeps the first subscriber; nothing to report.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .try_init();
}
