//! The one error type of the crate: every failure names what was being read and what is wrong,
//! in one line, so the CLI can print it as is.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {what} at file offset {offset:#x}: {source}")]
    Io {
        what: &'static str,
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("cannot open: {0}")]
    Open(#[source] io::Error),
    #[error("{what} is truncated: needs bytes up to {needed:#x}, the file has {available:#x}")]
    Truncated {
        what: &'static str,
        needed: u64,
        available: u64,
    },
    #[error("{0}")]
    Malformed(String),
    #[error("physical address {0:#x}: page not in the dump")]
    NotInDump(u64),
    #[error("virtual address {vaddr:#x} is not mapped: {why}")]
    Unmapped { vaddr: u64, why: String },
    #[error("VMCOREINFO has no {0}")]
    MissingInfo(String),
    #[error("{0}")]
    Unsupported(String),
    /// What failed while reading a named part of the crashed kernel's memory, kept whole.
    #[error("{what}: {source}")]
    Reading {
        what: String,
        #[source]
        source: Box<Error>,
    },
    /// The kdump-compressed reader's own error, kept whole (its I/O source included).
    #[error("kdump-compressed: {0}")]
    Kdump(#[source] kdumpfile::Error),
    /// Any of the above while reading a named file.
    #[error("{}: {source}", path.display())]
    File {
        path: std::path::PathBuf,
        #[source]
        source: Box<Error>,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Error::Malformed(message.into())
    }
}
