//! Context for a report, gathered by `save` per the `[collect]` configuration: the OS release,
//! the crashed kernel's package, DMI product and BIOS, the pstore set-up and the crashed boot's
//! journal tail. Everything is read at the next boot, after the crash, under `--root`; programs
//! run only on the real root. A collector that fails never fails the save: its item is recorded
//! as missing, with the reason.

mod dmi;
mod firmware;
mod journal;
mod kernel_package;
mod os_release;
pub(crate) mod runner;

use std::io::Read;
use std::path::Path;

use report::NewReport;

use crate::config_collect::CollectConfig;
pub use runner::{Runner, System};

/// Files read for context are small; anything larger is not what we expect there.
const MAX_FILE_BYTES: u64 = 64 << 10;

/// Adds the context `config` asks for to `report`.
pub fn add_context(
    report: &mut NewReport,
    config: &CollectConfig,
    root: &Path,
    runner: &dyn Runner,
) {
    let release = report
        .analysis
        .as_ref()
        .and_then(|a| a.kernel_release.clone());
    if config.os_release {
        report.context.push(os_release::collect(root));
    }
    if config.kernel_package {
        let item = kernel_package::collect(root, release.as_deref(), runner);
        report.context.push(item);
    }
    if config.dmi {
        report.context.push(dmi::collect(root));
    }
    if config.firmware {
        report.context.push(firmware::collect(root));
    }
    if config.journal_tail > 0 {
        match journal::collect(config.journal_tail, report.crash_time, runner) {
            (item, Some(text)) => report.add_context_file(item, journal::FILE, text),
            (item, None) => report.context.push(item),
        }
    }
    for item in &report.context {
        if let Some(why) = &item.missing {
            tracing::info!(kind = item.kind.name(), "context left out: {why}");
        }
    }
}

/// A small text file; `Err` is one line naming the file and what went wrong.
fn read_small(path: &Path) -> Result<String, String> {
    let mut data = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_FILE_BYTES).read_to_end(&mut data))
        .map_err(|e| format!("{}: {}", path.display(), super::os_cause(&e)))?;
    Ok(String::from_utf8_lossy(&data).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use report::{ContextKind, Describes};

    fn crash_report() -> NewReport {
        let log = "[    1.000000] Linux version 6.1.0-56-amd64 (x) #1 SMP\n\
                   [    9.000000] Kernel panic - not syncing: sysrq triggered crash\n";
        // A kdump report: its id comes from its files, so it shows context files stay out.
        let entry = report::KdumpEntry {
            vmcore_bytes: 1 << 30,
            log_complete: true,
            warnings: Vec::new(),
            dump: None,
        };
        let analysis = kmsg::analyze(log);
        NewReport::from_kdump(
            log.as_bytes().to_vec(),
            Some(1_700_000_000),
            entry,
            None,
            Some(analysis),
        )
    }

    #[test]
    fn everything_asked_for_is_there_collected_or_missing() {
        let root = tempfile::tempdir().unwrap();
        let config = CollectConfig {
            journal_tail: 100,
            ..CollectConfig::default()
        };
        let mut report = crash_report();
        let id = report.id();
        add_context(
            &mut report,
            &config,
            root.path(),
            &System::for_root(root.path()),
        );
        let kinds: Vec<ContextKind> = report.context.iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            [
                ContextKind::OsRelease,
                ContextKind::KernelPackage,
                ContextKind::Dmi,
                ContextKind::Firmware,
                ContextKind::JournalTail
            ]
        );
        assert!(report.context.iter().all(|i| i.collected_after_crash));
        let journal = report.context.last().unwrap();
        assert_eq!(
            journal.missing.as_deref(),
            Some(format!("journalctl: not run under --root {}", root.path().display()).as_str())
        );
        assert_eq!(report.id(), id, "context does not change the id");
    }

    #[test]
    fn nothing_is_collected_when_everything_is_off() {
        let root = tempfile::tempdir().unwrap();
        let config = CollectConfig {
            journal_tail: 0,
            os_release: false,
            kernel_package: false,
            dmi: false,
            firmware: false,
        };
        let mut report = crash_report();
        add_context(
            &mut report,
            &config,
            root.path(),
            &System::for_root(root.path()),
        );
        assert!(report.context.is_empty());
    }

    #[test]
    fn the_journal_tail_becomes_a_context_file() {
        let runner = runner::fake::Fake(vec![
            (
                "journalctl --list-boots --utc -o json --no-pager".into(),
                Ok(
                    r#"[{"index":-1,"boot_id":"b1","first_entry":1699999000000000,
                        "last_entry":1699999999000000}]"#
                        .into(),
                ),
            ),
            (
                "journalctl -b b1 -n 20 -o short-monotonic --no-pager -q".into(),
                Ok("[ 5.0] h kernel: last words\n".into()),
            ),
        ]);
        let config = CollectConfig {
            journal_tail: 20,
            os_release: false,
            kernel_package: false,
            dmi: false,
            firmware: false,
        };
        let mut report = crash_report();
        let id = report.id();
        add_context(&mut report, &config, Path::new("/"), &runner);
        let item = &report.context[0];
        assert_eq!(item.describes, Describes::CrashedBoot);
        assert_eq!(item.file.as_deref(), Some("context/journal-tail.txt"));
        let file = report
            .files
            .iter()
            .find(|f| f.name == "context/journal-tail.txt");
        assert_eq!(file.unwrap().data, b"[ 5.0] h kernel: last words\n");
        assert_eq!(report.id(), id);
    }
}
