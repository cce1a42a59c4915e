//! The manifest's `context`: facts about the machine that `save` gathers next to the crash
//! record (OS release, kernel package, DMI product and BIOS, the pstore set-up, the previous
//! boot's journal tail). All of them are read after the crash, at the next boot; most describe
//! that boot, not the crashed one, and the manifest says which for each.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Folder inside a report for context that is kept as a file (the journal tail); its files
/// do not count towards the report's id, which stays a function of the crash data alone.
pub const CONTEXT_DIR: &str = "context";

/// One kind of context, collected or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ContextItem {
    pub kind: ContextKind,
    /// Always true: every context item is read at save time, after the crash.
    pub collected_after_crash: bool,
    /// Whose facts these are: the boot that saved the report, or the crashed boot.
    pub describes: Describes,
    /// The facts, by name; empty when the item is missing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, String>,
    /// The report file holding this item's text, when it is kept as a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Why the item is missing; `None` when it was collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

/// What a context item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContextKind {
    /// `/etc/os-release`.
    OsRelease,
    /// The package that installed the crashed kernel's image, or the running kernel's
    /// `/proc/version` when that cannot be found.
    KernelPackage,
    /// DMI product and BIOS identification (never serial numbers or UUIDs).
    Dmi,
    /// The running kernel's pstore backend and its parameters.
    Firmware,
    /// The end of the previous boot's journal.
    JournalTail,
}

impl ContextKind {
    /// The name the manifest and `show` use.
    pub fn name(self) -> &'static str {
        match self {
            Self::OsRelease => "os-release",
            Self::KernelPackage => "kernel-package",
            Self::Dmi => "dmi",
            Self::Firmware => "firmware",
            Self::JournalTail => "journal-tail",
        }
    }
}

/// The boot a context item describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Describes {
    /// The boot that ran `save` (its OS, firmware and pstore set-up may differ from the crashed
    /// boot's after an upgrade).
    ThisBoot,
    /// The crashed boot itself (its journal; the package of its kernel image).
    CrashedBoot,
}

impl ContextItem {
    /// An item whose facts were read.
    pub fn collected(
        kind: ContextKind,
        describes: Describes,
        facts: BTreeMap<String, String>,
    ) -> Self {
        Self {
            kind,
            collected_after_crash: true,
            describes,
            facts,
            file: None,
            missing: None,
        }
    }

    /// An item that could not be read, with the reason in one line.
    pub fn missing(kind: ContextKind, describes: Describes, reason: impl Into<String>) -> Self {
        Self {
            kind,
            collected_after_crash: true,
            describes,
            facts: BTreeMap::new(),
            file: None,
            missing: Some(reason.into()),
        }
    }

    /// Whether the item holds what it is about.
    pub fn is_collected(&self) -> bool {
        self.missing.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_serialise_with_kebab_names_and_without_empty_fields() {
        let mut facts = BTreeMap::new();
        facts.insert("ID".to_string(), "debian".to_string());
        let item = ContextItem::collected(ContextKind::OsRelease, Describes::ThisBoot, facts);
        let json = serde_json::to_value(&item).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "os-release",
                "collected-after-crash": true,
                "describes": "this-boot",
                "facts": {"ID": "debian"}
            })
        );
        let missing = ContextItem::missing(
            ContextKind::JournalTail,
            Describes::CrashedBoot,
            "no previous boot",
        );
        let json = serde_json::to_value(&missing).unwrap();
        assert_eq!(json["missing"], "no previous boot");
        assert!(json.get("facts").is_none());
        assert!(!missing.is_collected());
        let back: ContextItem = serde_json::from_value(json).unwrap();
        assert_eq!(back, missing);
        assert_eq!(ContextKind::KernelPackage.name(), "kernel-package");
    }
}
