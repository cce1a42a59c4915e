//! The kernel log records printed from now on: `/dev/kmsg` opened at its end, read without
//! blocking. What a module printed while it loaded (ramoops' "request mem region ... failed",
//! pstore's "backend 'erst' already in use") is the only place the kernel says why a pstore
//! backend did not register, since a platform driver's failed probe does not fail the load.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::Error;

/// One read returns at most one record; the kernel's records are shorter than this.
const RECORD_BUFFER: usize = 8192;
/// A bound on what one `read_new` returns, should something flood the log meanwhile.
const MAX_RECORDS: usize = 4096;

/// `/dev/kmsg` positioned after the last record that existed when it was opened.
#[derive(Debug)]
pub struct KmsgTail {
    file: File,
    path: PathBuf,
}

impl KmsgTail {
    /// Opens `path` (`/dev/kmsg`, or a file standing in for it) without blocking and seeks to
    /// its end, so that only records printed afterwards are read.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let mut file = File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| Error::file(path, e))?;
        file.seek(SeekFrom::End(0))
            .map_err(|e| Error::file(path, e))?;
        Ok(KmsgTail {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The text of every record printed since `open` (or the last call), oldest first.
    pub fn read_new(&mut self) -> Result<Vec<String>, Error> {
        let mut records = Vec::new();
        let mut buffer = vec![0u8; RECORD_BUFFER];
        while records.len() < MAX_RECORDS {
            match self.file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    let raw = String::from_utf8_lossy(&buffer[..n]);
                    if let Some(text) = record_text(&raw) {
                        records.push(text);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // Records were overwritten before we read them: go on with the next ones.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::file(&self.path, e)),
            }
        }
        Ok(records)
    }
}

/// The message of one `/dev/kmsg` record ("6,1234,5678,-;text\n continuation lines"), without
/// its prefix and continuation lines; a line without the prefix (a plain file standing in for
/// the device) is taken as it is.
pub fn record_text(raw: &str) -> Option<String> {
    let first = raw.lines().next()?;
    let text = match first.split_once(';') {
        Some((prefix, text)) if prefix.split(',').count() >= 3 => text,
        _ => first,
    };
    let text = text.trim_end();
    (!text.is_empty()).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_prefix_and_dictionary_lines_go() {
        assert_eq!(
            record_text("3,512,1234567,-;ramoops: request mem region (0x100000@0x30000000) failed\n SUBSYSTEM=platform\n")
                .as_deref(),
            Some("ramoops: request mem region (0x100000@0x30000000) failed")
        );
        assert_eq!(
            record_text("pstore: backend 'erst' already in use\n").as_deref(),
            Some("pstore: backend 'erst' already in use")
        );
        assert_eq!(record_text("6,1,2,-;\n"), None);
        assert_eq!(record_text(""), None);
    }

    #[test]
    fn only_what_comes_after_opening_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kmsg");
        std::fs::write(&path, "6,1,1,-;old record\n").unwrap();
        let mut tail = KmsgTail::open(&path).unwrap();
        assert!(tail.read_new().unwrap().is_empty());
        // A regular file returns everything appended in one read: the first line is taken.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"6,2,2,-;new record\n").unwrap();
        assert_eq!(tail.read_new().unwrap(), ["new record"]);
    }

    #[test]
    fn a_missing_device_is_an_error_naming_it() {
        let error = KmsgTail::open(Path::new("/nonexistent/kmsg")).unwrap_err();
        assert!(
            error.to_string().starts_with("/nonexistent/kmsg: "),
            "{error}"
        );
    }

    /// The real device (the tests run as root, as CI does): opening at the end reads nothing
    /// old.
    #[test]
    fn the_real_device_starts_at_its_end() {
        let mut tail = KmsgTail::open(Path::new("/dev/kmsg"))
            .unwrap_or_else(|e| panic!("{e}: this test reads the kernel log, run it as root"));
        let records = tail.read_new().unwrap();
        // Something may print meanwhile, but not the whole log since boot.
        assert!(records.len() < 64, "{} records", records.len());
    }
}
