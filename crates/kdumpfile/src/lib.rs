//! The kdump-compressed dump format (makedumpfile's "KDUMP   " files, header version 6):
//! a writer that crash, drgn/libkdumpfile and makedumpfile accept, working in bounded memory
//! for a machine of any size, and a reader that checks every size and offset of an untrusted
//! file before using it.

mod bitmap;
pub mod compress;
pub mod format;
/// The fuzz targets' entry points and invariants: for fuzz/ and the corpus replay in tests/
/// only (the `fuzzing` feature), not part of the API.
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod lzo;
#[cfg(test)]
mod noise;
pub mod notes;
mod pages;
mod reader;
mod writer;

pub use bitmap::PfnBits;
pub use compress::Compression;
pub use format::{DiskDumpHeader, PageDesc, SubHeader, Utsname};
pub use reader::KdumpFile;
pub use writer::{
    DL_EXCLUDE_ZERO, DumpInfo, DumpOutput, Limits, Machine, PageSource, Progress, Summary,
    write_dump, write_dump_with,
};

/// Everything that can go wrong reading or writing a dump; each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not a kdump-compressed file (no \"KDUMP   \" signature)")]
    BadSignature,
    #[error("bad kdump header: {0}")]
    BadHeader(String),
    #[error("the dump ends inside its {0}")]
    Truncated(&'static str),
    #[error("corrupt dump: {0}")]
    Corrupt(String),
    #[error("unsupported dump: {0}")]
    Unsupported(String),
    /// A page whose stored data would not decompress, with why.
    #[error("corrupt dump: pfn {pfn:#x}: {source}")]
    Page {
        pfn: u64,
        #[source]
        source: Box<Error>,
    },
    #[error("pfn {0:#x} was never written (the dump is incomplete)")]
    NotWritten(u64),
    #[error("cannot write this dump: {0}")]
    Invalid(String),
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
}
