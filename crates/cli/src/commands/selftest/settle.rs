//! The selftest's half of `lastgasp save` at the next boot: canary records are recognised by
//! their text, never made into crash reports, and removed from pstore; a pending selftest is
//! marked passed when its canary came back, or failed, with the likely reason, once the boot id
//! shows the reboot happened without it.

use std::path::Path;

use anyhow::Result;

use super::state::{CANARY_MARKER, Method, Outcome, SelftestState, boot_id};
use crate::commands::backend::{self, RamoopsParams};

/// The "backend" of a `selftest --crash` on a machine armed for kdump only.
pub const KDUMP: &str = "kdump";

/// The kdump half, after `save` made reports of the captures: a pending `selftest --crash`
/// through kdump passes when a new kdump report's log holds its canary, and fails once the boot
/// changed without one. `reports` are the report directories save wrote.
pub fn settle_kdump(root: &Path, reports: &[std::path::PathBuf]) {
    let Ok(Some(mut state)) = SelftestState::read(root) else {
        return;
    };
    if state.outcome != Outcome::Pending || state.backend != KDUMP {
        return;
    }
    let canary = super::state::canary_line(&state.id);
    let found = reports.iter().find(|dir| {
        std::fs::read(dir.join("dmesg.txt"))
            .is_ok_and(|log| log.windows(canary.len()).any(|w| w == canary.as_bytes()))
    });
    match (found, boot_id(root)) {
        (Some(dir), _) => state.settle(
            Outcome::Passed,
            format!(
                "survives a crash: the capture kernel saved the log holding the canary (report {})",
                dir.file_name().unwrap_or_default().to_string_lossy()
            ),
        ),
        (None, Ok(now)) if now != state.boot_id => state.settle(
            Outcome::Failed,
            "the crash left no kdump capture: the capture kernel did not boot or could not \
             write (too small a crashkernel= reservation, a capture initramfs that cannot reach \
             the disk); see `lastgasp status` and docs/kdump.md"
                .to_string(),
        ),
        _ => return,
    }
    if let Err(error) = state.write(root) {
        tracing::warn!("selftest: {error:#}");
    }
}

/// The dump reason word pstore writes for a dump at reboot (KMSG_DUMP_SHUTDOWN).
const SHUTDOWN_REASON: &str = "Shutdown";
/// The header word of the EFI variable `selftest` writes itself.
pub const SELFTEST_REASON: &str = "Selftest";

/// What one record is to the selftest.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// A canary: the selftest's own record (a pmsg write, our EFI variable, the shutdown dump),
    /// with the selftest id it names (`None`: a shutdown dump whose canary line scrolled out).
    Canary(Option<String>),
    /// A crash's record whose log holds a canary line: a crash after `selftest` (or `selftest
    /// --crash`). It stays a crash report, and it proves the backend kept a record.
    CrashWithCanary(String),
    Other,
}

fn classify(record: &pstore::Record) -> Seen {
    let Some(name) = &record.name else {
        return Seen::Other;
    };
    match name.kind {
        pstore::RecordKind::Pmsg => match canary_id(&record.data) {
            Some(id) => Seen::Canary(Some(id)),
            None => Seen::Other,
        },
        pstore::RecordKind::Dmesg => {
            let decoded = pstore::decode_dmesg(&record.data, name.encoded);
            let reason = decoded.header.as_ref().map(|h| h.reason.as_str());
            let id = canary_id(&decoded.text);
            match (reason, id) {
                (Some(SHUTDOWN_REASON | SELFTEST_REASON), id) => Seen::Canary(id),
                (_, Some(id)) => Seen::CrashWithCanary(id),
                (_, None) => Seen::Other,
            }
        }
        _ => Seen::Other,
    }
}

/// The selftest id after the last canary marker in `text`.
fn canary_id(text: &[u8]) -> Option<String> {
    let marker = CANARY_MARKER.as_bytes();
    let at = text.windows(marker.len()).rposition(|w| w == marker)?;
    let rest = text.get(at + marker.len()..)?;
    let id: String = String::from_utf8_lossy(rest)
        .split_whitespace()
        .next()?
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (!id.is_empty()).then_some(id)
}

/// Takes the canaries out of `records` (removing them from pstore), settles a pending selftest
/// under `root`, and returns the records left to report. Never fails the save over the selftest:
/// a problem with selftest.json is logged and the records go on as they are.
pub fn settle(root: &Path, records: Vec<pstore::Record>) -> Vec<pstore::Record> {
    match settle_inner(root, records) {
        Ok(records) => records,
        Err((records, error)) => {
            tracing::warn!("selftest: {error:#}");
            records
        }
    }
}

type Failed = (Vec<pstore::Record>, anyhow::Error);

fn settle_inner(root: &Path, records: Vec<pstore::Record>) -> Result<Vec<pstore::Record>, Failed> {
    // A damaged selftest.json must not keep canaries out of the way or stop the save.
    let state = SelftestState::read(root).unwrap_or_else(|error| {
        tracing::warn!("selftest: {error:#}");
        None
    });
    let mut pending = state.filter(|s| s.outcome == Outcome::Pending);
    let mut keep = Vec::new();
    let mut evidence: Option<String> = None;
    for record in records {
        let seen = classify(&record);
        let ours = |id: &Option<String>| match (&pending, id) {
            (Some(p), Some(id)) => *id == p.id,
            // A shutdown dump without the canary line counts only for a selftest that asked
            // for one, and only as the kernel's pstore shows it now (not an archived copy).
            (Some(p), None) => {
                p.method == Method::ShutdownDump && record.origin == pstore::Origin::Pstore
            }
            (None, _) => false,
        };
        match &seen {
            Seen::Canary(id) if id.is_some() || ours(id) => {
                if ours(id) {
                    evidence = Some(format!("its canary came back as {}", record.file_name));
                } else {
                    tracing::info!(record = %record.file_name, "an earlier selftest's canary; removing it");
                }
                remove(&record);
            }
            Seen::CrashWithCanary(id) if ours(&Some(id.clone())) => {
                evidence.get_or_insert_with(|| {
                    format!(
                        "a crash record holding its canary came back as {}",
                        record.file_name
                    )
                });
                keep.push(record);
            }
            _ => keep.push(record),
        }
    }
    let Some(state) = pending.as_mut() else {
        return Ok(keep);
    };
    let result = (|| -> Result<()> {
        if let Some(evidence) = evidence {
            state.settle(Outcome::Passed, format!("survives a reboot: {evidence}"));
        } else if state.backend == KDUMP {
            // Decided by `settle_kdump` once the captures are reports.
            return Ok(());
        } else if boot_id(root)? != state.boot_id {
            let reason =
                failure_reason(state, backend::registered(root), RamoopsParams::read(root));
            state.settle(Outcome::Failed, reason);
        } else {
            // Same boot: the reboot has not happened yet.
            return Ok(());
        }
        tracing::info!(
            outcome = state.outcome.name(),
            "selftest {}: {}",
            state.id,
            state.detail.as_deref().unwrap_or_default()
        );
        state.write(root)
    })();
    match result {
        Ok(()) => Ok(keep),
        Err(error) => Err((keep, error)),
    }
}

fn remove(record: &pstore::Record) {
    // systemd-pstore's archive is never modified; the canary there is only skipped.
    if record.origin != pstore::Origin::Pstore {
        return;
    }
    match std::fs::remove_file(&record.path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(
            "cannot remove the selftest canary {}: {e}",
            record.path.display()
        ),
    }
}

/// Why the canary did not come back, as far as this boot can tell.
pub fn failure_reason(
    state: &SelftestState,
    registered: Option<String>,
    ramoops: Option<RamoopsParams>,
) -> String {
    let backend = state.backend.as_str();
    let lead = match state.method {
        Method::Crash => "the crash left no record at this boot",
        _ => "the canary did not come back after the reboot",
    };
    let now = registered
        .as_deref()
        .map(|n| backend::setup_name(n).unwrap_or(n));
    let why = match now {
        None => "no pstore backend is registered at this boot, so nothing could be read back: \
                 check that lastgasp-load.service ran (see `lastgasp status`)"
            .to_string(),
        Some(now) if now != backend => format!(
            "this boot registered the {now} backend, not {backend}: pstore reads records only \
             through the backend that wrote them"
        ),
        Some(_) => match backend {
            "ramoops" => ramoops_reason(state.ramoops_address, ramoops.as_ref()),
            "efi" => "the firmware dropped the UEFI variable (a variable store reset or \
                      clean-up at boot), or efi_pstore was disabled"
                .to_string(),
            "blk" => "the pstore/blk partition came back without the record: it was rewritten, \
                      or this boot uses another device"
                .to_string(),
            "erst" => "the firmware cleared its ERST error record store at boot".to_string(),
            other => format!("the {other} backend kept nothing across the reboot"),
        },
    };
    format!("{lead}: {why}")
}

fn ramoops_reason(before: Option<u64>, now: Option<&RamoopsParams>) -> String {
    match (before, now.map(|p| p.address)) {
        (Some(before), Some(now)) if before != now => format!(
            "the ramoops region moved from {before:#x} to {now:#x} at this boot, so the old \
             record was not where ramoops looked (reserve_mem= may place it anew at each boot): \
             use a fixed memmap= region"
        ),
        (_, None) => "ramoops is not loaded at this boot".to_string(),
        (_, Some(now)) => format!(
            "the ramoops region at {now:#x} came back empty: the firmware scrubs or retrains \
             memory at boot, or this was a cold boot (power cut, not a warm reboot); use the \
             efi or blk backend, or kdump"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::selftest::state::VERSION;
    use crate::paths::under_root;

    fn root_with_boot(boot: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let path = under_root(root.path(), Path::new(crate::boots::BOOT_ID));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("{boot}\n")).unwrap();
        root
    }

    fn pending(method: Method, backend: &str) -> SelftestState {
        SelftestState {
            version: VERSION,
            id: "20261201T080000Z-0123abcd".into(),
            backend: backend.into(),
            method,
            boot_id: "boot-1".into(),
            started: "2026-12-01T08:00:00Z".into(),
            ramoops_address: Some(0x3f00_0000),
            outcome: Outcome::Pending,
            settled: None,
            detail: None,
        }
    }

    /// A record file in `<root>/pstore`, as read by the pstore crate.
    fn record(root: &Path, name: &str, data: &str) -> pstore::Record {
        let dir = root.join("pstore");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
        let mut record = pstore::Record::in_memory(name, data.as_bytes().to_vec());
        record.path = dir.join(name);
        record
    }

    #[test]
    fn the_canary_id_is_the_word_after_the_marker() {
        assert_eq!(
            canary_id(b"[ 1.0] lastgasp-selftest-canary 2026-abc\n[ 2.0] reboot: Restarting"),
            Some("2026-abc".into())
        );
        assert_eq!(canary_id(b"lastgasp-selftest-canary"), None);
        assert_eq!(canary_id(b"nothing here"), None);
    }

    #[test]
    fn a_shutdown_dump_with_the_canary_passes_and_is_removed() {
        let root = root_with_boot("boot-2");
        pending(Method::ShutdownDump, "ramoops")
            .write(root.path())
            .unwrap();
        let canary = record(
            root.path(),
            "dmesg-ramoops-0",
            "Shutdown#1 Part1\n<5>[ 9.1] lastgasp-selftest-canary 20261201T080000Z-0123abcd\n<6>[ 9.9] reboot: Restarting system\n",
        );
        let crash = record(
            root.path(),
            "dmesg-ramoops-1",
            "Panic#1 Part1\n<0>[ 3.0] Kernel panic - not syncing: x\n",
        );
        let left = settle(root.path(), vec![canary.clone(), crash.clone()]);
        assert_eq!(left, vec![crash]);
        assert!(!canary.path.exists());
        let state = SelftestState::read(root.path()).unwrap().unwrap();
        assert_eq!(state.outcome, Outcome::Passed);
        assert!(
            state
                .detail
                .unwrap()
                .starts_with("survives a reboot: its canary came back as dmesg-ramoops-0")
        );
        assert!(state.settled.is_some());
    }

    #[test]
    fn a_shutdown_dump_whose_canary_scrolled_out_still_passes() {
        let root = root_with_boot("boot-2");
        pending(Method::ShutdownDump, "ramoops")
            .write(root.path())
            .unwrap();
        let dump = record(
            root.path(),
            "dmesg-ramoops-0",
            "Shutdown#1 Part1\n<6>[ 9.9] reboot: Restarting system\n",
        );
        assert!(settle(root.path(), vec![dump]).is_empty());
        let state = SelftestState::read(root.path()).unwrap().unwrap();
        assert_eq!(state.outcome, Outcome::Passed);
    }

    #[test]
    fn a_crash_holding_the_canary_stays_a_report_and_passes_the_selftest() {
        let root = root_with_boot("boot-2");
        pending(Method::Crash, "erst").write(root.path()).unwrap();
        let crash = record(
            root.path(),
            "dmesg-erst-7",
            "Panic#1 Part1\n<5>[ 9.1] lastgasp-selftest-canary 20261201T080000Z-0123abcd\n<0>[ 9.5] Kernel panic - not syncing: sysrq triggered crash\n",
        );
        assert_eq!(
            settle(root.path(), vec![crash.clone()]),
            vec![crash.clone()]
        );
        assert!(crash.path.exists());
        let state = SelftestState::read(root.path()).unwrap().unwrap();
        assert_eq!(state.outcome, Outcome::Passed);
        assert!(
            state
                .detail
                .unwrap()
                .contains("a crash record holding its canary")
        );
    }

    #[test]
    fn an_old_canary_is_removed_without_touching_the_result() {
        let root = root_with_boot("boot-1");
        let old = record(
            root.path(),
            "dmesg-efi_pstore-1",
            "Selftest#1 Part1\nlastgasp-selftest-canary 2025-old\n",
        );
        assert!(settle(root.path(), vec![old.clone()]).is_empty());
        assert!(!old.path.exists());
        assert_eq!(SelftestState::read(root.path()).unwrap(), None);
    }

    #[test]
    fn the_same_boot_leaves_the_selftest_pending() {
        let root = root_with_boot("boot-1");
        pending(Method::EfiVariable, "efi")
            .write(root.path())
            .unwrap();
        assert!(settle(root.path(), Vec::new()).is_empty());
        let state = SelftestState::read(root.path()).unwrap().unwrap();
        assert_eq!(state.outcome, Outcome::Pending);
    }

    #[test]
    fn another_boot_without_the_canary_fails_with_the_reason() {
        let root = root_with_boot("boot-2");
        pending(Method::ShutdownDump, "ramoops")
            .write(root.path())
            .unwrap();
        let other = record(root.path(), "dmesg-ramoops-0", "Shutdown#1 Part1\n");
        // An archived copy is not evidence for a selftest that reads pstore itself.
        let mut archived = other.clone();
        archived.origin = pstore::Origin::SystemdArchive;
        std::fs::remove_file(&other.path).unwrap();
        assert_eq!(settle(root.path(), vec![archived.clone()]), vec![archived]);
        let state = SelftestState::read(root.path()).unwrap().unwrap();
        assert_eq!(state.outcome, Outcome::Failed);
        assert!(
            state
                .detail
                .unwrap()
                .contains("no pstore backend is registered")
        );
    }

    #[test]
    fn failure_reasons_per_backend() {
        let moved = RamoopsParams {
            address: 0x3ed0_0000,
            size: 1 << 20,
            record_size: 0x10000,
            console_size: 0,
            ftrace_size: 0,
            pmsg_size: 0,
            ecc: 0,
            mem_type: 0,
            max_reason: 2,
            mem_name: Some("oops".into()),
        };
        let ramoops = pending(Method::ShutdownDump, "ramoops");
        let reason = failure_reason(&ramoops, Some("ramoops".into()), Some(moved.clone()));
        assert!(
            reason.contains("moved from 0x3f000000 to 0x3ed00000"),
            "{reason}"
        );
        let same = RamoopsParams {
            address: 0x3f00_0000,
            ..moved
        };
        let reason = failure_reason(&ramoops, Some("ramoops".into()), Some(same));
        assert!(
            reason.contains("came back empty: the firmware scrubs"),
            "{reason}"
        );
        let efi = pending(Method::EfiVariable, "efi");
        let reason = failure_reason(&efi, Some("efi_pstore".into()), None);
        assert!(
            reason.contains("firmware dropped the UEFI variable"),
            "{reason}"
        );
        let reason = failure_reason(&efi, Some("erst".into()), None);
        assert!(
            reason.contains("registered the erst backend, not efi"),
            "{reason}"
        );
    }

    #[test]
    fn a_damaged_selftest_json_does_not_stop_the_save() {
        let root = root_with_boot("boot-2");
        let path = SelftestState::path(root.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{").unwrap();
        let crash = record(root.path(), "dmesg-ramoops-1", "Panic#1 Part1\nx\n");
        assert_eq!(settle(root.path(), vec![crash.clone()]), vec![crash]);
    }
}
