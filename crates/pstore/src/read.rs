//! Reading record files from the pstore filesystem and from systemd-pstore's archive, with
//! bounded reads and without following symlinks out of the directory.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::name::parse_record_name;
use crate::record::{Origin, ReadOptions, Record};

/// Why records could not be read. Every message names the file or directory; the OS error is
/// the `source`, which a caller prints after it (anyhow's `{:#}`).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot list {}", path.display())]
    ListDir { path: PathBuf, source: io::Error },
    #[error("cannot read {}", path.display())]
    ReadFile { path: PathBuf, source: io::Error },
    #[error("{}: changed while being read (replaced by another file)", path.display())]
    Replaced { path: PathBuf },
}

/// systemd-pstore nests records a level or two deep; anything deeper is not its layout.
const MAX_ARCHIVE_DEPTH: usize = 8;

/// Reads every regular file of a flat pstore directory (e.g. /sys/fs/pstore). Files whose name
/// is not a record name are returned too, with `name: None`. A missing directory has no records.
pub fn read_pstore_dir(dir: &Path, opts: &ReadOptions) -> Result<Vec<Record>, ReadError> {
    let Some(entries) = list_dir(dir)? else {
        return Ok(Vec::new());
    };
    let mut records = Vec::new();
    for (path, meta) in entries {
        if meta.file_type().is_file() {
            records.extend(read_record(&path, &meta, Origin::Pstore, opts)?);
        }
    }
    Ok(records)
}

/// Reads the records systemd-pstore moved into its archive (normally /var/lib/systemd/pstore):
/// files anywhere below `dir` whose name is a pstore record name. systemd's own `dmesg.txt` and
/// other files are ignored. A missing directory has no records.
pub fn read_systemd_archive(dir: &Path, opts: &ReadOptions) -> Result<Vec<Record>, ReadError> {
    let mut records = Vec::new();
    walk_archive(dir, 0, &mut |path, meta| {
        records.extend(read_record(path, meta, Origin::SystemdArchive, opts)?);
        Ok(())
    })?;
    Ok(records)
}

/// Whether there is anything to read, from the directory listings alone: a regular file in the
/// pstore directory `pstore_dir`, or a file named like a record below systemd-pstore's archive
/// `archive`. The cheap look before a caller takes its locks and reads; a directory that cannot
/// be listed counts as holding something, so that the read says why.
pub fn has_records(pstore_dir: &Path, archive: &Path) -> bool {
    let in_pstore = match list_dir(pstore_dir) {
        Ok(entries) => entries
            .unwrap_or_default()
            .iter()
            .any(|(_, meta)| meta.file_type().is_file()),
        Err(_) => true,
    };
    let mut archived = false;
    in_pstore
        || walk_archive(archive, 0, &mut |_, _| {
            archived = true;
            Ok(())
        })
        .is_err()
        || archived
}

/// Calls `visit` for every file below `dir` named like a record, in name order.
fn walk_archive(
    dir: &Path,
    depth: usize,
    visit: &mut dyn FnMut(&Path, &Metadata) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    let Some(entries) = list_dir(dir)? else {
        return Ok(());
    };
    for (path, meta) in entries {
        let kind = meta.file_type();
        if kind.is_dir() && depth < MAX_ARCHIVE_DEPTH {
            walk_archive(&path, depth + 1, visit)?;
        } else if kind.is_file() && is_record_path(&path) {
            visit(&path, &meta)?;
        }
    }
    Ok(())
}

fn is_record_path(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_record_name)
        .is_some()
}

/// The entries of `dir` with their own (not followed) metadata, sorted by name; `None` when the
/// directory does not exist.
fn list_dir(dir: &Path) -> Result<Option<Vec<(PathBuf, Metadata)>>, ReadError> {
    let list_err = |source| ReadError::ListDir {
        path: dir.to_owned(),
        source,
    };
    let iter = match fs::read_dir(dir) {
        Ok(iter) => iter,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(list_err(e)),
    };
    let mut entries = Vec::new();
    for entry in iter {
        let path = entry.map_err(list_err)?.path();
        // symlink_metadata: a symlink is reported as such and never followed.
        match fs::symlink_metadata(&path) {
            Ok(meta) => entries.push((path, meta)),
            // Unlinked between listing and stat (e.g. by systemd-pstore): no longer ours.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(ReadError::ReadFile { path, source }),
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Some(entries))
}

/// Reads one file; `None` when it vanished since the directory was listed (systemd-pstore
/// moves files out of /sys/fs/pstore while we may be reading it).
fn read_record(
    path: &Path,
    meta: &Metadata,
    origin: Origin,
    opts: &ReadOptions,
) -> Result<Option<Record>, ReadError> {
    // A name that is not UTF-8 is no kernel record name; keep the file, named lossily (`path`
    // still names it exactly, so it can be removed).
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let read_err = |source| ReadError::ReadFile {
        path: path.to_owned(),
        source,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(e)),
    };
    let opened = file.metadata().map_err(read_err)?;
    // The entry was checked not to be a symlink; make sure the file opened is that same entry.
    if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
        return Err(ReadError::Replaced {
            path: path.to_owned(),
        });
    }
    let limit = opts.max_record_bytes;
    let expected = usize::try_from(opened.len().min(limit)).unwrap_or(0);
    let mut data = Vec::with_capacity(expected);
    let mut reader = file.take(limit);
    reader.read_to_end(&mut data).map_err(read_err)?;
    // pstore files can report a size different from what reading gives, so probe for more.
    let mut file = reader.into_inner();
    let mut probe = [0u8; 1];
    let truncated = loop {
        match file.read(&mut probe) {
            Ok(n) => break n > 0,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_err(e)),
        }
    };
    let mtime = Some(opened.mtime()).filter(|&t| t > 0);
    Ok(Some(Record {
        name: parse_record_name(&file_name),
        file_name,
        path: path.to_owned(),
        origin,
        data,
        mtime,
        truncated,
    }))
}
