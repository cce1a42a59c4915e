//! boots.json, the crash-loop guard's memory: every boot `lastgasp load --boot` records as
//! started, and the clean shutdowns `lastgasp load --shutdown` (the load unit's ExecStop) records
//! as ended. A boot that never recorded its end crashed, hung, or lost power. When the last
//! `[load] crash_loop_boots` boots before this one all ended that way, the machine is crash
//! looping, and load arms only pstore: no capture kernel (see `guard`). `status` reads the same
//! through [`guard_status`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lastgasp::state_file::{self, Versioned};
use serde::{Deserialize, Serialize};

use crate::paths::under_root;

pub const BOOTS_FILE: &str = "/var/lib/lastgasp/boots.json";
/// This boot's random id, new at every boot.
pub const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";
pub const VERSION: u32 = 1;
/// Boots kept in the file, newest last; more than any guard limit needs.
pub const KEEP: usize = 20;

/// The file's contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootRecord {
    pub version: u32,
    /// Oldest first.
    pub boots: Vec<Boot>,
}

/// One boot as load saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Boot {
    pub boot_id: String,
    pub started: jiff::Timestamp,
    /// The kernel release that booted.
    pub release: String,
    /// When `load --shutdown` recorded a clean end; `None`: it did not end cleanly (or is
    /// still running).
    pub clean_shutdown: Option<jiff::Timestamp>,
    /// The crash-loop guard held kdump back in this boot.
    #[serde(default)]
    pub guarded: bool,
    /// What load armed in this boot ("pstore ramoops", "kdump", ...), or why nothing.
    #[serde(default)]
    pub armed: Vec<String>,
    /// The pstore part could not be armed in this boot: the kdump part falls back to kdump.
    #[serde(default)]
    pub pstore_failed: bool,
}

/// The guard's verdict for one boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Guard {
    /// `[load] crash_loop_boots`; 0: the guard is off.
    pub limit: u32,
    /// Boots before the current one that ended without a clean shutdown, newest first, until
    /// the first clean one.
    pub unclean_in_a_row: u32,
    pub active: bool,
}

impl Guard {
    /// One line for output and the journal.
    pub fn explain(&self) -> String {
        format!(
            "crash-loop guard: the last {} boots ended without a clean shutdown ([load] \
             crash_loop_boots = {}): arming pstore only, no capture kernel, until a boot ends \
             cleanly",
            self.unclean_in_a_row, self.limit
        )
    }
}

impl BootRecord {
    pub fn path(root: &Path) -> PathBuf {
        under_root(root, Path::new(BOOTS_FILE))
    }

    /// The record under `root`; empty when there is none yet.
    pub fn read(root: &Path) -> Result<Self> {
        Ok(state_file::read(&Self::path(root))?.unwrap_or(BootRecord {
            version: VERSION,
            boots: Vec::new(),
        }))
    }

    /// Writes the record atomically: a crash while writing leaves the old record or the new.
    pub fn write(&self, root: &Path) -> Result<()> {
        state_file::write(&Self::path(root), self)
    }

    pub fn find(&self, boot_id: &str) -> Option<&Boot> {
        self.boots.iter().find(|boot| boot.boot_id == boot_id)
    }

    pub fn find_mut(&mut self, boot_id: &str) -> Option<&mut Boot> {
        self.boots.iter_mut().find(|boot| boot.boot_id == boot_id)
    }

    /// The guard's verdict for `boot_id`, from the boots recorded before it.
    pub fn guard(&self, boot_id: &str, limit: u32) -> Guard {
        let before = self
            .boots
            .iter()
            .position(|boot| boot.boot_id == boot_id)
            .unwrap_or(self.boots.len());
        let unclean = self.boots[..before]
            .iter()
            .rev()
            .take_while(|boot| boot.clean_shutdown.is_none())
            .count();
        let unclean_in_a_row = u32::try_from(unclean).unwrap_or(u32::MAX);
        Guard {
            limit,
            unclean_in_a_row,
            active: limit > 0 && unclean_in_a_row >= limit,
        }
    }

    /// Records `boot` as started, unless its id is there already (load ran twice in one boot);
    /// keeps the newest [`KEEP`]. Returns whether it was new.
    pub fn start(&mut self, boot: Boot) -> bool {
        if self.find(&boot.boot_id).is_some() {
            return false;
        }
        self.boots.push(boot);
        let extra = self.boots.len().saturating_sub(KEEP);
        self.boots.drain(..extra);
        true
    }

    /// Records a clean end of `boot_id`; `false` when that boot was never recorded.
    pub fn end_cleanly(&mut self, boot_id: &str, when: jiff::Timestamp) -> bool {
        match self.find_mut(boot_id) {
            Some(boot) => {
                boot.clean_shutdown = Some(when);
                true
            }
            None => false,
        }
    }
}

impl Versioned for BootRecord {
    const VERSION: u32 = VERSION;
    const WHAT: &'static str = "a boot record lastgasp wrote";
    const REMEDY: &'static str = "remove it to start counting again";

    fn version(&self) -> u32 {
        self.version
    }
}

/// This boot's id under `root`, from `/proc/sys/kernel/random/boot_id`.
pub fn current_boot_id(root: &Path) -> Result<String> {
    let path = under_root(root, Path::new(BOOT_ID));
    let id = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot tell this boot from the next: {}", path.display()))?;
    let id = id.trim();
    if id.is_empty() {
        bail!("{} is empty", path.display());
    }
    Ok(id.to_string())
}

/// What `status` shows: the guard's verdict for the running boot, and that boot's record.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct GuardStatus {
    pub guard: Guard,
    /// Boots in boots.json.
    pub boots_recorded: usize,
    /// The running boot's record; `None` when load has not run in this boot.
    pub this_boot: Option<Boot>,
}

/// The crash-loop guard as it stands for the running boot under `root`, with `limit` from
/// `[load] crash_loop_boots`.
pub fn guard_status(root: &Path, limit: u32) -> Result<GuardStatus> {
    let record = BootRecord::read(root)?;
    let boot_id = current_boot_id(root)?;
    Ok(GuardStatus {
        guard: record.guard(&boot_id, limit),
        boots_recorded: record.boots.len(),
        this_boot: record.find(&boot_id).cloned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot(id: &str, clean: bool) -> Boot {
        let started: jiff::Timestamp = "2026-12-01T08:00:00Z".parse().unwrap();
        Boot {
            boot_id: id.to_string(),
            started,
            release: "6.1.0-57-amd64".to_string(),
            clean_shutdown: clean.then_some(started),
            guarded: false,
            armed: Vec::new(),
            pstore_failed: false,
        }
    }

    fn record(boots: &[(&str, bool)]) -> BootRecord {
        BootRecord {
            version: VERSION,
            boots: boots.iter().map(|(id, clean)| boot(id, *clean)).collect(),
        }
    }

    #[test]
    fn three_unclean_boots_in_a_row_trip_the_guard() {
        let record = record(&[("a", true), ("b", false), ("c", false), ("d", false)]);
        let guard = record.guard("now", 3);
        assert_eq!(guard.unclean_in_a_row, 3);
        assert!(guard.active);
        assert!(guard.explain().contains("the last 3 boots"));
        // The current boot, once recorded, is not counted against itself.
        let mut with_now = record.clone();
        with_now.start(boot("now", false));
        assert_eq!(with_now.guard("now", 3), guard);
    }

    #[test]
    fn a_clean_boot_resets_the_count() {
        let record = record(&[("b", false), ("c", false), ("d", true), ("e", false)]);
        let guard = record.guard("now", 3);
        assert_eq!(guard.unclean_in_a_row, 1);
        assert!(!guard.active);
        assert!(record.guard("now", 1).active);
    }

    #[test]
    fn limit_zero_turns_the_guard_off_and_a_new_machine_is_not_looping() {
        let looping = record(&[("a", false), ("b", false), ("c", false)]);
        assert!(!looping.guard("now", 0).active);
        let fresh = record(&[]);
        assert_eq!(fresh.guard("now", 3).unclean_in_a_row, 0);
        assert!(!fresh.guard("now", 3).active);
    }

    #[test]
    fn starting_twice_is_once_and_old_boots_go() {
        let mut record = record(&[]);
        assert!(record.start(boot("x", false)));
        assert!(!record.start(boot("x", false)));
        assert_eq!(record.boots.len(), 1);
        for i in 0..30 {
            record.start(boot(&format!("b{i}"), true));
        }
        assert_eq!(record.boots.len(), KEEP);
        assert_eq!(record.boots.last().unwrap().boot_id, "b29");
    }

    #[test]
    fn a_clean_end_is_recorded_durably_under_the_root() {
        let root = tempfile::tempdir().unwrap();
        let mut record = BootRecord::read(root.path()).unwrap();
        assert!(record.boots.is_empty());
        record.start(boot("x", false));
        let when: jiff::Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
        assert!(record.end_cleanly("x", when));
        assert!(!record.end_cleanly("unknown", when));
        record.write(root.path()).unwrap();
        let back = BootRecord::read(root.path()).unwrap();
        assert_eq!(back, record);
        assert_eq!(back.boots[0].clean_shutdown, Some(when));
        // Nothing but the record itself is left in the directory.
        let names: Vec<_> = std::fs::read_dir(root.path().join("var/lib/lastgasp"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["boots.json"]);
    }

    #[test]
    fn a_damaged_record_names_the_file() {
        let root = tempfile::tempdir().unwrap();
        let path = BootRecord::path(root.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{\"version\": 1, \"boots\": [").unwrap();
        let error = format!("{:#}", BootRecord::read(root.path()).unwrap_err());
        assert!(error.contains("boots.json is not a boot record"), "{error}");
        std::fs::write(&path, "{\"version\": 7, \"boots\": []}").unwrap();
        let error = format!("{:#}", BootRecord::read(root.path()).unwrap_err());
        assert!(error.contains("version 7"), "{error}");
    }

    #[test]
    fn status_sees_the_running_boot() {
        let root = tempfile::tempdir().unwrap();
        let id_path = root.path().join("proc/sys/kernel/random/boot_id");
        std::fs::create_dir_all(id_path.parent().unwrap()).unwrap();
        std::fs::write(&id_path, "now\n").unwrap();
        let mut record = record(&[("a", false), ("b", false), ("c", false)]);
        let mut now = boot("now", false);
        now.guarded = true;
        record.start(now);
        record.write(root.path()).unwrap();
        let status = guard_status(root.path(), 3).unwrap();
        assert!(status.guard.active);
        assert_eq!(status.boots_recorded, 4);
        assert!(status.this_boot.unwrap().guarded);
    }
}
