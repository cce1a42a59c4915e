//! The kernel's initramfs format: a cpio archive in the "newc" layout (ASCII hex headers, every
//! header and file padded to four bytes). Written in memory, without a cpio tool, so that device
//! nodes can be added without root and the same input always gives the same bytes.

use std::collections::BTreeSet;
use std::io::Write;

use crate::Error;

const DIR: u32 = 0o040_000;
const FILE: u32 = 0o100_000;
const CHAR_DEVICE: u32 = 0o020_000;
const TRAILER: &str = "TRAILER!!!";

/// A cpio archive being built in memory.
#[derive(Default)]
pub struct Archive {
    bytes: Vec<u8>,
    next_inode: u32,
    dirs: BTreeSet<String>,
}

impl Archive {
    /// Adds a directory (mode 0755), and its missing parents. A directory already in the
    /// archive is not added twice.
    pub fn dir(&mut self, path: &str) {
        let path = path.trim_matches('/');
        if path.is_empty() || self.dirs.contains(path) {
            return;
        }
        self.parents(path);
        self.dirs.insert(path.to_string());
        self.entry(path, DIR | 0o755, (0, 0), 0, &[]);
    }

    /// Adds a regular file, and its missing parent directories.
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> Result<(), Error> {
        let path = path.trim_start_matches('/');
        let size = u32::try_from(data.len()).map_err(|_| Error::TooLarge {
            path: path.to_string(),
            size: data.len() as u64,
        })?;
        self.parents(path);
        self.entry(path, FILE | (mode & 0o7777), (0, 0), size, data);
        Ok(())
    }

    /// Adds a character device node (mode 0600), which an unprivileged builder could not
    /// create on disk.
    pub fn char_device(&mut self, path: &str, major: u32, minor: u32) {
        let path = path.trim_start_matches('/');
        self.parents(path);
        self.entry(path, CHAR_DEVICE | 0o600, (major, minor), 0, &[]);
    }

    /// Ends the archive and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry(TRAILER, 0, (0, 0), 0, &[]);
        self.bytes
    }

    fn parents(&mut self, path: &str) {
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.dir(parent);
        }
    }

    fn entry(&mut self, path: &str, mode: u32, rdev: (u32, u32), size: u32, data: &[u8]) {
        self.next_inode += 1;
        let nlink = if mode & DIR == DIR { 2 } else { 1 };
        // Paths come from this program, never from input, so their length fits.
        let name_size = u32::try_from(path.len() + 1).unwrap_or(u32::MAX);
        let fields = [
            self.next_inode,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime: fixed, so the archive is reproducible
            size,
            0, // device major of the archive's own files: meaningless here
            0,
            rdev.0,
            rdev.1,
            name_size,
            0, // checksum, unused by "070701"
        ];
        self.bytes.extend_from_slice(b"070701");
        for field in fields {
            write!(self.bytes, "{field:08x}").expect("writing to a Vec cannot fail");
        }
        self.bytes.extend_from_slice(path.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }
}

/// One entry read back from an archive: what tests and `--json` callers check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub mode: u32,
    pub rdev: (u32, u32),
    pub data: Vec<u8>,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.mode & 0o170_000 == DIR
    }

    pub fn is_file(&self) -> bool {
        self.mode & 0o170_000 == FILE
    }
}

/// Reads a newc archive back (uncompressed), up to its trailer.
pub fn read(bytes: &[u8]) -> Result<Vec<Entry>, Error> {
    let mut entries = Vec::new();
    let mut at = 0usize;
    loop {
        let header = bytes.get(at..at.saturating_add(110)).ok_or(Error::Cpio {
            offset: at,
            what: "truncated header",
        })?;
        if !header.starts_with(b"070701") && !header.starts_with(b"070702") {
            return Err(Error::Cpio {
                offset: at,
                what: "bad magic",
            });
        }
        let field = |index: usize| -> Result<u32, Error> {
            let start = 6 + index * 8;
            let text = header
                .get(start..start + 8)
                .and_then(|b| std::str::from_utf8(b).ok())
                .ok_or(Error::Cpio {
                    offset: at,
                    what: "bad header field",
                })?;
            u32::from_str_radix(text, 16).map_err(|_| Error::Cpio {
                offset: at,
                what: "bad header field",
            })
        };
        let mode = field(1)?;
        let size = field(6)? as usize;
        let rdev = (field(9)?, field(10)?);
        let name_size = field(11)? as usize;
        let name_start = at + 110;
        let name = bytes
            .get(name_start..name_start.saturating_add(name_size))
            .ok_or(Error::Cpio {
                offset: at,
                what: "truncated name",
            })?;
        let name = name.strip_suffix(&[0]).unwrap_or(name);
        let path = String::from_utf8_lossy(name).into_owned();
        let data_start = align4(name_start.saturating_add(name_size));
        let data = bytes
            .get(data_start..data_start.saturating_add(size))
            .ok_or(Error::Cpio {
                offset: at,
                what: "truncated file data",
            })?;
        if path == TRAILER {
            return Ok(entries);
        }
        entries.push(Entry {
            path,
            mode,
            rdev,
            data: data.to_vec(),
        });
        at = align4(data_start.saturating_add(size));
    }
}

fn align4(offset: usize) -> usize {
    offset.saturating_add(3) & !3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_aligned_and_read_back() {
        let mut archive = Archive::default();
        archive.dir("bin");
        archive.file("init", 0o755, b"#!/bin/sh\n").unwrap();
        archive.file("lib/modules/6.1/a.ko", 0o644, b"abc").unwrap();
        archive.char_device("dev/console", 5, 1);
        let bytes = archive.finish();
        assert!(bytes.len().is_multiple_of(4));
        let entries = read(&bytes).unwrap();
        let paths: Vec<_> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "bin",
                "init",
                "lib",
                "lib/modules",
                "lib/modules/6.1",
                "lib/modules/6.1/a.ko",
                "dev",
                "dev/console"
            ]
        );
        assert_eq!(entries[1].data, b"#!/bin/sh\n");
        assert_eq!(entries[1].mode, 0o100_755);
        assert!(entries[2].is_dir());
        assert_eq!(entries[7].rdev, (5, 1));
    }

    #[test]
    fn directories_are_written_once() {
        let mut archive = Archive::default();
        archive.dir("etc");
        archive.dir("/etc/");
        archive.file("etc/a", 0o644, b"").unwrap();
        let entries = read(&archive.finish()).unwrap();
        assert_eq!(entries.iter().filter(|e| e.path == "etc").count(), 1);
    }

    #[test]
    fn the_system_cpio_tool_lists_what_was_written() {
        let mut archive = Archive::default();
        archive
            .file("etc/lastgasp/lastgasp.toml", 0o644, b"x = 1\n")
            .unwrap();
        archive.char_device("dev/console", 5, 1);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.cpio");
        std::fs::write(&path, archive.finish()).unwrap();
        let output = std::process::Command::new("cpio")
            .args(["-t", "-v", "--quiet", "-F"])
            .arg(&path)
            .output()
            .expect("the cpio tool (Debian package cpio) is needed for this test");
        assert!(output.status.success(), "{output:?}");
        let listing = String::from_utf8_lossy(&output.stdout);
        assert!(listing.contains("etc/lastgasp/lastgasp.toml"), "{listing}");
        assert!(listing.contains("crw-------"), "{listing}");
    }
}
