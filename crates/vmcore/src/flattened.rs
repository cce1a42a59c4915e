//! makedumpfile's flattened format (`makedumpfile -F`, and QEMU's `dump-guest-memory -z/-l/-s`):
//! a stream of (offset, size, bytes) records meant for `makedumpfile -R`. Indexing the records
//! lets the dump be read in place, as if it had been rebuilt; unwritten bytes read as zeros,
//! as in the rebuilt file.

use std::io;

use crate::read_at::ReadAt;
use crate::{Error, Result};

pub const FLATTENED_SIGNATURE: &[u8] = b"makedumpfile\0";
const HEADER_SIZE: u64 = 4096;
const RECORD_HEADER_SIZE: u64 = 16;

/// A flattened dump seen as the file it describes.
#[derive(Debug)]
pub struct Flattened<R> {
    source: R,
    /// (offset in the rebuilt file, offset of the bytes in the stream, length), by offset;
    /// ties and overlaps keep stream order, so later records win as with `makedumpfile -R`.
    records: Vec<(u64, u64, u64)>,
    longest: u64,
    size: u64,
}

impl<R: ReadAt> Flattened<R> {
    pub fn new(source: R) -> Result<Self> {
        let io_error = |what, offset| {
            move |source| Error::Io {
                what,
                offset,
                source,
            }
        };
        let file_size = source.size().map_err(io_error("the file size", 0))?;
        let mut header = [0u8; 32];
        source
            .read_exact_at(&mut header, 0)
            .map_err(io_error("the flattened header", 0))?;
        let field = |at: usize| {
            header
                .get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, i64::from_be_bytes)
        };
        if !header.starts_with(FLATTENED_SIGNATURE) || field(16) != 1 {
            return Err(Error::malformed(format!(
                "flattened header: type {} is not 1",
                field(16)
            )));
        }
        let mut records = Vec::new();
        let mut position = HEADER_SIZE;
        let mut longest = 0;
        let mut size = 0;
        loop {
            let mut raw = [0u8; 16];
            source
                .read_exact_at(&mut raw, position)
                .map_err(|_| Error::Truncated {
                    what: "flattened dump (no end marker)",
                    needed: position + RECORD_HEADER_SIZE,
                    available: file_size,
                })?;
            let offset = i64::from_be_bytes(raw[..8].try_into().unwrap_or_default());
            let len = i64::from_be_bytes(raw[8..].try_into().unwrap_or_default());
            if offset == -1 && len == -1 {
                break;
            }
            let data = position + RECORD_HEADER_SIZE;
            let (Ok(offset), Ok(len)) = (u64::try_from(offset), u64::try_from(len)) else {
                return Err(Error::malformed(format!(
                    "flattened record at {position:#x}: offset {offset} size {len}"
                )));
            };
            let end = data.checked_add(len).filter(|&e| e <= file_size);
            let Some(next) = end else {
                return Err(Error::Truncated {
                    what: "flattened record",
                    needed: data.saturating_add(len),
                    available: file_size,
                });
            };
            let target_end = offset
                .checked_add(len)
                .ok_or_else(|| Error::malformed("flattened record offset overflows"))?;
            records.push((offset, data, len));
            longest = longest.max(len);
            size = size.max(target_end);
            position = next;
        }
        records.sort_by_key(|r| r.0);
        Ok(Flattened {
            source,
            records,
            longest,
            size,
        })
    }
}

impl<R: ReadAt> ReadAt for Flattened<R> {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= self.size)
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
        buf.fill(0);
        let first = self
            .records
            .partition_point(|r| r.0 < offset.saturating_sub(self.longest));
        let mut covering: Vec<&(u64, u64, u64)> = self.records[first..]
            .iter()
            .take_while(|r| r.0 < end)
            .filter(|r| r.0 + r.2 > offset)
            .collect();
        covering.sort_by_key(|r| r.1);
        for &(target, data, len) in covering {
            let from = target.max(offset);
            let to = (target + len).min(end);
            let Some(part) = buf.get_mut((from - offset) as usize..(to - offset) as usize) else {
                continue;
            };
            self.source.read_exact_at(part, data + (from - target))?;
        }
        Ok(())
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.size)
    }
}
