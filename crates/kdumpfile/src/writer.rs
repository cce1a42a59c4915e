//! Writing a kdump-compressed file in bounded memory, whatever the size of the machine.
//!
//! Two passes over the pfns, one window at a time. Pass 1 asks the page source which present
//! pfns are excluded and writes both bitmaps, so the number of dumped pages (hence where page
//! data starts, right after the descriptors) is known. Pass 2 reads bitmap 2 back from the file
//! and writes page data and descriptors, each descriptor only after the data it points to. The
//! header says "incomplete" until the very end, so a dump cut short by a full disk or a killed
//! process is still a valid, honestly marked file.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;

use crate::Error;
use crate::bitmap::PfnBits;
use crate::compress::Compression;
use crate::format::{
    self, DiskDumpHeader, HEADER_VERSION, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, PAGE_DESC_LEN,
    STATUS_INCOMPLETE, SUB_HEADER_LEN, SubHeader, Utsname,
};
use crate::pages::PageWriter;

/// `DL_EXCLUDE_ZERO`: zero pages share one stored all-zero page.
pub const DL_EXCLUDE_ZERO: u8 = 1;

/// The architecture of the crashed machine; crash refuses a dump whose `machine` is not its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    X86_64,
    Aarch64,
}

impl Machine {
    pub fn uts_name(self) -> &'static str {
        match self {
            Machine::X86_64 => "x86_64",
            Machine::Aarch64 => "aarch64",
        }
    }
}

/// Everything about the dump that is not page contents.
#[derive(Debug, Clone)]
pub struct DumpInfo {
    pub machine: Machine,
    /// `utsname.release` and `.version` of the crashed kernel, empty if not known.
    pub release: String,
    pub version: String,
    /// Seconds since the epoch (VMCOREINFO's CRASHTIME).
    pub crash_time: i64,
    pub phys_base: u64,
    pub page_size: u32,
    /// Highest pfn + 1.
    pub max_mapnr: u64,
    /// The crashed kernel's ELF notes, copied verbatim.
    pub notes: Vec<u8>,
    /// Where the VMCOREINFO text lies in `notes`.
    pub vmcoreinfo: Option<Range<usize>>,
    pub nr_cpus: u32,
    /// makedumpfile's `-d` (0..=31), recorded in the sub-header; bit 1 shares zero pages.
    pub dump_level: u8,
    pub compression: Compression,
}

/// Where the pages come from and which of them are left out.
pub trait PageSource {
    /// Clears in `dumpable` the pfns that are not to be dumped. On entry the bits of the present
    /// pfns in `dumpable.pfns()` are set. Called once per window, in increasing pfn order, all
    /// before the first `read_page`.
    fn exclude(&mut self, dumpable: &mut PfnBits) -> io::Result<()>;

    /// Fills `page` with the contents of `pfn`, one of the pfns left dumpable.
    fn read_page(&mut self, pfn: u64, page: &mut [u8]) -> io::Result<()>;

    /// Fills `pages` (a whole number of `page_size` pages) with consecutive dumpable pfns from
    /// `first`. A source that can read them at once, one `pread` rather than one per page,
    /// should do so here.
    fn read_pages(&mut self, first: u64, page_size: usize, pages: &mut [u8]) -> io::Result<()> {
        for (pfn, page) in (first..).zip(pages.chunks_mut(page_size)) {
            self.read_page(pfn, page)?;
        }
        Ok(())
    }
}

/// Where a dump goes: a seekable file the writer can read back (bitmap 2) and make durable.
pub trait DumpOutput: Read + Write + Seek {
    /// Makes everything written so far durable; called once, before the header is marked
    /// complete.
    fn sync_data(&mut self) -> io::Result<()>;
}

impl DumpOutput for std::fs::File {
    fn sync_data(&mut self) -> io::Result<()> {
        std::fs::File::sync_data(self)
    }
}

/// In memory, for tests and for callers that copy the dump elsewhere.
impl DumpOutput for io::Cursor<Vec<u8>> {
    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Pages done out of the total to dump, for a console progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// What a finished dump holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub present_pages: u64,
    pub dumped_pages: u64,
    pub excluded_pages: u64,
    pub zero_pages: u64,
    pub compressed_pages: u64,
    pub raw_pages: u64,
    pub file_size: u64,
}

/// Tuning of the windows and buffers (tests make them small to cross every boundary).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of each bitmap handled at once (8 pfns a byte).
    pub bitmap_window: usize,
    /// Page data buffered before it is written.
    pub data_buffer: usize,
    /// Descriptors buffered before they are written.
    pub desc_buffer: usize,
    /// Threads compressing pages (1: all on the calling thread, as in a one-CPU capture kernel).
    pub threads: usize,
    /// Pages compressed together, split between the threads.
    pub batch_pages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            bitmap_window: 1 << 20,
            data_buffer: 4 << 20,
            desc_buffer: 8192,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
            batch_pages: 256,
        }
    }
}

/// Where everything goes, in bytes from the start of the file.
#[derive(Debug, Clone, Copy)]
struct Layout {
    block: u64,
    sub_hdr_blocks: u64,
    bitmap_blocks: u64,
    half_len: u64,
    bitmap1: u64,
    bitmap2: u64,
    descs: u64,
}

impl Layout {
    fn new(info: &DumpInfo) -> Result<Layout, Error> {
        let block = u64::from(info.page_size);
        let sub_hdr_blocks = format::sub_hdr_blocks(info.notes.len() as u64, info.page_size);
        let bitmap_blocks = format::bitmap_blocks(info.max_mapnr, info.page_size);
        if u32::try_from(bitmap_blocks).is_err() || u32::try_from(sub_hdr_blocks).is_err() {
            return Err(Error::Invalid(format!(
                "max_mapnr {} needs more bitmap blocks than the header can hold",
                info.max_mapnr
            )));
        }
        let half_len = bitmap_blocks / 2 * block;
        let bitmap1 = (1 + sub_hdr_blocks) * block;
        Ok(Layout {
            block,
            sub_hdr_blocks,
            bitmap_blocks,
            half_len,
            bitmap1,
            bitmap2: bitmap1 + half_len,
            descs: bitmap1 + 2 * half_len,
        })
    }
}

fn check(info: &DumpInfo, present: &[Range<u64>]) -> Result<(), Error> {
    let ps = info.page_size;
    if !ps.is_power_of_two() || !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&ps) {
        return Err(Error::Invalid(format!("page size {ps}")));
    }
    if info.max_mapnr == 0 {
        return Err(Error::Invalid("max_mapnr 0".into()));
    }
    if info.dump_level > 31 {
        return Err(Error::Invalid(format!("dump level {}", info.dump_level)));
    }
    if let Some(r) = &info.vmcoreinfo
        && (r.start > r.end || r.end > info.notes.len())
    {
        return Err(Error::Invalid(format!(
            "VMCOREINFO at {r:?} is outside the {} note bytes",
            info.notes.len()
        )));
    }
    if let Some(r) = present.iter().find(|r| r.end > info.max_mapnr) {
        return Err(Error::Invalid(format!(
            "present pfns {r:?} reach past max_mapnr {}",
            info.max_mapnr
        )));
    }
    Ok(())
}

pub(crate) fn io_err(context: &'static str) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Io { context, source }
}

/// Writes a whole dump to `out` (a new, empty, seekable file) and returns what it holds.
///
/// On an error part way the file keeps `DUMP_DH_COMPRESSED_INCOMPLETE` in its header, and every
/// descriptor written points at data already written.
pub fn write_dump<W: DumpOutput>(
    out: &mut W,
    info: &DumpInfo,
    present: &[Range<u64>],
    source: &mut dyn PageSource,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, Error> {
    write_dump_with(out, info, present, source, progress, Limits::default())
}

/// [`write_dump`] with explicit window and buffer sizes.
pub fn write_dump_with<W: DumpOutput>(
    out: &mut W,
    info: &DumpInfo,
    present: &[Range<u64>],
    source: &mut dyn PageSource,
    progress: &mut dyn FnMut(Progress),
    limits: Limits,
) -> Result<Summary, Error> {
    check(info, present)?;
    let layout = Layout::new(info)?;
    let mut present: Vec<Range<u64>> = present
        .iter()
        .filter(|r| r.start < r.end)
        .cloned()
        .collect();
    present.sort_by_key(|r| r.start);

    let status = info.compression.flag();
    write_header(out, info, &layout, status | STATUS_INCOMPLETE)?;
    write_sub_header(out, info, &layout)?;

    let mut summary = Summary::default();
    let dumpable = write_bitmaps(out, &layout, &present, source, limits, &mut summary)?;
    summary.dumped_pages = dumpable;
    summary.excluded_pages = summary.present_pages - dumpable;

    let data_start = layout.descs + dumpable * PAGE_DESC_LEN as u64;
    let mut pages = PageWriter::new(info, layout.descs, data_start, limits);
    pages.start(out)?;
    let mut next_report = 0;
    let window = limits.bitmap_window.max(1);
    let mut bits = PfnBits::new(0, 0);
    let page_size = info.page_size as usize;
    let mut run_buf = vec![0u8; RUN_PAGES as usize * page_size];
    let mut at = 0u64;
    while at < layout.half_len {
        let len = window.min((layout.half_len - at) as usize);
        bits.reset(at * 8, len);
        out.seek(SeekFrom::Start(layout.bitmap2 + at))
            .and_then(|_| out.read_exact(bits.bytes_mut()))
            .map_err(io_err("reading bitmap 2 back"))?;
        for run in runs(&bits, RUN_PAGES) {
            let count = (run.end - run.start) as usize;
            let buf = &mut run_buf[..count * page_size];
            source
                .read_pages(run.start, page_size, buf)
                .map_err(io_err("reading pages to dump"))?;
            for page in buf.chunks(page_size) {
                pages.add(out, page, &mut summary)?;
            }
            if pages.done() >= next_report {
                next_report = pages.done() + 4096;
                progress(Progress {
                    done: pages.done(),
                    total: dumpable,
                });
            }
        }
        at += len as u64;
    }
    pages.finish(out, &mut summary)?;
    progress(Progress {
        done: pages.done(),
        total: dumpable,
    });
    summary.file_size = pages.data_end();
    out.flush().map_err(io_err("flushing the dump"))?;
    // Durable before the header says complete: a power cut in between leaves "incomplete".
    out.sync_data().map_err(io_err("syncing the dump"))?;
    write_header(out, info, &layout, status)?;
    out.flush().map_err(io_err("flushing the dump"))?;
    Ok(summary)
}

/// Consecutive dumpable pfns read at once, at most.
const RUN_PAGES: u64 = 32;

/// The set pfns of `bits` as runs of consecutive pfns, none longer than `max`.
fn runs(bits: &PfnBits, max: u64) -> impl Iterator<Item = Range<u64>> + '_ {
    let mut ones = bits.iter_ones().peekable();
    std::iter::from_fn(move || {
        let start = ones.next()?;
        let mut end = start + 1;
        while end - start < max && ones.next_if_eq(&end).is_some() {
            end += 1;
        }
        Some(start..end)
    })
}

fn write_header<W: Write + Seek>(
    out: &mut W,
    info: &DumpInfo,
    layout: &Layout,
    status: u32,
) -> Result<(), Error> {
    let header = DiskDumpHeader {
        header_version: HEADER_VERSION,
        utsname: Utsname {
            sysname: "Linux".into(),
            // The host name stays on the machine (private by default).
            nodename: String::new(),
            // libkdumpfile (drgn) ignores a utsname with an empty release or version, and then
            // cannot tell the machine: an unknown one is written as such.
            release: or_unknown(&info.release),
            version: or_unknown(&info.version),
            machine: info.machine.uts_name().into(),
            domainname: String::new(),
        },
        timestamp_sec: info.crash_time,
        // Kept 0 so libkdumpfile never takes the file for a 32-bit one.
        timestamp_usec: 0,
        status,
        block_size: info.page_size,
        sub_hdr_size: layout.sub_hdr_blocks as u32,
        bitmap_blocks: layout.bitmap_blocks as u32,
        max_mapnr_32: u32::try_from(info.max_mapnr).unwrap_or(u32::MAX),
        nr_cpus: info.nr_cpus,
    };
    let mut block = vec![0u8; layout.block as usize];
    header.encode(&mut block);
    out.seek(SeekFrom::Start(0))
        .and_then(|_| out.write_all(&block))
        .map_err(io_err("writing the header"))
}

fn or_unknown(text: &str) -> String {
    if text.is_empty() {
        "unknown".into()
    } else {
        text.into()
    }
}

fn write_sub_header<W: Write + Seek>(
    out: &mut W,
    info: &DumpInfo,
    layout: &Layout,
) -> Result<(), Error> {
    let offset_note = layout.block + SUB_HEADER_LEN as u64;
    let (offset_vmcoreinfo, size_vmcoreinfo) = match &info.vmcoreinfo {
        Some(r) => (offset_note + r.start as u64, (r.end - r.start) as u64),
        None => (0, 0),
    };
    let sub = SubHeader {
        phys_base: info.phys_base,
        dump_level: i32::from(info.dump_level),
        split: 0,
        start_pfn: 0,
        end_pfn: info.max_mapnr,
        offset_vmcoreinfo,
        size_vmcoreinfo,
        offset_note,
        size_note: info.notes.len() as u64,
        offset_eraseinfo: 0,
        size_eraseinfo: 0,
        start_pfn_64: 0,
        end_pfn_64: info.max_mapnr,
        max_mapnr_64: info.max_mapnr,
    };
    let mut blocks = vec![0u8; (layout.sub_hdr_blocks * layout.block) as usize];
    blocks[..SUB_HEADER_LEN].copy_from_slice(&sub.encode());
    blocks[SUB_HEADER_LEN..SUB_HEADER_LEN + info.notes.len()].copy_from_slice(&info.notes);
    out.seek(SeekFrom::Start(layout.block))
        .and_then(|_| out.write_all(&blocks))
        .map_err(io_err("writing the sub-header and notes"))
}

/// Pass 1: both bitmaps, window by window; returns the number of pages to dump.
fn write_bitmaps<W: Write + Seek>(
    out: &mut W,
    layout: &Layout,
    present: &[Range<u64>],
    source: &mut dyn PageSource,
    limits: Limits,
    summary: &mut Summary,
) -> Result<u64, Error> {
    let window = limits.bitmap_window.max(1);
    let mut exists = PfnBits::new(0, 0);
    let mut dumpable = PfnBits::new(0, 0);
    let mut total = 0u64;
    let mut at = 0u64;
    while at < layout.half_len {
        let len = window.min((layout.half_len - at) as usize);
        exists.reset(at * 8, len);
        let pfns = exists.pfns();
        for r in present
            .iter()
            .filter(|r| r.start < pfns.end && r.end > pfns.start)
        {
            exists.set_range(r.clone(), true);
        }
        dumpable.clone_from(&exists);
        source
            .exclude(&mut dumpable)
            .map_err(io_err("deciding which pages to exclude"))?;
        // A source may only take pages away, never add absent ones.
        dumpable.and_with(&exists);
        summary.present_pages += exists.count_ones();
        total += dumpable.count_ones();
        out.seek(SeekFrom::Start(layout.bitmap1 + at))
            .and_then(|_| out.write_all(exists.as_bytes()))
            .and_then(|_| out.seek(SeekFrom::Start(layout.bitmap2 + at)))
            .and_then(|_| out.write_all(dumpable.as_bytes()))
            .map_err(io_err("writing the bitmaps"))?;
        at += len as u64;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_consecutive_and_bounded() {
        let mut bits = PfnBits::new(0, 16);
        bits.set_range(3..10, true);
        bits.set_range(11..80, true);
        bits.set(100, true);
        let got: Vec<Range<u64>> = runs(&bits, 32).collect();
        assert_eq!(got, [3..10, 11..43, 43..75, 75..80, 100..101]);
        assert_eq!(runs(&PfnBits::new(0, 4), 32).count(), 0);
    }
}
