//! Diagnostics through tracing, sent where a boot-time tool's logs belong (see `target`): the
//! journal, the kernel log inside an initramfs, or stderr. stdout carries only command output,
//! and `main` prints an error that ends the program on stderr whatever the target. Quiet by
//! default (warnings and errors); `LASTGASP_LOG` (a level, or `target=level` pairs separated by
//! commas) overrides -v/-q.

mod kmsg;
mod target;

use std::io::IsTerminal;
use std::path::Path;

use tracing::Subscriber;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use target::Target;

const FILTER_VAR: &str = "LASTGASP_LOG";
const KMSG: &str = "/dev/kmsg";
const IDENTIFIER: &str = "lastgasp";

pub fn init(verbose: u8, quiet: bool) {
    let (target, complaint) = target::choose(&target::Environment::probe());
    let fallback = install(target, filter(verbose, quiet));
    if let Some(reason) = fallback {
        tracing::debug!("logging to stderr: {reason}");
    }
    if let Some(complaint) = complaint {
        tracing::warn!("{complaint}");
    }
}

/// For /init in the capture initramfs: the kernel log is the only log there is, and the
/// capture's progress belongs in it.
pub fn init_kmsg() {
    if let Some(reason) = install(Target::Kmsg, filter(1, false)) {
        eprintln!("lastgasp: {reason}");
    }
}

/// `LASTGASP_LOG` when it parses, else the level of -v/-q. (Targets rather than an env-filter:
/// the same directives for what a CLI needs, without a regex engine in a binary that must stay
/// small for the capture initramfs.)
fn filter(verbose: u8, quiet: bool) -> Targets {
    std::env::var(FILTER_VAR)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| targets(level(verbose, quiet)))
}

fn targets(level: &str) -> Targets {
    level.parse().unwrap_or_default()
}

/// The level -v/-q ask for: success is silent unless asked for.
fn level(verbose: u8, quiet: bool) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    }
}

/// Installs the subscriber for `target`. When the target cannot be opened, logs go to stderr
/// and the reason is returned.
fn install(target: Target, filter: Targets) -> Option<String> {
    // A second init (only possible in tests) keeps the first subscriber; nothing to report.
    let reason = match target {
        Target::Stderr => None,
        Target::Journal => match tracing_journald::layer() {
            Ok(layer) => {
                let layer = layer.with_syslog_identifier(IDENTIFIER.to_string());
                let _ = tracing_subscriber::registry()
                    .with(filter)
                    .with(layer)
                    .try_init();
                return None;
            }
            Err(e) => Some(format!("the journal cannot be reached: {e}")),
        },
        Target::Kmsg => match kmsg::Kmsg::open(Path::new(KMSG)) {
            Ok(kmsg) => {
                let _ = kmsg_subscriber(filter, kmsg).try_init();
                return None;
            }
            Err(e) => Some(format!("cannot open {KMSG}: {e}")),
        },
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .without_time()
                .with_target(false),
        )
        .try_init();
    reason
}

/// Plain lines without time (the kernel stamps each record) or level (the record's priority
/// carries it).
fn kmsg_subscriber(filter: Targets, kmsg: kmsg::Kmsg) -> impl Subscriber + Send + Sync {
    tracing_subscriber::registry().with(filter).with(
        fmt::layer()
            .with_writer(kmsg)
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .with_level(false),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_reach_kmsg_as_prioritised_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kmsg");
        std::fs::write(&path, "").unwrap();
        let subscriber = kmsg_subscriber(targets("info"), kmsg::Kmsg::open(&path).unwrap());
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!("filtered out");
            tracing::info!(count = 3, "pstore records found");
            tracing::warn!("cannot remove record /sys/fs/pstore/dmesg-efi-1: Permission denied");
            tracing::error!("two\nlines");
        });
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "<5>lastgasp: pstore records found count=3\n\
             <4>lastgasp: cannot remove record /sys/fs/pstore/dmesg-efi-1: Permission denied\n\
             <3>lastgasp: two\n\
             <3>lastgasp: lines\n"
        );
    }

    #[test]
    fn quiet_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kmsg");
        std::fs::write(&path, "").unwrap();
        let subscriber =
            kmsg_subscriber(targets(level(0, false)), kmsg::Kmsg::open(&path).unwrap());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("nothing to collect");
            tracing::warn!("retention: cannot remove old report");
        });
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "<4>lastgasp: retention: cannot remove old report\n"
        );
    }

    #[test]
    fn verbosity_levels() {
        assert_eq!(level(0, true), "error");
        assert_eq!(level(1, false), "info");
        assert_eq!(level(2, false), "debug");
        assert_eq!(level(9, false), "trace");
    }
}
