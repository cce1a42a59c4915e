//! Which configuration files apply, in which order (systemd's standard-conf rules): the vendor
//! file, the admin file, then drop-ins from every directory sorted by file name, where a file in
//! /etc replaces a same-named one in /run, which replaces one in /usr/lib.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::paths::{CONFIG_DIRS, CONFIG_FILE, DROPIN_DIR, under_root};

/// Main files that exist, lowest priority first.
const MAIN_FILES: [&str; 2] = ["/usr/lib/lastgasp", "/etc/lastgasp"];

/// The files to merge, lowest priority first; missing files and directories are skipped.
pub fn standard(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = MAIN_FILES
        .iter()
        .map(|dir| under_root(root, &Path::new(dir).join(CONFIG_FILE)))
        .filter(|path| path.exists())
        .collect();
    let mut dropins: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in CONFIG_DIRS {
        let dir = under_root(root, &Path::new(dir).join(DROPIN_DIR));
        for (name, path) in toml_files(&dir)? {
            dropins.insert(name, path);
        }
    }
    files.extend(dropins.into_values());
    Ok(files)
}

/// `*.toml` entries of `dir` (a symlink to /dev/null masks a vendor file and reads as empty).
fn toml_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let is_dir = fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
        if name.ends_with(".toml") && !name.starts_with('.') && !is_dir {
            found.push((name, entry.path()));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, path: &str) {
        let full = root.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, "").unwrap();
    }

    #[test]
    fn order_follows_standard_conf() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for path in [
            "etc/lastgasp/lastgasp.toml",
            "usr/lib/lastgasp/lastgasp.toml",
            "usr/lib/lastgasp/lastgasp.toml.d/10-vendor.toml",
            "usr/lib/lastgasp/lastgasp.toml.d/50-same.toml",
            "run/lastgasp/lastgasp.toml.d/50-same.toml",
            "run/lastgasp/lastgasp.toml.d/60-run.toml",
            "etc/lastgasp/lastgasp.toml.d/50-same.toml",
            "etc/lastgasp/lastgasp.toml.d/20-admin.toml",
            "etc/lastgasp/lastgasp.toml.d/README",
            "run/lastgasp/lastgasp.toml.d/70-only-run.toml",
        ] {
            touch(root, path);
        }
        let got: Vec<String> = standard(root)
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(
            got,
            [
                "usr/lib/lastgasp/lastgasp.toml",
                "etc/lastgasp/lastgasp.toml",
                "usr/lib/lastgasp/lastgasp.toml.d/10-vendor.toml",
                "etc/lastgasp/lastgasp.toml.d/20-admin.toml",
                "etc/lastgasp/lastgasp.toml.d/50-same.toml",
                "run/lastgasp/lastgasp.toml.d/60-run.toml",
                "run/lastgasp/lastgasp.toml.d/70-only-run.toml",
            ]
        );
    }

    #[test]
    fn nothing_configured_is_fine() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(standard(tmp.path()).unwrap().is_empty());
    }
}
