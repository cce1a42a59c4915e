//! Capture initramfs images: the newc cpio writer, depmod's index files and the resolution of
//! a module name or a device's modalias to the module files to load, dependencies first.
//! Parsing is pure; `kernel_tree` reads one kernel's module directory from disk.

pub mod cpio;
pub mod elf;
pub mod kernel_tree;
pub mod modules;

use std::io::Write;

pub use cpio::Archive;
pub use kernel_tree::KernelTree;
pub use modules::{Compression, Index, Resolved};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path} is too large for a cpio archive ({size} bytes, at most 4 GiB)")]
    TooLarge { path: String, size: u64 },
    #[error("cpio archive at byte {offset}: {what}")]
    Cpio { offset: usize, what: &'static str },
    #[error(transparent)]
    Parse(#[from] modules::ParseError),
    #[error(transparent)]
    Decompress(#[from] modules::compression::DecompressError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("no module directory for kernel {release} (looked in {looked})")]
    NoModules { release: String, looked: String },
}

/// How the whole image is compressed; the kernel unpacks gzip in every configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageCompression {
    None,
    Gzip,
}

/// The archive's bytes as the kernel will get them.
pub fn compress_image(archive: Vec<u8>, compression: ImageCompression) -> Vec<u8> {
    match compression {
        ImageCompression::None => archive,
        ImageCompression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder
                .write_all(&archive)
                .expect("writing to a Vec cannot fail");
            encoder.finish().expect("writing to a Vec cannot fail")
        }
    }
}
