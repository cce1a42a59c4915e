//! The `[kdump]` section: which capture kernel `load --kdump` loads and with what command line,
//! and where and how `capture` writes in the capture kernel. Kept apart from the pstore and
//! report keys because only the kdump commands read it.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Result, bail};
use serde::Deserialize;

use crate::config::require_absolute;
use crate::paths::under_root;

pub const KDUMP_DIR: &str = "/var/lib/lastgasp/kdump";
pub const DEFAULT_DUMP_LEVEL: u8 = 31;

/// How the pages of a dump are compressed; each page on its own, as makedumpfile does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DumpCompression {
    Zstd,
    Zlib,
    Lzo,
    None,
}

impl DumpCompression {
    pub fn name(self) -> &'static str {
        match self {
            Self::Zstd => "zstd",
            Self::Zlib => "zlib",
            Self::Lzo => "lzo",
            Self::None => "none",
        }
    }
}

impl FromStr for DumpCompression {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "zstd" => Ok(Self::Zstd),
            "zlib" => Ok(Self::Zlib),
            "lzo" => Ok(Self::Lzo),
            "none" => Ok(Self::None),
            other => Err(format!(
                "unknown compression {other:?}: expected zstd, zlib, lzo or none"
            )),
        }
    }
}

/// The effective `[kdump]` settings, paths already under `--root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdumpConfig {
    /// The capture kernel image; `None`: the running kernel's.
    pub kernel: Option<PathBuf>,
    /// The capture initramfs; `None`: the one `lastgasp initramfs` makes for the release.
    pub initrd: Option<PathBuf>,
    /// Extra parameters for the capture kernel's command line.
    pub cmdline_append: String,
    /// The filesystem captures go to (`UUID=...`, `LABEL=...` or a device); `None`: the one that
    /// holds `dir`, found when the initramfs is made.
    pub target: Option<String>,
    /// Where captures are kept, as the running system sees it.
    pub dir: PathBuf,
    /// Write a filtered, compressed dump beside the log.
    pub dump: bool,
    /// makedumpfile's dump level, 0-31.
    pub dump_level: u8,
    pub compression: DumpCompression,
}

/// The section as one file writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KdumpSection {
    kernel: Option<PathBuf>,
    initrd: Option<PathBuf>,
    cmdline_append: Option<String>,
    target: Option<String>,
    dir: Option<PathBuf>,
    dump: Option<bool>,
    dump_level: Option<u8>,
    compression: Option<DumpCompression>,
}

/// Every key, for the origin bookkeeping and `lastgasp config`.
pub const KEYS: [&str; 8] = [
    "kdump.kernel",
    "kdump.initrd",
    "kdump.cmdline_append",
    "kdump.target",
    "kdump.dir",
    "kdump.dump",
    "kdump.dump_level",
    "kdump.compression",
];

/// What the files set so far; later files override key by key.
#[derive(Debug, Default)]
pub(crate) struct KdumpLayers {
    section: KdumpSection,
}

impl KdumpSection {
    /// The keys this file sets.
    pub(crate) fn present(&self) -> impl Iterator<Item = &'static str> {
        let set = [
            self.kernel.is_some(),
            self.initrd.is_some(),
            self.cmdline_append.is_some(),
            self.target.is_some(),
            self.dir.is_some(),
            self.dump.is_some(),
            self.dump_level.is_some(),
            self.compression.is_some(),
        ];
        KEYS.into_iter()
            .zip(set)
            .filter_map(|(key, present)| present.then_some(key))
    }

    fn check(&self, file: &Path) -> Result<()> {
        for (key, value) in [
            ("kernel", &self.kernel),
            ("initrd", &self.initrd),
            ("dir", &self.dir),
        ] {
            require_absolute(file, &format!("[kdump] {key}"), value.as_deref())?;
        }
        if let Some(level) = self.dump_level
            && level > 31
        {
            bail!(
                "{}: [kdump] dump_level must be 0-31 (makedumpfile's -d), not {level}",
                file.display()
            );
        }
        if let Some(target) = &self.target {
            check_target(target).map_err(|why| {
                anyhow::anyhow!("{}: [kdump] target {target:?}: {why}", file.display())
            })?;
        }
        Ok(())
    }
}

/// A capture target is `UUID=...`, `LABEL=...` or an absolute device path.
pub fn check_target(target: &str) -> std::result::Result<(), &'static str> {
    let valid = match target.split_once('=') {
        Some(("UUID" | "LABEL", value)) => !value.is_empty(),
        Some(_) => false,
        None => target.starts_with('/'),
    };
    if valid {
        Ok(())
    } else {
        Err("expected UUID=..., LABEL=... or a device path such as /dev/vdb1")
    }
}

impl KdumpLayers {
    pub(crate) fn apply(&mut self, file: KdumpSection, path: &Path) -> Result<()> {
        file.check(path)?;
        let layer = &mut self.section;
        layer.kernel = file.kernel.or(layer.kernel.take());
        layer.initrd = file.initrd.or(layer.initrd.take());
        layer.cmdline_append = file.cmdline_append.or(layer.cmdline_append.take());
        layer.target = file.target.or(layer.target.take());
        layer.dir = file.dir.or(layer.dir.take());
        layer.dump = file.dump.or(layer.dump);
        layer.dump_level = file.dump_level.or(layer.dump_level);
        layer.compression = file.compression.or(layer.compression);
        Ok(())
    }

    pub(crate) fn resolve(self, root: &Path) -> KdumpConfig {
        let KdumpSection {
            kernel,
            initrd,
            cmdline_append,
            target,
            dir,
            dump,
            dump_level,
            compression,
        } = self.section;
        KdumpConfig {
            kernel: kernel.map(|p| under_root(root, &p)),
            initrd: initrd.map(|p| under_root(root, &p)),
            cmdline_append: cmdline_append.unwrap_or_default(),
            target,
            dir: under_root(root, &dir.unwrap_or_else(|| PathBuf::from(KDUMP_DIR))),
            dump: dump.unwrap_or(true),
            dump_level: dump_level.unwrap_or(DEFAULT_DUMP_LEVEL),
            compression: compression.unwrap_or(DumpCompression::Zstd),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_uuid_label_or_device() {
        assert!(check_target("UUID=1b2c").is_ok());
        assert!(check_target("LABEL=dumps").is_ok());
        assert!(check_target("/dev/vdb1").is_ok());
        assert!(check_target("UUID=").is_err());
        assert!(check_target("PARTUUID=x").is_err());
        assert!(check_target("vdb1").is_err());
    }

    #[test]
    fn compression_names_round_trip() {
        for c in [
            DumpCompression::Zstd,
            DumpCompression::Zlib,
            DumpCompression::Lzo,
            DumpCompression::None,
        ] {
            assert_eq!(c.name().parse::<DumpCompression>(), Ok(c));
        }
        assert!("gzip".parse::<DumpCompression>().is_err());
    }
}
