//! selftest.json: the selftest in progress or its last result, under /var/lib/lastgasp.
//! `lastgasp selftest` writes it as pending; `lastgasp save` at the next boot settles it
//! (passed or failed, with the reason); `selftest` and `status` read it.

use std::path::{Path, PathBuf};

use anyhow::Result;
use lastgasp::state_file::{self, Versioned};
use serde::{Deserialize, Serialize};

use crate::paths::under_root;

pub const STATE_FILE: &str = "/var/lib/lastgasp/selftest.json";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
/// This boot's id: another id than the one the canary was written in means the reboot happened.
pub use crate::boots::current_boot_id as boot_id;
/// Every canary carries this word and the selftest's id, so a record is recognised by its text.
pub const CANARY_MARKER: &str = "lastgasp-selftest-canary";

/// How the canary went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// A UEFI variable written through efivarfs in efi-pstore's name format.
    EfiVariable,
    /// A line written to /dev/pmsg0 (kernels with CONFIG_PSTORE_PMSG).
    Pmsg,
    /// The backend reloaded to keep the kernel's own dump at the reboot (KMSG_DUMP_SHUTDOWN).
    ShutdownDump,
    /// A real crash (`selftest --crash`).
    Crash,
}

impl Method {
    pub fn describe(self) -> &'static str {
        match self {
            Self::EfiVariable => "a UEFI variable in efi-pstore's format",
            Self::Pmsg => "a pmsg record (/dev/pmsg0)",
            Self::ShutdownDump => "the kernel's own log dump at the reboot",
            Self::Crash => "a real crash (sysrq c)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Waiting for the reboot.
    Pending,
    Passed,
    Failed,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Passed => "passed",
            Self::Failed => "failed",
        }
    }
}

/// The contents of selftest.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SelftestState {
    pub version: u32,
    pub id: String,
    /// The backend the canary went through, as setup names it (ramoops, efi, erst, blk).
    pub backend: String,
    pub method: Method,
    /// The boot the canary was written in; another boot id means the reboot happened.
    pub boot_id: String,
    /// When the canary was written (RFC 3339, UTC).
    pub started: String,
    /// The ramoops region's address when the canary was written, to tell a moved region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramoops_address: Option<u64>,
    pub outcome: Outcome,
    /// When save settled it.
    #[serde(default)]
    pub settled: Option<String>,
    /// "survives a reboot", or why not.
    #[serde(default)]
    pub detail: Option<String>,
}

impl SelftestState {
    pub fn path(root: &Path) -> PathBuf {
        under_root(root, Path::new(STATE_FILE))
    }

    /// selftest.json under `root`; `None` when no selftest ever ran.
    pub fn read(root: &Path) -> Result<Option<Self>> {
        state_file::read(&Self::path(root))
    }

    /// Writes selftest.json under `root` atomically.
    pub fn write(&self, root: &Path) -> Result<()> {
        state_file::write(&Self::path(root), self)
    }

    /// Marks the selftest done, now.
    pub fn settle(&mut self, outcome: Outcome, detail: String) {
        self.outcome = outcome;
        self.settled = Some(now());
        self.detail = Some(detail);
    }
}

impl Versioned for SelftestState {
    const VERSION: u32 = VERSION;
    const WHAT: &'static str = "selftest.json as lastgasp writes it";
    const REMEDY: &'static str = "remove it and run `lastgasp selftest` again";

    fn version(&self) -> u32 {
        self.version
    }
}

pub fn canary_line(id: &str) -> String {
    format!("{CANARY_MARKER} {id}")
}

/// The current time as RFC 3339 in UTC, whole seconds.
pub fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SelftestState {
        SelftestState {
            version: VERSION,
            id: "20261201T080000Z-0123abcd".into(),
            backend: "ramoops".into(),
            method: Method::ShutdownDump,
            boot_id: "b1".into(),
            started: "2026-12-01T08:00:00Z".into(),
            ramoops_address: Some(0x3f00_0000),
            outcome: Outcome::Pending,
            settled: None,
            detail: None,
        }
    }

    #[test]
    fn round_trips_with_the_shared_field_names() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(SelftestState::read(root.path()).unwrap(), None);
        sample().write(root.path()).unwrap();
        assert_eq!(SelftestState::read(root.path()).unwrap(), Some(sample()));
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(SelftestState::path(root.path())).unwrap(),
        )
        .unwrap();
        assert_eq!(json["outcome"], "pending");
        assert_eq!(json["method"], "shutdown-dump");
        assert_eq!(json["boot-id"], "b1");
    }

    #[test]
    fn a_damaged_file_names_itself() {
        let root = tempfile::tempdir().unwrap();
        let path = SelftestState::path(root.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{\"version\": 1,").unwrap();
        let error = format!("{:#}", SelftestState::read(root.path()).unwrap_err());
        assert!(error.contains("selftest.json"), "{error}");
        let other = SelftestState {
            version: 7,
            ..sample()
        };
        std::fs::write(&path, serde_json::to_string(&other).unwrap()).unwrap();
        let error = format!("{:#}", SelftestState::read(root.path()).unwrap_err());
        assert!(error.contains("version 7"), "{error}");
    }

    #[test]
    fn the_boot_id_is_read_under_the_root() {
        let root = tempfile::tempdir().unwrap();
        assert!(boot_id(root.path()).is_err());
        let path = under_root(root.path(), Path::new(crate::boots::BOOT_ID));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "abc-def\n").unwrap();
        assert_eq!(boot_id(root.path()).unwrap(), "abc-def");
    }
}
