//! `export`: one archive of a report directory (`<id>/report.json`, `<id>/dmesg.txt`, ...) that a
//! support engineer unpacks with plain `tar`. Entries are sorted, owned by root and stamped with
//! the report's creation time, so exporting twice gives the same archive bytes.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::durable::replace_file_synced;
use crate::error::{Error, went_away};
use crate::store::{Loaded, Store, is_safe_relative};

/// Archive types `export` can write, chosen by the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    TarGz,
    TarZst,
    Tar,
}

/// What `Store::export` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOutcome {
    pub id: String,
    pub path: PathBuf,
    pub format: ArchiveFormat,
    pub bytes: u64,
}

impl ArchiveFormat {
    /// `.tar.gz`/`.tgz`, `.tar.zst`/`.tzst`, `.tar`; anything else is `None`.
    pub fn from_path(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(Self::TarGz)
        } else if name.ends_with(".tar.zst") || name.ends_with(".tzst") {
            Some(Self::TarZst)
        } else if name.ends_with(".tar") {
            Some(Self::Tar)
        } else {
            None
        }
    }
}

impl Store {
    /// Writes the report `id_or_prefix` names to `out`. An existing `out` is an error unless
    /// `force`; then it is replaced atomically (temporary file in the same directory, rename).
    /// Memory dumps (files the manifest marks `dump`) go in only with `include_dumps`: they are
    /// large and hold all of the machine's memory, which a log report does not.
    pub fn export(
        &self,
        id_or_prefix: &str,
        out: &Path,
        force: bool,
        include_dumps: bool,
    ) -> Result<ExportOutcome, Error> {
        let format = ArchiveFormat::from_path(out).ok_or_else(|| Error::ArchiveType {
            path: out.to_path_buf(),
        })?;
        let loaded = self.load(id_or_prefix)?;
        let fail = |error| Error::Export {
            path: out.to_path_buf(),
            error,
        };
        if !force && fs::symlink_metadata(out).is_ok() {
            return Err(Error::Exists {
                path: out.to_path_buf(),
            });
        }
        let tar = build_tar(&loaded, include_dumps).map_err(|error| {
            // Pruned between loading the manifest and reading its files: nothing is written.
            if went_away(&loaded.path, &error) {
                Error::Gone {
                    id: loaded.id.clone(),
                }
            } else {
                fail(error)
            }
        })?;
        let data = match format {
            ArchiveFormat::Tar => tar,
            ArchiveFormat::TarGz => {
                let mut gz = GzEncoder::new(Vec::new(), Compression::default());
                gz.write_all(&tar).map_err(fail)?;
                gz.finish().map_err(fail)?
            }
            ArchiveFormat::TarZst => ruzstd::encoding::compress_to_vec(
                tar.as_slice(),
                ruzstd::encoding::CompressionLevel::Fastest,
            ),
        };
        if force {
            replace_file_synced(out, &data).map_err(fail)?;
        } else {
            create_file(out, &data).map_err(|error| {
                if error.kind() == io::ErrorKind::AlreadyExists {
                    Error::Exists {
                        path: out.to_path_buf(),
                    }
                } else {
                    fail(error)
                }
            })?;
        }
        Ok(ExportOutcome {
            id: loaded.id,
            path: out.to_path_buf(),
            format,
            bytes: data.len() as u64,
        })
    }
}

/// The tar stream: `<id>/` then `report.json` and every file the manifest lists (dumps only when
/// asked), in name order.
fn build_tar(loaded: &Loaded, include_dumps: bool) -> io::Result<Vec<u8>> {
    let mtime = loaded
        .manifest
        .created
        .parse::<jiff::Timestamp>()
        .map_or(0, |t| u64::try_from(t.as_second()).unwrap_or(0));
    let mut names: Vec<String> = loaded
        .manifest
        .files
        .iter()
        .filter(|f| include_dumps || !f.dump)
        .map(|f| f.name.clone())
        .filter(|name| is_safe_relative(name))
        .collect();
    names.push(crate::store::MANIFEST_FILE.to_string());
    names.sort();
    names.dedup();
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs: Vec<String> = vec![String::new()];
    append_dir(&mut builder, &loaded.id, mtime)?;
    for name in &names {
        if let Some((parent, _)) = name.rsplit_once('/')
            && !dirs.iter().any(|d| d == parent)
        {
            append_dir(&mut builder, &format!("{}/{parent}", loaded.id), mtime)?;
            dirs.push(parent.to_string());
        }
        let file = fs::File::open(loaded.path.join(name))?;
        let size = file.metadata()?.len();
        let mut header = tar::Header::new_ustar();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(
            &mut header,
            format!("{}/{name}", loaded.id),
            io::Read::take(file, size),
        )?;
    }
    builder.into_inner()
}

fn append_dir(builder: &mut tar::Builder<Vec<u8>>, path: &str, mtime: u64) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(0);
    header.set_mode(0o755);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Directory);
    builder.append_data(&mut header, format!("{path}/"), io::empty())
}

fn create_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    let written = file.write_all(data).and_then(|()| file.sync_all());
    if written.is_err() {
        // Leave no half archive behind under the name the user asked for.
        let _ = fs::remove_file(path);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_the_extension() {
        let f = |p: &str| ArchiveFormat::from_path(Path::new(p));
        assert_eq!(f("a/b.tar.gz"), Some(ArchiveFormat::TarGz));
        assert_eq!(f("b.TGZ"), Some(ArchiveFormat::TarGz));
        assert_eq!(f("b.tar.zst"), Some(ArchiveFormat::TarZst));
        assert_eq!(f("b.tar"), Some(ArchiveFormat::Tar));
        assert_eq!(f("b.zip"), None);
        assert_eq!(f("/"), None);
    }
}
