//! What setup needs to know about the running kernel: its version (for `reserve_mem=`, 6.11+)
//! and whether a pstore backend is built in, a module, or missing, from its config file or its
//! module lists. Pure: the caller reads the files.

use std::collections::BTreeMap;

/// `major.minor` of a release string such as `6.12.48+deb13-amd64`.
pub fn version(release: &str) -> Option<(u32, u32)> {
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(str::parse::<u32>);
    let major = numbers.next()?.ok()?;
    let minor = numbers.next()?.ok()?;
    Some((major, minor))
}

/// Whether the kernel has `reserve_mem=` (merged for Linux 6.11).
pub fn has_reserve_mem(release: &str) -> bool {
    version(release).is_some_and(|v| v >= (6, 11))
}

/// How a feature is present in a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Presence {
    BuiltIn,
    Module,
    Missing,
    /// Neither the config nor the module lists could be read.
    #[default]
    Unknown,
}

impl Presence {
    pub fn available(self) -> bool {
        matches!(self, Self::BuiltIn | Self::Module)
    }
}

/// The `CONFIG_*=value` lines of a kernel config (`/boot/config-<release>`).
pub fn parse_config(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(key, _)| key.starts_with("CONFIG_"))
        .map(|(key, value)| (key.to_string(), value.trim_matches('"').to_string()))
        .collect()
}

/// A config option's presence: `y` built in, `m` a module, anything else missing.
pub fn option(config: &BTreeMap<String, String>, name: &str) -> Presence {
    match config.get(name).map(String::as_str) {
        Some("y") => Presence::BuiltIn,
        Some("m") => Presence::Module,
        _ => Presence::Missing,
    }
}

/// A module's presence from `modules.builtin` and `modules.dep` (module names with `-` and `_`
/// alike, as modprobe treats them).
pub fn module(builtin: Option<&str>, dep: Option<&str>, name: &str) -> Presence {
    let wanted = name.replace('-', "_");
    let listed = |text: &str, entry: fn(&str) -> &str| {
        text.lines().any(|line| {
            let path = entry(line);
            let file = path.rsplit('/').next().unwrap_or(path);
            let stem = file.split(".ko").next().unwrap_or(file);
            stem.replace('-', "_") == wanted
        })
    };
    if builtin.is_some_and(|text| listed(text, |line| line.trim())) {
        return Presence::BuiltIn;
    }
    if dep.is_some_and(|text| listed(text, |line| line.split(':').next().unwrap_or(""))) {
        return Presence::Module;
    }
    if builtin.is_none() && dep.is_none() {
        Presence::Unknown
    } else {
        Presence::Missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_distribution_releases() {
        assert_eq!(version("6.12.48+deb13-amd64"), Some((6, 12)));
        assert_eq!(version("6.1.0-57-amd64"), Some((6, 1)));
        assert_eq!(version("6.11-rc1"), Some((6, 11)));
        assert_eq!(version("garbage"), None);
        assert!(has_reserve_mem("6.11.0"));
        assert!(!has_reserve_mem("6.10.14-arch1-1"));
    }

    #[test]
    fn config_and_module_lists() {
        let config = parse_config(
            "# comment\nCONFIG_PSTORE=y\nCONFIG_PSTORE_RAM=m\n# CONFIG_PSTORE_BLK is not set\n",
        );
        assert_eq!(option(&config, "CONFIG_PSTORE"), Presence::BuiltIn);
        assert_eq!(option(&config, "CONFIG_PSTORE_RAM"), Presence::Module);
        assert_eq!(option(&config, "CONFIG_PSTORE_BLK"), Presence::Missing);
        let dep = "kernel/fs/pstore/ramoops.ko.xz: kernel/lib/reed_solomon/reed_solomon.ko.xz\n\
                   kernel/drivers/firmware/efi/efi-pstore.ko.xz:\n";
        let builtin = "kernel/fs/pstore/pstore.ko\n";
        assert_eq!(
            module(Some(builtin), Some(dep), "efi_pstore"),
            Presence::Module
        );
        assert_eq!(
            module(Some(builtin), Some(dep), "ramoops"),
            Presence::Module
        );
        assert_eq!(
            module(Some(builtin), Some(dep), "pstore"),
            Presence::BuiltIn
        );
        assert_eq!(
            module(Some(builtin), Some(dep), "pstore_blk"),
            Presence::Missing
        );
        assert_eq!(module(None, None, "ramoops"), Presence::Unknown);
    }
}
