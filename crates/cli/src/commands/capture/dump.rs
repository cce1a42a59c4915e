//! The dump half of a capture: the crashed kernel's physical memory, minus the pages the dump
//! level leaves out, written in the kdump-compressed format through the kdumpfile writer.

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

use anyhow::{Result, anyhow};
use vmcore::{Machine, PhysMemory, Vmcore};

use crate::config_kdump::DumpCompression;

/// What a finished (or failed) dump holds.
pub struct DumpOutcome {
    pub pages: u64,
    pub bytes: u64,
    /// Why the dump stopped part way, when it did.
    pub error: Option<String>,
    /// What the filter could not decide (its pages were kept), one line each.
    pub warnings: Vec<String>,
}

/// Writes the dump of `core` to `path` at `level` with `compression`, calling `progress` with
/// pages done and total.
pub fn write(
    core: &Vmcore,
    path: &Path,
    level: u8,
    compression: DumpCompression,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DumpOutcome> {
    let info = dump_info(core, level, compression)?;
    let memory = core.memory();
    let present: Vec<_> = memory
        .present_ranges()
        .into_iter()
        .map(|r| r.start / info.page_size as u64..r.end.div_ceil(info.page_size as u64))
        .collect();
    let mut source = MemorySource {
        memory,
        page_size: u64::from(info.page_size),
        filter: filter_for(core, level)?,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| anyhow!("cannot create {}: {e}", path.display()))?;
    // The writer buffers pages and descriptors itself.
    let mut out = WriteBack::new(file);
    let written = kdumpfile::write_dump(&mut out, &info, &present, &mut source, &mut |p| {
        progress(p.done, p.total)
    });
    let flushed = out.file.sync_all();
    let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    let warnings = source
        .filter
        .as_ref()
        .map(filter_warnings)
        .unwrap_or_default();
    let (pages, error) = match (written, flushed) {
        (Ok(summary), Ok(())) => (summary.dumped_pages, None),
        (Err(e), _) => (0, Some(e.to_string())),
        (Ok(summary), Err(e)) => (
            summary.dumped_pages,
            Some(format!("cannot flush {}: {e}", path.display())),
        ),
    };
    Ok(DumpOutcome {
        pages,
        bytes,
        error,
        warnings,
    })
}

/// Where the filter had to keep pages because their `struct page`s were not in the vmcore.
fn filter_warnings(filter: &Filter<'_>) -> Vec<String> {
    let mut warnings = Vec::new();
    let sections = filter.unreadable_sections();
    if sections > 0 {
        warnings.push(format!(
            "{sections} memory sections have no readable memory map: their pages were kept"
        ));
    }
    let pieces = filter.unreadable_pieces();
    if pieces > 0 {
        warnings.push(format!(
            "{pieces} pages of struct pages are not in the vmcore: the pages they describe were kept"
        ));
    }
    warnings
}

fn dump_info(
    core: &Vmcore,
    level: u8,
    compression: DumpCompression,
) -> Result<kdumpfile::DumpInfo> {
    let info = core
        .vmcoreinfo()
        .ok_or_else(|| anyhow!("the vmcore has no VMCOREINFO, so no dump can be filtered"))?;
    let (release, version) = utsname(core).unwrap_or_else(|| {
        (
            info.osrelease().unwrap_or_default().to_string(),
            String::new(),
        )
    });
    let page_size = u32::try_from(core.page_size())
        .map_err(|_| anyhow!("page size {} is not one a dump can hold", core.page_size()))?;
    let max_mapnr = core
        .memory()
        .present_ranges()
        .iter()
        .map(|r| r.end.div_ceil(u64::from(page_size)))
        .max()
        .unwrap_or(0);
    let notes = core.note_bytes();
    Ok(kdumpfile::DumpInfo {
        machine: match core.machine() {
            Machine::X86_64 => kdumpfile::Machine::X86_64,
            Machine::Aarch64 => kdumpfile::Machine::Aarch64,
        },
        release,
        version,
        crash_time: info.crash_time().unwrap_or(0),
        // Negative when the kernel sits below its link address (6.12 in the lab's guests: -136
        // MiB); the sub-header holds it as the same 64 bits, as makedumpfile writes it.
        phys_base: info.number_bits("phys_base").unwrap_or(0),
        page_size,
        max_mapnr,
        vmcoreinfo: kdumpfile::notes::find_vmcoreinfo(&notes),
        nr_cpus: kdumpfile::notes::count_prstatus(&notes),
        notes,
        dump_level: level,
        compression: match compression {
            DumpCompression::Zstd => kdumpfile::Compression::Zstd,
            DumpCompression::Zlib => kdumpfile::Compression::Zlib,
            DumpCompression::Lzo => kdumpfile::Compression::Lzo,
            DumpCompression::None => kdumpfile::Compression::None,
        },
    })
}

/// `init_uts_ns.name`'s release and version, which crash checks against its vmlinux.
fn utsname(core: &Vmcore) -> Option<(String, String)> {
    let info = core.vmcoreinfo()?;
    let address = info.symbol("init_uts_ns")? + info.offset("uts_namespace.name").unwrap_or(0);
    let memory = core.kernel_memory().ok()?;
    // struct new_utsname: six fields of 65 bytes; release is the third, version the fourth.
    let mut fields = [0u8; 65 * 4];
    memory.read(address, &mut fields).ok()?;
    let field = |i: usize| {
        let bytes = fields.get(i * 65..(i + 1) * 65).unwrap_or_default();
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
    };
    let release = field(2);
    (!release.is_empty()).then(|| (release, field(3)))
}

/// Bytes written between two write-backs: little enough that an 80 MiB capture kernel never
/// holds much of the dump in its page cache, large enough that the disk sees long writes.
const WRITE_BACK_EVERY: u64 = 8 << 20;

/// The dump file, written back to disk and dropped from the page cache every
/// `WRITE_BACK_EVERY` bytes: the dump of a large machine goes through a kernel that has a few
/// tens of MiB, and cached pages of it ran the lab's 80M capture kernel out of memory.
struct WriteBack {
    file: std::fs::File,
    unsynced: u64,
}

impl WriteBack {
    fn new(file: std::fs::File) -> Self {
        Self { file, unsynced: 0 }
    }
}

impl io::Write for WriteBack {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file.write(buf)?;
        self.unsynced += written as u64;
        if self.unsynced >= WRITE_BACK_EVERY {
            self.unsynced = 0;
            sys::write_back_and_drop(&self.file).map_err(io::Error::other)?;
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl io::Read for WriteBack {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl kdumpfile::DumpOutput for WriteBack {
    fn sync_data(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

impl io::Seek for WriteBack {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        self.file.seek(to)
    }
}

struct MemorySource<'a> {
    memory: &'a dyn PhysMemory,
    page_size: u64,
    filter: Option<Filter<'a>>,
}

type Filter<'a> = vmcore::filter::PageFilter<&'a dyn PhysMemory>;

impl kdumpfile::PageSource for MemorySource<'_> {
    fn exclude(&mut self, dumpable: &mut kdumpfile::PfnBits) -> io::Result<()> {
        match &mut self.filter {
            Some(filter) => filter.exclude(dumpable).map_err(io::Error::other),
            None => Ok(()),
        }
    }

    /// One read for the whole run; where the run crosses the end of a memory range, page by
    /// page, so that an error names the page that is missing.
    fn read_pages(&mut self, first: u64, page_size: usize, pages: &mut [u8]) -> io::Result<()> {
        let whole = first
            .checked_mul(self.page_size)
            .is_some_and(|paddr| self.memory.read_phys(paddr, pages).is_ok());
        if whole {
            return Ok(());
        }
        for (pfn, page) in (first..).zip(pages.chunks_mut(page_size)) {
            self.read_page(pfn, page)?;
        }
        Ok(())
    }

    fn read_page(&mut self, pfn: u64, page: &mut [u8]) -> io::Result<()> {
        let paddr = pfn
            .checked_mul(self.page_size)
            .ok_or_else(|| io::Error::other(format!("pfn {pfn:#x} is out of range")))?;
        self.memory.read_phys(paddr, page).map_err(io::Error::other)
    }
}

/// The struct-page filter for the levels that need one (cache, user and free pages); zero pages
/// (bit 1) are found by content in the writer.
fn filter_for(core: &Vmcore, level: u8) -> Result<Option<Filter<'_>>> {
    if level & !1 == 0 {
        return Ok(None);
    }
    vmcore::filter::PageFilter::for_vmcore(core, level)
        .map(Some)
        .map_err(|e| anyhow!("cannot filter pages at dump level {level}: {e}"))
}
