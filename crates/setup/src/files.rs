//! The file half of setup and unsetup as one transaction: what each file should hold, the
//! original kept under /var/lib/lastgasp/setup-backup/, and undoing exactly what setup added.
//!
//! Setup run again first undoes its previous run in memory and applies the new wishes on top,
//! so twice is once. Undoing a file restores the backup byte for byte when the file is still as
//! setup left it (its SHA-256 is recorded); when someone edited it since, only setup's own
//! lines or parameters come out and their edits stay.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::atomic::{remove_durably, write_atomic};
use crate::error::{Error, Result};
use crate::record::{FileAction, FileRecord};
use crate::root::under_root;
use crate::{bls, grub, params};

pub const BACKUP_DIR: &str = "/var/lib/lastgasp/setup-backup";

/// What setup wants a file to hold, relative to what is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// The whole file is setup's (a drop-in).
    Own(String),
    /// A marked block at the end of /etc/default/grub.
    GrubBlock(Vec<String>),
    /// Parameters appended to a one-line command-line file; a missing file starts as `seed`.
    CmdlineFile { params: Vec<String>, seed: String },
    /// Parameters appended to a boot entry's `options`.
    EntryOptions(Vec<String>),
}

/// How setup's part of a file is recognised when undoing, from the file's path alone.
fn strip(path: &Path, text: &str, params: &[String]) -> Option<String> {
    if path == Path::new(grub::DEFAULTS) {
        Some(grub::without_block(text))
    } else if path == Path::new(bls::KERNEL_CMDLINE) {
        Some(params::remove(text, params))
    } else if path.components().any(|c| c.as_os_str() == "entries") {
        Some(bls::entry_without(text, params))
    } else {
        // A drop-in is setup's as a whole.
        None
    }
}

fn apply(edit: &Edit, base: Option<&str>) -> String {
    match edit {
        Edit::Own(text) => text.clone(),
        Edit::GrubBlock(params) => grub::with_block(base.unwrap_or(""), params),
        Edit::CmdlineFile { params, seed } => params::append(base.unwrap_or(seed), params),
        Edit::EntryOptions(params) => bls::entry_with(base.unwrap_or(""), params),
    }
}

/// One file's change: contents before and after (`None`: absent), and its record for setup.json
/// (`None` once unsetup has undone it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: PathBuf,
    pub before: Option<String>,
    pub after: Option<String>,
    pub record: Option<FileRecord>,
    /// The backup to write (setup) or remove (unsetup), with its content for setup.
    backup: Option<(PathBuf, Option<String>)>,
    /// Unsetup found the file edited since setup and kept the edits.
    pub kept_edits: bool,
}

impl Change {
    pub fn changes(&self) -> bool {
        self.before != self.after
    }
}

pub fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn read(root: &Path, path: &Path) -> Result<Option<String>> {
    let full = under_root(root, path);
    match fs::read(&full) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::Invalid {
                path: full,
                message: "not UTF-8 text; setup edits only text files".into(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(full)(e)),
    }
}

fn backup_path(path: &Path) -> PathBuf {
    Path::new(BACKUP_DIR).join(path.strip_prefix("/").unwrap_or(path))
}

/// What `record`'s file holds once setup's part is undone: the backup when the file is as setup
/// left it, else the current text without setup's part. Also whether edits were kept.
fn undone(
    root: &Path,
    record: &FileRecord,
    current: Option<&str>,
    params: &[String],
) -> Result<(Option<String>, bool)> {
    let untouched = match (current, &record.sha256) {
        (Some(text), Some(sum)) => sha256(text) == *sum,
        (None, _) => return Ok((None, false)),
        (Some(_), None) => false,
    };
    if untouched {
        return match (&record.action, &record.backup) {
            (FileAction::Created, _) => Ok((None, false)),
            (FileAction::Edited, Some(backup)) => {
                let text = read(root, backup)?.ok_or_else(|| Error::Invalid {
                    path: under_root(root, backup),
                    message: format!(
                        "the backup of {} is missing; restore the file by hand",
                        record.path.display()
                    ),
                })?;
                Ok((Some(text), false))
            }
            (FileAction::Edited, None) => Err(Error::Invalid {
                path: record.path.clone(),
                message: "setup.json names no backup for this edited file".into(),
            }),
        };
    }
    let text = current.unwrap_or_default();
    let stripped = strip(&record.path, text, params);
    // An edited drop-in of setup's own still goes: it holds nothing but setup's settings.
    let kept = stripped.is_some();
    Ok((stripped, kept))
}

/// The changes that bring the files to `wanted`, undoing `previous` (the last setup's records
/// and parameters) first. Reads under `root`, writes nothing.
pub fn plan_setup(
    root: &Path,
    wanted: &[(PathBuf, Edit)],
    previous: &[FileRecord],
    previous_params: &[String],
) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    let mut paths: Vec<&Path> = wanted.iter().map(|(p, _)| p.as_path()).collect();
    for record in previous {
        if !paths.contains(&record.path.as_path()) {
            paths.push(&record.path);
        }
    }
    for path in paths {
        let current = read(root, path)?;
        let previous_record = previous.iter().find(|r| r.path == path);
        let edit = wanted.iter().find(|(p, _)| p == path).map(|(_, e)| e);
        let base = match (previous_record, edit) {
            (Some(record), _) => undone(root, record, current.as_deref(), previous_params)?.0,
            // An entry kernel-install wrote after the last setup took that setup's parameters
            // from /etc/kernel/cmdline: they are setup's, not the entry's own.
            (None, Some(Edit::EntryOptions(_))) => current
                .as_deref()
                .map(|text| bls::entry_without(text, previous_params)),
            (None, _) => current.clone(),
        };
        let Some(edit) = edit else {
            // No longer wanted: undone, its backup removed.
            changes.push(Change {
                path: path.to_path_buf(),
                before: current,
                after: base,
                record: None,
                backup: previous_record
                    .and_then(|r| r.backup.clone())
                    .map(|b| (b, None)),
                kept_edits: false,
            });
            continue;
        };
        let after = apply(edit, base.as_deref());
        let (action, backup) = match &base {
            None => (FileAction::Created, None),
            Some(text) => (
                FileAction::Edited,
                Some((backup_path(path), Some(text.clone()))),
            ),
        };
        changes.push(Change {
            path: path.to_path_buf(),
            record: Some(FileRecord {
                path: path.to_path_buf(),
                action,
                backup: backup.as_ref().map(|(p, _)| p.clone()),
                sha256: Some(sha256(&after)),
            }),
            before: current,
            after: Some(after),
            backup,
            kept_edits: false,
        });
    }
    Ok(changes)
}

/// The changes that undo `records`. Reads under `root`, writes nothing.
pub fn plan_unsetup(root: &Path, records: &[FileRecord], params: &[String]) -> Result<Vec<Change>> {
    records
        .iter()
        .map(|record| {
            let current = read(root, &record.path)?;
            let (after, kept_edits) = undone(root, record, current.as_deref(), params)?;
            Ok(Change {
                path: record.path.clone(),
                before: current,
                after,
                record: None,
                backup: record.backup.clone().map(|b| (b, None)),
                kept_edits,
            })
        })
        .collect()
}

/// The changes that take `params` out of boot entries setup never edited itself: those
/// kernel-install wrote after setup from /etc/kernel/cmdline, which held them.
pub fn plan_strip_entries(
    root: &Path,
    entries: &[PathBuf],
    params: &[String],
) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    for path in entries {
        let Some(text) = read(root, path)? else {
            continue;
        };
        let stripped = bls::entry_without(&text, params);
        if stripped != text {
            changes.push(Change {
                path: path.clone(),
                before: Some(text),
                after: Some(stripped),
                record: None,
                backup: None,
                kept_edits: false,
            });
        }
    }
    Ok(changes)
}

/// Carries the changes out under `root`: backups first, then each file atomically (a new file
/// mode 0644), then the backups unsetup no longer needs.
pub fn commit(root: &Path, changes: &[Change]) -> Result<()> {
    for change in changes {
        if let Some((path, Some(text))) = &change.backup {
            let full = under_root(root, path);
            if read(root, path)?.as_deref() != Some(text.as_str()) {
                write_atomic(&full, text.as_bytes(), 0o600)?;
            }
        }
    }
    for change in changes.iter().filter(|c| c.changes()) {
        let full = under_root(root, &change.path);
        match &change.after {
            Some(text) => write_atomic(&full, text.as_bytes(), 0o644)?,
            None => remove_durably(&full)?,
        }
    }
    for change in changes {
        if let Some((path, None)) = &change.backup {
            let full = under_root(root, path);
            remove_durably(&full)?;
            remove_empty_parents(&full, &under_root(root, Path::new(BACKUP_DIR)));
        }
    }
    Ok(())
}

/// Removes the empty directories from `path`'s parent up to and including `top`.
fn remove_empty_parents(path: &Path, top: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if !d.starts_with(top) || fs::remove_dir(d).is_err() {
            break;
        }
        if d == top {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<String> {
        vec!["memmap=1M$0x30000000".into(), "crashkernel=256M".into()]
    }

    fn put(root: &Path, path: &str, text: &str) {
        let full = under_root(root, Path::new(path));
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, text).unwrap();
    }

    fn get(root: &Path, path: &str) -> Option<String> {
        fs::read_to_string(under_root(root, Path::new(path))).ok()
    }

    fn wanted() -> Vec<(PathBuf, Edit)> {
        vec![
            (grub::DEFAULTS.into(), Edit::GrubBlock(params())),
            (
                "/etc/sysctl.d/90-lastgasp.conf".into(),
                Edit::Own("kernel.panic = 10\n".into()),
            ),
        ]
    }

    fn records(changes: &[Change]) -> Vec<FileRecord> {
        changes.iter().filter_map(|c| c.record.clone()).collect()
    }

    const GRUB: &str = "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"";

    #[test]
    fn setup_twice_is_once_and_unsetup_restores_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        put(root, grub::DEFAULTS, GRUB);
        let first = plan_setup(root, &wanted(), &[], &[]).unwrap();
        commit(root, &first).unwrap();
        let after_first = get(root, grub::DEFAULTS).unwrap();
        assert!(after_first.contains("# BEGIN lastgasp"));
        assert_eq!(
            get(root, "/var/lib/lastgasp/setup-backup/etc/default/grub").unwrap(),
            GRUB
        );

        let second = plan_setup(root, &wanted(), &records(&first), &params()).unwrap();
        assert!(second.iter().all(|c| !c.changes()), "{second:?}");
        assert_eq!(records(&second), records(&first));
        commit(root, &second).unwrap();

        let undo = plan_unsetup(root, &records(&second), &params()).unwrap();
        commit(root, &undo).unwrap();
        assert_eq!(
            get(root, grub::DEFAULTS).unwrap(),
            GRUB,
            "byte for byte, no newline added"
        );
        assert_eq!(get(root, "/etc/sysctl.d/90-lastgasp.conf"), None);
        assert!(!root.join("var/lib/lastgasp/setup-backup").exists());
    }

    #[test]
    fn edits_made_since_setup_survive_unsetup() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        put(root, grub::DEFAULTS, "GRUB_TIMEOUT=5\n");
        let setup = plan_setup(root, &wanted(), &[], &[]).unwrap();
        commit(root, &setup).unwrap();
        let edited = get(root, grub::DEFAULTS)
            .unwrap()
            .replace("GRUB_TIMEOUT=5", "GRUB_TIMEOUT=1")
            + "GRUB_TERMINAL=console\n";
        put(root, grub::DEFAULTS, &edited);
        let undo = plan_unsetup(root, &records(&setup), &params()).unwrap();
        assert!(undo.iter().any(|c| c.kept_edits));
        commit(root, &undo).unwrap();
        assert_eq!(
            get(root, grub::DEFAULTS).unwrap(),
            "GRUB_TIMEOUT=1\nGRUB_TERMINAL=console\n"
        );
    }

    #[test]
    fn entries_written_by_kernel_install_after_setup_lose_setup_parameters() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let entry = "/boot/loader/entries/m-6.1.1.conf";
        put(
            root,
            entry,
            "linux /x\noptions root=/dev/vda1 memmap=1M$0x30000000 crashkernel=256M\n",
        );
        let undo = plan_strip_entries(root, &[PathBuf::from(entry)], &params()).unwrap();
        commit(root, &undo).unwrap();
        assert_eq!(
            get(root, entry).unwrap(),
            "linux /x\noptions root=/dev/vda1\n"
        );
        // A later setup with other parameters replaces the old ones instead of adding to them.
        put(
            root,
            entry,
            "linux /x\noptions root=/dev/vda1 memmap=1M$0x30000000 crashkernel=256M\n",
        );
        let new = vec!["crashkernel=512M".to_string()];
        let wanted = vec![(PathBuf::from(entry), Edit::EntryOptions(new.clone()))];
        let setup = plan_setup(root, &wanted, &[], &params()).unwrap();
        assert_eq!(
            setup[0].after.as_deref(),
            Some("linux /x\noptions root=/dev/vda1 crashkernel=512M\n")
        );
    }

    #[test]
    fn a_file_no_longer_wanted_is_undone_by_the_next_setup() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        put(root, bls::KERNEL_CMDLINE, "root=/dev/vda1 ro\n");
        let both = vec![
            (
                bls::KERNEL_CMDLINE.into(),
                Edit::CmdlineFile {
                    params: params(),
                    seed: String::new(),
                },
            ),
            (
                "/etc/cmdline.d/lastgasp.conf".into(),
                Edit::Own("x\n".into()),
            ),
        ];
        let first = plan_setup(root, &both, &[], &[]).unwrap();
        commit(root, &first).unwrap();
        let only = vec![both[1].clone()];
        let second = plan_setup(root, &only, &records(&first), &params()).unwrap();
        commit(root, &second).unwrap();
        assert_eq!(
            get(root, bls::KERNEL_CMDLINE).unwrap(),
            "root=/dev/vda1 ro\n"
        );
        assert_eq!(records(&second).len(), 1);
    }
}
