//! Everything `status` looks at, read under `--root` into one value; no judgement here (that is
//! `verdict`), so the same facts give the same answer in tests and on a machine.

use std::path::{Path, PathBuf};

use serde::Serialize;
use setup::iomem;

use crate::boots;
use crate::commands::backend::{self, RamoopsParams};
use crate::commands::selftest::state::SelftestState;
use crate::config::Config;
use crate::paths::under_root;
use lastgasp::arming_state::ArmingState;

pub const PROC_CMDLINE: &str = "/proc/cmdline";
pub const PROC_IOMEM: &str = "/proc/iomem";

/// What was read. Fields are `None` where the system has no such file.
#[derive(Debug, Default)]
pub struct Facts {
    pub setup: Option<ArmingState>,
    /// setup.json exists but cannot be read.
    pub setup_error: Option<String>,
    /// The backend's name as the kernel registered it.
    pub registered: Option<String>,
    pub ramoops: Option<RamoopsParams>,
    /// The /proc/iomem line that holds the ramoops region; `None` when iomem is unreadable
    /// (not root) or there is no region.
    pub region_holder: Option<Option<String>>,
    pub records_waiting: Vec<String>,
    pub kdump_dir: PathBuf,
    pub captures_waiting: usize,
    pub kexec: sys::KexecState,
    /// What `lastgasp estimate` says the crash kernel needs, in bytes.
    pub crash_needed: Option<u64>,
    /// The crash-loop guard for this boot (boots.json); `None` when it cannot be read.
    pub crash_loop: Option<boots::GuardStatus>,
    pub cmdline: Option<String>,
    /// Sysctl name, wanted value, value in effect.
    pub sysctl: Vec<(String, String, Option<String>)>,
    pub last_crash: Option<LastCrash>,
    pub selftest: Option<SelftestState>,
    pub selftest_error: Option<String>,
    pub boot_id: Option<String>,
}

/// The newest report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LastCrash {
    pub id: String,
    /// The crash time when the records tell it, else when the report was made.
    pub time: Option<String>,
    pub signature: Option<String>,
}

impl Facts {
    pub fn read(config: &Config, root: &Path) -> Self {
        let (setup, setup_error) = match ArmingState::read(root) {
            Ok(state) => (state, None),
            Err(error) => (None, Some(format!("{error:#}"))),
        };
        let (selftest, selftest_error) = match SelftestState::read(root) {
            Ok(state) => (state, None),
            Err(error) => (None, Some(format!("{error:#}"))),
        };
        let ramoops = RamoopsParams::read(root);
        let region_holder = ramoops.as_ref().and_then(|r| region_holder(root, r));
        let sysctl = setup
            .as_ref()
            .map(|s| {
                s.sysctl
                    .iter()
                    .map(|(name, wanted)| (name.clone(), wanted.clone(), read_sysctl(root, name)))
                    .collect()
            })
            .unwrap_or_default();
        // Sizing the capture is only worth it when kdump is wanted (or armed by hand).
        let kexec = sys::KexecState::read(root).unwrap_or_default();
        let wants_kdump = setup
            .as_ref()
            .map_or(kexec.crash_loaded == Some(true), |s| s.mode.wants_kdump());
        let captures_waiting = crate::kdump_capture::find_captures(&config.kdump.dir)
            .map_or(0, |(found, problems)| found.len() + problems.len());
        Self {
            registered: backend::registered(root),
            region_holder,
            ramoops,
            records_waiting: records_waiting(&config.pstore_dir),
            kdump_dir: config.kdump.dir.clone(),
            captures_waiting,
            kexec,
            crash_needed: wants_kdump
                .then(|| crate::commands::estimate::estimate(root, config).ok())
                .flatten()
                .map(|e| e.bytes),
            crash_loop: boots::guard_status(root, config.crash_loop_boots).ok(),
            cmdline: read_trimmed(&under_root(root, Path::new(PROC_CMDLINE))),
            sysctl,
            last_crash: last_crash(config),
            selftest,
            selftest_error,
            boot_id: crate::commands::selftest::state::boot_id(root).ok(),
            setup,
            setup_error,
        }
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|t| t.trim().to_string())
}

/// `kernel.panic_on_oops` read from `/proc/sys/kernel/panic_on_oops`, whitespace normalised.
pub fn read_sysctl(root: &Path, name: &str) -> Option<String> {
    let path = Path::new("/proc/sys").join(name.replace('.', "/"));
    let text = read_trimmed(&under_root(root, &path))?;
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `Some(None)`: iomem readable but nothing holds the whole region.
fn region_holder(root: &Path, ramoops: &RamoopsParams) -> Option<Option<String>> {
    let path = under_root(root, Path::new(PROC_IOMEM));
    // Unreadable, all zeros (not root) or damaged: nothing to tell by.
    let resources = iomem::parse(&std::fs::read_to_string(&path).ok()?, &path).ok()?;
    Some(iomem::holder(&resources, ramoops.address, ramoops.size).map(|r| r.name.clone()))
}

/// The record files waiting in the pstore directory, sorted.
fn records_waiting(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| pstore::parse_record_name(name).is_some())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn last_crash(config: &Config) -> Option<LastCrash> {
    let listed = report::Store::open(&config.reports_dir).list().ok()?;
    listed
        .into_iter()
        .filter_map(|l| {
            let manifest = l.manifest.ok()?;
            Some(LastCrash {
                time: manifest
                    .crash_time
                    .clone()
                    .or(Some(manifest.created.clone())),
                signature: manifest.signature().map(str::to_string),
                id: l.id,
            })
        })
        .max_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)))
}
