//! Reading a kdump-compressed file: headers checked against each other and against the file's
//! length before anything is trusted, then pages looked up through bitmap 2. A rank cache
//! (dumped pages before each bitmap block) makes a lookup one block read and a popcount, and
//! only one block of each bitmap is held in memory.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::Error;
use crate::bitmap::ones_before;
use crate::compress::decompress_page;
use crate::format::{
    DiskDumpHeader, HEADER_LEN, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, PAGE_DESC_LEN, PageDesc,
    STATUS_INCOMPLETE, SUB_HEADER_LEN, SubHeader,
};
use crate::notes;

/// Notes and VMCOREINFO larger than this are refused: real ones are kilobytes (a few hundred
/// bytes per CPU).
const MAX_NOTES: u64 = 64 << 20;

/// One block of a bitmap held in memory.
struct CachedBlock {
    index: u64,
    bytes: Vec<u8>,
}

/// An open kdump-compressed file.
pub struct KdumpFile<R> {
    file: R,
    file_len: u64,
    header: DiskDumpHeader,
    sub: SubHeader,
    block: u64,
    max_mapnr: u64,
    bitmap1: u64,
    bitmap2: u64,
    descs: u64,
    notes: Vec<u8>,
    vmcoreinfo: Option<Vec<u8>>,
    /// Dumped pages before each block of bitmap 2.
    rank: Vec<u64>,
    dumped: u64,
    present_cache: Option<CachedBlock>,
    dumpable_cache: Option<CachedBlock>,
    page: Vec<u8>,
    stored: Vec<u8>,
}

impl KdumpFile<File> {
    pub fn open_path(path: &Path) -> Result<Self, Error> {
        let file = File::open(path).map_err(|source| Error::Io {
            context: "opening the dump",
            source,
        })?;
        KdumpFile::open(file)
    }
}

fn read_at<R: Read + Seek>(
    file: &mut R,
    offset: u64,
    buf: &mut [u8],
    what: &'static str,
) -> Result<(), Error> {
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(buf))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => Error::Truncated(what),
            _ => Error::Io {
                context: what,
                source: e,
            },
        })
}

fn bad(msg: String) -> Error {
    Error::BadHeader(msg)
}

impl<R: Read + Seek> KdumpFile<R> {
    /// Reads and checks the headers, notes and bitmap 2's ranks.
    pub fn open(mut file: R) -> Result<Self, Error> {
        let file_len = file.seek(SeekFrom::End(0)).map_err(|source| Error::Io {
            context: "finding the dump's length",
            source,
        })?;
        let mut raw = [0u8; HEADER_LEN];
        read_at(&mut file, 0, &mut raw, "disk_dump_header")?;
        let header = DiskDumpHeader::decode(&raw)?;
        let bs = header.block_size;
        if !bs.is_power_of_two() || !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&bs) {
            return Err(bad(format!("block_size {bs}")));
        }
        let block = u64::from(bs);
        if header.sub_hdr_size == 0 {
            return Err(bad("sub_hdr_size 0".into()));
        }
        let mut raw_sub = [0u8; SUB_HEADER_LEN];
        read_at(&mut file, block, &mut raw_sub, "kdump_sub_header")?;
        let sub = SubHeader::decode(&raw_sub, header.header_version)?;
        let max_mapnr = if header.header_version >= 6 && sub.max_mapnr_64 != 0 {
            sub.max_mapnr_64
        } else {
            u64::from(header.max_mapnr_32)
        };

        let bitmap1 = (1 + u64::from(header.sub_hdr_size)) * block;
        let bitmap_len = u64::from(header.bitmap_blocks) * block;
        let half_len = max_mapnr.div_ceil(8).div_ceil(block) * block;
        if header.bitmap_blocks % 2 != 0 || bitmap_len < 2 * half_len {
            return Err(bad(format!(
                "bitmap_blocks {} do not hold two bitmaps of max_mapnr {max_mapnr} pfns",
                header.bitmap_blocks
            )));
        }
        let half = bitmap_len / 2;
        let bitmap2 = bitmap1 + half;
        let descs = bitmap1 + bitmap_len;
        if descs > file_len {
            return Err(Error::Truncated("bitmaps"));
        }

        let notes = read_notes(&mut file, &sub, block, descs)?;
        let vmcoreinfo = read_vmcoreinfo(&mut file, &sub, &notes, file_len)?;

        let mut rank = Vec::with_capacity(usize::try_from(half / block).unwrap_or(0));
        let mut dumped = 0u64;
        let mut buf = vec![0u8; bs as usize];
        for i in 0..half / block {
            rank.push(dumped);
            read_at(&mut file, bitmap2 + i * block, &mut buf, "bitmap 2")?;
            dumped += ones_before(&buf, buf.len() * 8);
        }
        let incomplete = header.status & STATUS_INCOMPLETE != 0;
        let descs_end = dumped
            .checked_mul(PAGE_DESC_LEN as u64)
            .and_then(|n| n.checked_add(descs));
        if !incomplete && descs_end.is_none_or(|end| end > file_len) {
            return Err(Error::Truncated("page descriptors"));
        }
        Ok(KdumpFile {
            file,
            file_len,
            header,
            sub,
            block,
            max_mapnr,
            bitmap1,
            bitmap2,
            descs,
            notes,
            vmcoreinfo,
            rank,
            dumped,
            present_cache: None,
            dumpable_cache: None,
            page: vec![0u8; bs as usize],
            stored: Vec::with_capacity(bs as usize),
        })
    }

    pub fn header(&self) -> &DiskDumpHeader {
        &self.header
    }

    pub fn sub_header(&self) -> &SubHeader {
        &self.sub
    }

    pub fn page_size(&self) -> usize {
        self.block as usize
    }

    pub fn max_mapnr(&self) -> u64 {
        self.max_mapnr
    }

    /// Pages with a descriptor (bitmap 2's population).
    pub fn dumped_pages(&self) -> u64 {
        self.dumped
    }

    /// Whether the writer was cut short (disk full, killed): some pages were never written.
    pub fn is_incomplete(&self) -> bool {
        self.header.status & STATUS_INCOMPLETE != 0
    }

    /// The crashed kernel's ELF notes, as copied into the dump.
    pub fn notes(&self) -> &[u8] {
        &self.notes
    }

    /// The VMCOREINFO text, if the dump has it.
    pub fn vmcoreinfo(&self) -> Option<&[u8]> {
        self.vmcoreinfo.as_deref()
    }

    /// Whether `pfn` is RAM in the crashed machine (bitmap 1).
    pub fn is_present(&mut self, pfn: u64) -> Result<bool, Error> {
        let base = self.bitmap1;
        bit(
            &mut self.file,
            &mut self.present_cache,
            base,
            self.block,
            self.max_mapnr,
            pfn,
        )
    }

    /// Whether `pfn` was dumped (bitmap 2).
    pub fn is_dumped(&mut self, pfn: u64) -> Result<bool, Error> {
        let base = self.bitmap2;
        bit(
            &mut self.file,
            &mut self.dumpable_cache,
            base,
            self.block,
            self.max_mapnr,
            pfn,
        )
    }

    /// The descriptor of `pfn`, or `None` if the page was not dumped.
    pub fn page_desc(&mut self, pfn: u64) -> Result<Option<PageDesc>, Error> {
        if !self.is_dumped(pfn)? {
            return Ok(None);
        }
        let bits_per_block = self.block * 8;
        let block_index = pfn / bits_per_block;
        let before = self.rank.get(block_index as usize).copied().unwrap_or(0);
        let within = match &self.dumpable_cache {
            Some(c) => ones_before(&c.bytes, (pfn % bits_per_block) as usize),
            None => 0,
        };
        let index = before + within;
        let at = self.descs + index * PAGE_DESC_LEN as u64;
        let mut raw = [0u8; PAGE_DESC_LEN];
        if at + PAGE_DESC_LEN as u64 > self.file_len {
            // Only an incomplete dump gets here (open checked the others): never written.
            return Ok(Some(PageDesc::default()));
        }
        read_at(&mut self.file, at, &mut raw, "page descriptor")?;
        Ok(Some(PageDesc::decode(&raw)))
    }

    /// The contents of `pfn`: `Ok(None)` when it was excluded from the dump (or is not RAM).
    pub fn read_page(&mut self, pfn: u64) -> Result<Option<&[u8]>, Error> {
        let Some(desc) = self.page_desc(pfn)? else {
            return Ok(None);
        };
        if desc.offset == 0 && self.is_incomplete() {
            return Err(Error::NotWritten(pfn));
        }
        if desc.size == 0 || u64::from(desc.size) > self.block {
            return Err(Error::Corrupt(format!(
                "pfn {pfn:#x}: stored size {} for {}-byte pages",
                desc.size, self.block
            )));
        }
        let end = desc.offset.checked_add(u64::from(desc.size));
        if desc.offset < self.descs || end.is_none_or(|e| e > self.file_len) {
            return Err(Error::Corrupt(format!(
                "pfn {pfn:#x}: data at {:#x}+{} lies outside the page area",
                desc.offset, desc.size
            )));
        }
        self.stored.resize(desc.size as usize, 0);
        read_at(&mut self.file, desc.offset, &mut self.stored, "page data")?;
        decompress_page(desc.flags, &self.stored, &mut self.page).map_err(|source| {
            Error::Page {
                pfn,
                source: Box::new(source),
            }
        })?;
        Ok(Some(&self.page))
    }
}

fn bit<R: Read + Seek>(
    file: &mut R,
    cache: &mut Option<CachedBlock>,
    base: u64,
    block: u64,
    max_mapnr: u64,
    pfn: u64,
) -> Result<bool, Error> {
    if pfn >= max_mapnr {
        return Ok(false);
    }
    let index = pfn / (block * 8);
    if cache.as_ref().is_none_or(|c| c.index != index) {
        let mut bytes = cache
            .take()
            .map(|c| c.bytes)
            .unwrap_or_else(|| vec![0u8; block as usize]);
        read_at(file, base + index * block, &mut bytes, "bitmap")?;
        *cache = Some(CachedBlock { index, bytes });
    }
    let within = pfn % (block * 8);
    Ok(cache
        .as_ref()
        .and_then(|c| c.bytes.get((within / 8) as usize))
        .is_some_and(|b| b & (1 << (within % 8)) != 0))
}

fn read_notes<R: Read + Seek>(
    file: &mut R,
    sub: &SubHeader,
    block: u64,
    bitmaps: u64,
) -> Result<Vec<u8>, Error> {
    if sub.size_note == 0 {
        return Ok(Vec::new());
    }
    let end = sub.offset_note.checked_add(sub.size_note);
    if sub.size_note > MAX_NOTES || sub.offset_note < block || end.is_none_or(|e| e > bitmaps) {
        return Err(bad(format!(
            "notes at {:#x}+{:#x} lie outside the sub-header blocks",
            sub.offset_note, sub.size_note
        )));
    }
    let mut notes = vec![0u8; sub.size_note as usize];
    read_at(file, sub.offset_note, &mut notes, "ELF notes")?;
    Ok(notes)
}

fn read_vmcoreinfo<R: Read + Seek>(
    file: &mut R,
    sub: &SubHeader,
    notes: &[u8],
    file_len: u64,
) -> Result<Option<Vec<u8>>, Error> {
    if sub.size_vmcoreinfo == 0 {
        return Ok(notes::find_vmcoreinfo(notes).and_then(|r| notes.get(r).map(<[u8]>::to_vec)));
    }
    let end = sub.offset_vmcoreinfo.checked_add(sub.size_vmcoreinfo);
    if sub.size_vmcoreinfo > MAX_NOTES || end.is_none_or(|e| e > file_len) {
        return Err(bad(format!(
            "VMCOREINFO at {:#x}+{:#x} lies outside the file",
            sub.offset_vmcoreinfo, sub.size_vmcoreinfo
        )));
    }
    let mut text = vec![0u8; sub.size_vmcoreinfo as usize];
    read_at(file, sub.offset_vmcoreinfo, &mut text, "VMCOREINFO")?;
    Ok(Some(text))
}
