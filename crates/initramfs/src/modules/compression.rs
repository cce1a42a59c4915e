//! Compressed module files (`.ko.gz`, `.ko.xz`, `.ko.zst`): which one a file is, whether the
//! target kernel can take it as it is (finit_module's MODULE_INIT_COMPRESSED_FILE works only
//! with CONFIG_MODULE_DECOMPRESS, and only for the one method the kernel was built with), and
//! decompression at build time when it cannot.

use std::io::Read;

/// No module is this large; a bigger result means a broken file.
const MAX_MODULE_SIZE: u64 = 512 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
}

/// A module file that does not decompress.
#[derive(Debug, thiserror::Error)]
#[error("decompressing {method} module: {cause}")]
pub struct DecompressError {
    pub method: &'static str,
    pub cause: String,
}

impl Compression {
    /// From the file name, as depmod and modprobe tell them apart.
    pub fn of_path(path: &str) -> Compression {
        if path.ends_with(".ko.gz") {
            Compression::Gzip
        } else if path.ends_with(".ko.xz") {
            Compression::Xz
        } else if path.ends_with(".ko.zst") {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }

    /// The file name suffix after `.ko`.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Xz => ".xz",
            Compression::Zstd => ".zst",
        }
    }

    /// The compression a kernel decompresses itself in finit_module, from its `.config` text.
    pub fn in_kernel(config: &str) -> Option<Compression> {
        let enabled = |key: &str| config.lines().any(|line| line.trim() == format!("{key}=y"));
        if !enabled("CONFIG_MODULE_DECOMPRESS") {
            return None;
        }
        [
            ("CONFIG_MODULE_COMPRESS_GZIP", Compression::Gzip),
            ("CONFIG_MODULE_COMPRESS_XZ", Compression::Xz),
            ("CONFIG_MODULE_COMPRESS_ZSTD", Compression::Zstd),
        ]
        .into_iter()
        .find_map(|(key, method)| enabled(key).then_some(method))
    }

    pub fn decompress(self, bytes: &[u8]) -> Result<Vec<u8>, DecompressError> {
        let error = |cause: String| DecompressError {
            method: self.name(),
            cause,
        };
        let mut out = Vec::new();
        match self {
            Compression::None => out.extend_from_slice(bytes),
            Compression::Gzip => {
                flate2::read::GzDecoder::new(bytes)
                    .take(MAX_MODULE_SIZE + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| error(e.to_string()))?;
            }
            Compression::Xz => {
                let mut input = bytes;
                let mut capped = Capped(&mut out);
                lzma_rs::xz_decompress(&mut input, &mut capped)
                    .map_err(|e| error(e.to_string()))?;
            }
            Compression::Zstd => {
                let decoder = ruzstd::decoding::StreamingDecoder::new(bytes)
                    .map_err(|e| error(e.to_string()))?;
                decoder
                    .take(MAX_MODULE_SIZE + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| error(e.to_string()))?;
            }
        }
        if out.len() as u64 > MAX_MODULE_SIZE {
            return Err(error(format!("more than {MAX_MODULE_SIZE} bytes")));
        }
        Ok(out)
    }
}

/// A writer that refuses to grow past `MAX_MODULE_SIZE`, for decoders without an output limit.
struct Capped<'a>(&'a mut Vec<u8>);

impl std::io::Write for Capped<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if (self.0.len() + buf.len()) as u64 > MAX_MODULE_SIZE {
            return Err(std::io::Error::other(format!(
                "more than {MAX_MODULE_SIZE} bytes"
            )));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
