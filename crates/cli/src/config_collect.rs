//! The `[collect]` section: which facts about the machine `save` adds to a report beside the
//! crash record (docs/configuration.md). Everything here is read after the crash, at the next
//! boot. The defaults follow the privacy rule: facts that identify no one (OS release, kernel
//! package, DMI product and BIOS version, the pstore set-up) are on; the previous boot's journal,
//! whose lines carry the host name, user names and addresses, is off until asked for.

use std::path::Path;

use anyhow::{Result, bail};
use serde::Deserialize;

/// Journal lines a report may carry at most, whatever the configuration says: the tail is
/// context for the crash, not a copy of the journal.
pub const MAX_JOURNAL_LINES: u32 = 10_000;

/// The effective `[collect]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectConfig {
    /// Lines of the previous boot's journal to keep; 0: none.
    pub journal_tail: u32,
    pub os_release: bool,
    pub kernel_package: bool,
    pub dmi: bool,
    pub firmware: bool,
}

impl Default for CollectConfig {
    fn default() -> Self {
        Self {
            journal_tail: 0,
            os_release: true,
            kernel_package: true,
            dmi: true,
            firmware: true,
        }
    }
}

/// The section as one file writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CollectSection {
    journal_tail: Option<u32>,
    os_release: Option<bool>,
    kernel_package: Option<bool>,
    dmi: Option<bool>,
    firmware: Option<bool>,
}

/// Every key, for the origin bookkeeping and `lastgasp config`.
pub const KEYS: [&str; 5] = [
    "collect.journal_tail",
    "collect.os_release",
    "collect.kernel_package",
    "collect.dmi",
    "collect.firmware",
];

impl CollectSection {
    /// The keys this file sets.
    pub(crate) fn present(&self) -> impl Iterator<Item = &'static str> {
        let set = [
            self.journal_tail.is_some(),
            self.os_release.is_some(),
            self.kernel_package.is_some(),
            self.dmi.is_some(),
            self.firmware.is_some(),
        ];
        KEYS.into_iter()
            .zip(set)
            .filter_map(|(key, present)| present.then_some(key))
    }
}

/// What the files set so far; later files override key by key.
#[derive(Debug, Default)]
pub(crate) struct CollectLayers {
    section: CollectSection,
}

impl CollectLayers {
    pub(crate) fn apply(&mut self, file: CollectSection, path: &Path) -> Result<()> {
        if let Some(lines) = file.journal_tail
            && lines > MAX_JOURNAL_LINES
        {
            bail!(
                "{}: [collect] journal_tail must be 0-{MAX_JOURNAL_LINES} lines, not {lines}",
                path.display()
            );
        }
        let layer = &mut self.section;
        layer.journal_tail = file.journal_tail.or(layer.journal_tail);
        layer.os_release = file.os_release.or(layer.os_release);
        layer.kernel_package = file.kernel_package.or(layer.kernel_package);
        layer.dmi = file.dmi.or(layer.dmi);
        layer.firmware = file.firmware.or(layer.firmware);
        Ok(())
    }

    pub(crate) fn resolve(self) -> CollectConfig {
        let defaults = CollectConfig::default();
        let CollectSection {
            journal_tail,
            os_release,
            kernel_package,
            dmi,
            firmware,
        } = self.section;
        CollectConfig {
            journal_tail: journal_tail.unwrap_or(defaults.journal_tail),
            os_release: os_release.unwrap_or(defaults.os_release),
            kernel_package: kernel_package.unwrap_or(defaults.kernel_package),
            dmi: dmi.unwrap_or(defaults.dmi),
            firmware: firmware.unwrap_or(defaults.firmware),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> CollectSection {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn journal_is_off_and_the_rest_on_by_default() {
        let config = CollectLayers::default().resolve();
        assert_eq!(config.journal_tail, 0);
        assert!(config.os_release && config.kernel_package && config.dmi && config.firmware);
    }

    #[test]
    fn later_files_win_key_by_key() {
        let mut layers = CollectLayers::default();
        layers
            .apply(
                section("journal_tail = 200\ndmi = false\n"),
                Path::new("a.toml"),
            )
            .unwrap();
        layers
            .apply(section("journal_tail = 50\n"), Path::new("b.toml"))
            .unwrap();
        let config = layers.resolve();
        assert_eq!(config.journal_tail, 50);
        assert!(!config.dmi);
        assert!(config.firmware);
    }

    #[test]
    fn an_unbounded_journal_tail_names_the_file() {
        let err = CollectLayers::default()
            .apply(
                section("journal_tail = 1000000\n"),
                Path::new("/etc/x.toml"),
            )
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "/etc/x.toml: [collect] journal_tail must be 0-10000 lines, not 1000000"
        );
    }

    #[test]
    fn present_lists_what_a_file_sets() {
        let keys: Vec<_> = section("dmi = true\nfirmware = false\n")
            .present()
            .collect();
        assert_eq!(keys, ["collect.dmi", "collect.firmware"]);
    }
}
