//! Configuration: the TOML model, defaults, and the key-by-key merge of every file `sources`
//! finds. Unknown keys and bad values are errors naming the file and line.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::config_collect::{CollectConfig, CollectLayers, CollectSection};
use crate::config_files;
use crate::config_kdump::{KdumpConfig, KdumpLayers, KdumpSection};
use crate::config_setup::{SetupConfig, SetupLayers, SetupSection};
use crate::config_submit::{SubmitConfig, SubmitLayers, SubmitSection};
use crate::paths::{PSTORE_DIR, REPORTS_DIR, SYSTEMD_ARCHIVE, under_root};
use crate::size::ByteSize;

pub const DEFAULT_MAX_REPORTS: usize = 50;
pub const DEFAULT_MAX_BYTES: u64 = 100 << 20;
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 64 << 20;
/// Boots in a row ended without a clean shutdown after which `load` arms pstore only.
pub const DEFAULT_CRASH_LOOP_BOOTS: u32 = 3;

/// The effective settings after merging every file, with paths already under `--root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub reports_dir: PathBuf,
    pub max_reports: usize,
    pub max_bytes: u64,
    pub pstore_dir: PathBuf,
    pub systemd_archive: PathBuf,
    pub keep: bool,
    pub max_record_bytes: u64,
    pub kdump: KdumpConfig,
    pub collect: CollectConfig,
    pub setup: SetupConfig,
    pub submit: SubmitConfig,
    /// `[load] crash_loop_boots`: after this many boots in a row ended without a clean
    /// shutdown, `load` arms pstore only (0: never).
    pub crash_loop_boots: u32,
    /// The files that were read, in the order they were applied.
    pub sources: Vec<PathBuf>,
    /// For each key a file set (`reports.max_reports`, ...), the last file that set it, or
    /// "command line"; keys missing here have their default.
    pub origins: BTreeMap<&'static str, String>,
}

/// One file as written; every key optional so later files override only what they set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    reports: ReportsSection,
    #[serde(default)]
    pstore: PstoreSection,
    #[serde(default)]
    kdump: KdumpSection,
    #[serde(default)]
    collect: CollectSection,
    #[serde(default)]
    setup: SetupSection,
    #[serde(default)]
    load: LoadSection,
    #[serde(default)]
    submit: SubmitSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportsSection {
    dir: Option<PathBuf>,
    max_reports: Option<usize>,
    max_bytes: Option<ByteSize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PstoreSection {
    dir: Option<PathBuf>,
    systemd_archive: Option<PathBuf>,
    keep: Option<bool>,
    max_record_bytes: Option<ByteSize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadSection {
    crash_loop_boots: Option<u32>,
}

/// The merge result before paths are resolved; tracks only what a file set.
#[derive(Debug, Default)]
struct Layered {
    reports_dir: Option<PathBuf>,
    max_reports: Option<usize>,
    max_bytes: Option<u64>,
    pstore_dir: Option<PathBuf>,
    systemd_archive: Option<PathBuf>,
    keep: Option<bool>,
    max_record_bytes: Option<u64>,
    kdump: KdumpLayers,
    collect: CollectLayers,
    setup: SetupLayers,
    submit: SubmitLayers,
    crash_loop_boots: Option<u32>,
    origins: BTreeMap<&'static str, String>,
}

impl Config {
    /// Reads `explicit` alone when given, else the standard files under `root`, and merges them.
    pub fn load(root: &Path, explicit: Option<&Path>) -> Result<Self> {
        let files = match explicit {
            Some(file) => vec![file.to_path_buf()],
            None => config_files::standard(root)?,
        };
        let mut layered = Layered::default();
        for file in &files {
            let text = fs::read_to_string(file)
                .with_context(|| format!("cannot read configuration {}", file.display()))?;
            layered.apply(parse(file, &text)?, file)?;
            tracing::debug!(file = %file.display(), "configuration applied");
        }
        Ok(layered.resolve(root, files))
    }
}

fn parse(file: &Path, text: &str) -> Result<FileConfig> {
    toml::from_str(text).map_err(|e| {
        let location = e.span().map_or_else(String::new, |span| {
            let (line, column) = line_column(text, span.start);
            format!(":{line}:{column}")
        });
        anyhow::anyhow!("{}{location}: {}", file.display(), e.message().trim_end())
    })
}

/// Refuses a relative path in a configuration file: the one-line error names the file and the
/// key as the file writes it (`[kdump] dir`).
pub(crate) fn require_absolute(file: &Path, key: &str, value: Option<&Path>) -> Result<()> {
    match value {
        Some(path) if !path.is_absolute() => bail!(
            "{}: {key} must be an absolute path, not {}",
            file.display(),
            path.display()
        ),
        _ => Ok(()),
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Layered {
    fn apply(&mut self, file: FileConfig, path: &Path) -> Result<()> {
        let FileConfig {
            reports,
            pstore,
            kdump,
            setup,
            load,
            collect,
            submit,
        } = file;
        let absolute = |key: &str, value: Option<PathBuf>| -> Result<Option<PathBuf>> {
            require_absolute(path, key, value.as_deref())?;
            Ok(value)
        };
        let origin = path.display().to_string();
        let origins = &mut self.origins;
        let mut note = |key: &'static str, present: bool| {
            if present {
                origins.insert(key, origin.clone());
            }
        };
        note("reports.dir", reports.dir.is_some());
        note("reports.max_reports", reports.max_reports.is_some());
        note("reports.max_bytes", reports.max_bytes.is_some());
        note("pstore.dir", pstore.dir.is_some());
        note("pstore.systemd_archive", pstore.systemd_archive.is_some());
        note("pstore.keep", pstore.keep.is_some());
        note("pstore.max_record_bytes", pstore.max_record_bytes.is_some());
        note("load.crash_loop_boots", load.crash_loop_boots.is_some());
        for key in kdump.present() {
            note(key, true);
        }
        for key in setup.present() {
            note(key, true);
        }
        for key in collect.present() {
            note(key, true);
        }
        for key in submit.present() {
            note(key, true);
        }
        self.kdump.apply(kdump, path)?;
        self.collect.apply(collect, path)?;
        self.setup.apply(setup, path)?;
        self.submit.apply(submit, path)?;
        set(
            &mut self.reports_dir,
            absolute("[reports] dir", reports.dir)?,
        );
        set(&mut self.max_reports, reports.max_reports);
        set(&mut self.max_bytes, reports.max_bytes.map(|b| b.0));
        set(&mut self.pstore_dir, absolute("[pstore] dir", pstore.dir)?);
        set(
            &mut self.systemd_archive,
            absolute("[pstore] systemd_archive", pstore.systemd_archive)?,
        );
        set(&mut self.keep, pstore.keep);
        set(&mut self.crash_loop_boots, load.crash_loop_boots);
        set(
            &mut self.max_record_bytes,
            pstore.max_record_bytes.map(|b| b.0),
        );
        Ok(())
    }

    fn resolve(self, root: &Path, sources: Vec<PathBuf>) -> Config {
        let path = |value: Option<PathBuf>, default: &str| {
            under_root(root, &value.unwrap_or_else(|| PathBuf::from(default)))
        };
        Config {
            reports_dir: path(self.reports_dir, REPORTS_DIR),
            max_reports: self.max_reports.unwrap_or(DEFAULT_MAX_REPORTS),
            max_bytes: self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES),
            pstore_dir: path(self.pstore_dir, PSTORE_DIR),
            systemd_archive: path(self.systemd_archive, SYSTEMD_ARCHIVE),
            keep: self.keep.unwrap_or(false),
            max_record_bytes: self.max_record_bytes.unwrap_or(DEFAULT_MAX_RECORD_BYTES),
            kdump: self.kdump.resolve(root),
            collect: self.collect.resolve(),
            setup: self.setup.resolve(),
            submit: self.submit.resolve(root),
            crash_loop_boots: self.crash_loop_boots.unwrap_or(DEFAULT_CRASH_LOOP_BOOTS),
            sources,
            origins: self.origins,
        }
    }
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(texts: &[&str]) -> Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let mut layered = Layered::default();
        for (i, text) in texts.iter().enumerate() {
            let path = dir.path().join(format!("{i}.toml"));
            layered.apply(parse(&path, text)?, &path)?;
        }
        Ok(layered.resolve(Path::new("/r"), vec![]))
    }

    #[test]
    fn defaults_live_under_the_root() {
        let c = load_text(&[]).unwrap();
        assert_eq!(c.reports_dir, Path::new("/r/var/lib/lastgasp/reports"));
        assert_eq!(c.pstore_dir, Path::new("/r/sys/fs/pstore"));
        assert_eq!(c.systemd_archive, Path::new("/r/var/lib/systemd/pstore"));
        assert_eq!((c.max_reports, c.max_bytes), (50, 100 << 20));
        assert!(!c.keep);
        assert_eq!(c.max_record_bytes, 64 << 20);
        assert_eq!(c.kdump.dir, Path::new("/r/var/lib/lastgasp/kdump"));
        assert_eq!((c.kdump.dump, c.kdump.dump_level), (true, 31));
        assert_eq!(c.kdump.kernel, None);
        assert_eq!(c.crash_loop_boots, DEFAULT_CRASH_LOOP_BOOTS);
    }

    #[test]
    fn kdump_keys_layer_like_the_others() {
        let c = load_text(&[
            "[kdump]\ncompression = \"lzo\"\ntarget = \"LABEL=dumps\"\n",
            "[kdump]\ncompression = \"zlib\"\nkernel = \"/boot/vmlinuz-capture\"\n",
        ])
        .unwrap();
        assert_eq!(c.kdump.compression.name(), "zlib");
        assert_eq!(c.kdump.target.as_deref(), Some("LABEL=dumps"));
        assert_eq!(
            c.kdump.kernel.as_deref(),
            Some(Path::new("/r/boot/vmlinuz-capture"))
        );
        assert!(c.origins["kdump.target"].ends_with("0.toml"));
        assert!(c.origins["kdump.compression"].ends_with("1.toml"));
    }

    #[test]
    fn later_files_win_key_by_key() {
        let c = load_text(&[
            "[reports]\nmax_reports = 5\nmax_bytes = \"1MiB\"\n[pstore]\nkeep = true\n",
            "[reports]\nmax_reports = 7\n",
            "[pstore]\ndir = \"/x/pstore\"\n",
        ])
        .unwrap();
        assert_eq!(c.max_reports, 7);
        assert!(c.origins["reports.max_reports"].ends_with("1.toml"));
        assert!(c.origins["reports.max_bytes"].ends_with("0.toml"));
        assert!(!c.origins.contains_key("reports.dir"));
        assert_eq!(c.max_bytes, 1 << 20);
        assert!(c.keep);
        assert_eq!(c.pstore_dir, Path::new("/r/x/pstore"));
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let err = load_text(&["# comment\n[reports]\nmax_report = 3\n"]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("0.toml:3:1: unknown field `max_report`"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn unknown_section_and_bad_values_are_errors() {
        let err = load_text(&["[kdmup]\n"]).unwrap_err().to_string();
        assert!(err.contains("0.toml:1:2: unknown field `kdmup`"), "{err}");
        let err = load_text(&["[kdump]\ndump_level = 32\n"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("dump_level must be 0-31"), "{err}");
        let err = load_text(&["[kdump]\ncompression = \"gzip\"\n"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("0.toml:2:15:"), "{err}");
        let err = load_text(&["[kdump]\ntarget = \"sda1\"\n"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("[kdump] target \"sda1\""), "{err}");
        let err = load_text(&["[pstore]\nkeep = \"yes\"\n"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("0.toml:2:8:"), "{err}");
        let err = load_text(&["[reports]\ndir = \"reports\"\n"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[reports] dir must be an absolute path"),
            "{err}"
        );
    }

    #[test]
    fn shipped_file_documents_the_defaults() {
        let shipped = include_str!("../../../dist/lastgasp.toml");
        let uncommented: String = shipped
            .lines()
            .map(|line| match line.strip_prefix('#') {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase()) => rest,
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        assert_ne!(uncommented, shipped, "the defaults are commented out");
        let mut from_file = load_text(&[&uncommented]).unwrap();
        // kernel, initrd and target have no default to write down: the file shows examples.
        // [setup]: 13 keys (blk_device has no default to write down); [submit]: 5 (the
        // target's address, credentials, CA and proxy have none).
        assert_eq!(from_file.origins.len(), 36, "every key is in the file");
        from_file.origins.clear();
        assert_eq!(from_file, load_text(&[]).unwrap());
        assert_eq!(load_text(&[shipped]).unwrap(), load_text(&[]).unwrap());
    }

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("ab", 99), (1, 3));
    }
}
