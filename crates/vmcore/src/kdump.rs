//! Physical memory of a kdump-compressed file (makedumpfile's "KDUMP   " format), through the
//! kdumpfile crate's reader: a page excluded from the dump (free, cache, zero, user pages) reads
//! as "page not in the dump", never as zeros.

use std::cell::RefCell;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;

use kdumpfile::KdumpFile;

use crate::phys::PhysMemory;
use crate::read_at::ReadAt;
use crate::{Error, Machine, Result, VmcoreInfo};

pub struct KdumpMemory<R: ReadAt> {
    file: RefCell<KdumpFile<Cursor<R>>>,
    page_size: u64,
}

impl<R: ReadAt> KdumpMemory<R> {
    pub fn open(source: R) -> Result<Self> {
        let file = KdumpFile::open(Cursor {
            source,
            position: 0,
        })
        .map_err(Error::Kdump)?;
        let page_size = file.page_size() as u64;
        Ok(KdumpMemory {
            file: RefCell::new(file),
            page_size,
        })
    }

    /// The crashed machine, from the header's `utsname.machine`; QEMU writes "Unknown" there
    /// for arm64 guests, so VMCOREINFO's architecture-only entries decide then.
    pub fn machine(&self, info: Option<&VmcoreInfo>) -> Result<Machine> {
        let file = self.file.borrow();
        let name = file.header().utsname.machine.clone();
        match name.as_str() {
            "x86_64" => Ok(Machine::X86_64),
            "aarch64" | "arm64" => Ok(Machine::Aarch64),
            other => match info {
                Some(i) if i.symbol("init_top_pgt").is_some() => Ok(Machine::X86_64),
                Some(i) if i.number("kimage_voffset").is_some() => Ok(Machine::Aarch64),
                _ => Err(Error::Unsupported(format!(
                    "kdump-compressed dump of machine {other:?}, neither x86_64 nor aarch64"
                ))),
            },
        }
    }

    pub fn notes(&self) -> Vec<u8> {
        self.file.borrow().notes().to_vec()
    }

    pub fn vmcoreinfo(&self) -> Option<Vec<u8>> {
        self.file.borrow().vmcoreinfo().map(<[u8]>::to_vec)
    }

    pub fn is_incomplete(&self) -> bool {
        self.file.borrow().is_incomplete()
    }
}

impl<R: ReadAt> PhysMemory for KdumpMemory<R> {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        let mut file = self.file.borrow_mut();
        let mut done = 0usize;
        while done < buf.len() {
            let addr = paddr
                .checked_add(done as u64)
                .ok_or(Error::NotInDump(paddr))?;
            let pfn = addr / self.page_size;
            let within = (addr % self.page_size) as usize;
            let page = match file.read_page(pfn) {
                Ok(Some(page)) => page,
                Ok(None) | Err(kdumpfile::Error::NotWritten(_)) => {
                    return Err(Error::NotInDump(addr));
                }
                Err(e) => return Err(Error::Kdump(e)),
            };
            let len = (page.len().saturating_sub(within)).min(buf.len() - done);
            let (Some(source), Some(target)) = (
                page.get(within..within + len),
                buf.get_mut(done..done + len),
            ) else {
                return Err(Error::NotInDump(addr));
            };
            if len == 0 {
                return Err(Error::NotInDump(addr));
            }
            target.copy_from_slice(source);
            done += len;
        }
        Ok(())
    }

    fn page_size(&self) -> u64 {
        self.page_size
    }

    /// Runs of pages bitmap 1 marks as RAM; one bit lookup per page frame.
    fn present_ranges(&self) -> Vec<Range<u64>> {
        let mut file = self.file.borrow_mut();
        let mut ranges: Vec<Range<u64>> = Vec::new();
        for pfn in 0..file.max_mapnr() {
            if !file.is_present(pfn).unwrap_or(false) {
                continue;
            }
            let start = pfn * self.page_size;
            match ranges.last_mut() {
                Some(last) if last.end == start => last.end = start + self.page_size,
                _ => ranges.push(start..start + self.page_size),
            }
        }
        ranges
    }
}

/// `Read + Seek` over a positioned-read source, for the kdumpfile reader.
struct Cursor<R> {
    source: R,
    position: u64,
}

impl<R: ReadAt> Read for Cursor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.source.size()?;
        let available = size.saturating_sub(self.position);
        let len = buf
            .len()
            .min(usize::try_from(available).unwrap_or(usize::MAX));
        let target = buf.get_mut(..len).unwrap_or_default();
        self.source.read_exact_at(target, self.position)?;
        self.position += len as u64;
        Ok(len)
    }
}

impl<R: ReadAt> Seek for Cursor<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "seek out of range");
        self.position = match to {
            SeekFrom::Start(n) => n,
            SeekFrom::End(d) => self
                .source
                .size()?
                .checked_add_signed(d)
                .ok_or_else(invalid)?,
            SeekFrom::Current(d) => self.position.checked_add_signed(d).ok_or_else(invalid)?,
        };
        Ok(self.position)
    }
}
