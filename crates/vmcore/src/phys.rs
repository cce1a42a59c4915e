//! Physical memory of the crashed machine: the `PhysMemory` trait and its ELF implementation,
//! which maps a physical address to a file offset through the PT_LOAD segments' `p_paddr`.

use std::ops::Range;

use crate::elf::LoadSegment;
use crate::read_at::ReadAt;
use crate::{Error, Result};

/// Reads the crashed machine's physical memory, wherever the dump keeps it.
pub trait PhysMemory {
    /// Fills `buf` from physical address `paddr`; any byte the dump lacks makes it an error
    /// (`Error::NotInDump`), never zeros.
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()>;
    /// The crashed kernel's page size.
    fn page_size(&self) -> u64;
    /// Physical ranges the dump describes, sorted and merged.
    fn present_ranges(&self) -> Vec<Range<u64>>;
}

impl<T: PhysMemory + ?Sized> PhysMemory for &T {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_phys(paddr, buf)
    }
    fn page_size(&self) -> u64 {
        (**self).page_size()
    }
    fn present_ranges(&self) -> Vec<Range<u64>> {
        (**self).present_ranges()
    }
}

impl<T: PhysMemory + ?Sized> PhysMemory for Box<T> {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_phys(paddr, buf)
    }
    fn page_size(&self) -> u64 {
        (**self).page_size()
    }
    fn present_ranges(&self) -> Vec<Range<u64>> {
        (**self).present_ranges()
    }
}

/// Physical memory of an ELF core.
#[derive(Debug)]
pub struct ElfMemory<R> {
    source: R,
    /// Sorted by `paddr`.
    segments: Vec<LoadSegment>,
    file_size: u64,
    page_size: u64,
}

impl<R: ReadAt> ElfMemory<R> {
    pub fn new(source: R, loads: &[LoadSegment], file_size: u64, page_size: u64) -> Self {
        let mut segments: Vec<LoadSegment> =
            loads.iter().copied().filter(|s| s.memsz > 0).collect();
        segments.sort_by_key(|s| (s.paddr, s.memsz));
        ElfMemory {
            source,
            segments,
            file_size,
            page_size,
        }
    }

    pub fn segments(&self) -> &[LoadSegment] {
        &self.segments
    }

    fn segment_containing(&self, paddr: u64) -> Option<&LoadSegment> {
        let after = self.segments.partition_point(|s| s.paddr <= paddr);
        let candidate = after.checked_sub(1).and_then(|i| self.segments.get(i));
        match candidate {
            Some(s) if paddr < s.paddr_end() => Some(s),
            // Overlapping segments are legal ELF; fall back to a scan.
            _ => self
                .segments
                .iter()
                .find(|s| s.paddr <= paddr && paddr < s.paddr_end()),
        }
    }
}

impl<R: ReadAt> PhysMemory for ElfMemory<R> {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let addr = paddr
                .checked_add(done as u64)
                .ok_or(Error::NotInDump(paddr))?;
            let segment = self
                .segment_containing(addr)
                .ok_or(Error::NotInDump(addr))?;
            let within = addr - segment.paddr;
            let left_in_segment = segment.memsz - within;
            let chunk_len = usize::try_from(left_in_segment)
                .unwrap_or(usize::MAX)
                .min(buf.len() - done);
            let Some(chunk) = buf.get_mut(done..done + chunk_len) else {
                break;
            };
            if within >= segment.filesz {
                chunk.fill(0);
            } else {
                let stored = usize::try_from(segment.filesz - within)
                    .unwrap_or(usize::MAX)
                    .min(chunk.len());
                let (from_file, zeros) = chunk.split_at_mut(stored);
                let offset = segment.offset + within;
                if offset.saturating_add(from_file.len() as u64) > self.file_size {
                    return Err(Error::NotInDump(addr));
                }
                self.source
                    .read_exact_at(from_file, offset)
                    .map_err(|source| Error::Io {
                        what: "memory",
                        offset,
                        source,
                    })?;
                zeros.fill(0);
            }
            done += chunk_len;
        }
        Ok(())
    }

    fn page_size(&self) -> u64 {
        self.page_size
    }

    fn present_ranges(&self) -> Vec<Range<u64>> {
        merge_ranges(self.segments.iter().map(|s| s.paddr..s.paddr_end()))
    }
}

/// Sorts and merges overlapping or touching ranges.
pub fn merge_ranges(ranges: impl IntoIterator<Item = Range<u64>>) -> Vec<Range<u64>> {
    let mut ranges: Vec<Range<u64>> = ranges.into_iter().filter(|r| r.start < r.end).collect();
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}
