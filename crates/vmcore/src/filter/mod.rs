//! The dump-level page filter: which pages of the crashed machine a dump leaves out, decided
//! from each page's `struct page` as makedumpfile does (`-d 0..31`). `mem_map` is found through
//! VMCOREINFO's `mem_section` (SPARSEMEM) and read a chunk at a time, so memory stays bounded
//! whatever the machine's size. Zero pages (level bit 1) are not decided here: the writer finds
//! them by content.

mod classify;
mod layout;
mod read;
mod sections;

use kdumpfile::PfnBits;

pub use classify::{
    Class, DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_FREE, DL_EXCLUDE_USER_DATA,
    DL_EXCLUDE_ZERO, Decision, classify,
};
pub use layout::{
    BuddyMark, HugetlbMark, OrderField, PageLayout, SectionLayout, SlabMark, TypeMark,
};

use crate::kernel::KernelMemory;
use crate::phys::PhysMemory;
use crate::vmcore::Vmcore;
use crate::{Error, Result};
use sections::Sections;

/// `struct page`s read at once: 4096 of them are 256 KiB on x86_64.
const CHUNK_PAGES: u64 = 4096;

/// Pages left out, by class (each pfn counted once, only if it exists in the dump).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Excluded {
    pub cache: u64,
    pub cache_private: u64,
    pub user: u64,
    pub free: u64,
    pub hwpoison: u64,
    pub offline: u64,
}

impl Excluded {
    pub fn total(&self) -> u64 {
        self.cache + self.cache_private + self.user + self.free + self.hwpoison + self.offline
    }

    fn add(&mut self, class: Class, pages: u64) {
        let counter = match class {
            Class::Cache => &mut self.cache,
            Class::CachePrivate => &mut self.cache_private,
            Class::User => &mut self.user,
            Class::Free => &mut self.free,
            Class::Hwpoison => &mut self.hwpoison,
            Class::Offline => &mut self.offline,
        };
        *counter += pages;
    }
}

/// Decides, window by window in increasing pfn order, which pages a dump at `level` leaves out.
pub struct PageFilter<M> {
    memory: KernelMemory<M>,
    layout: PageLayout,
    sections: Sections,
    level: u8,
    excluded: Excluded,
    /// A buddy block or compound page that began in an earlier window and reaches into later
    /// ones: its end (exclusive) and class.
    carry: Option<(u64, Class)>,
    structs: Vec<u8>,
    /// Sections without a memory map, and pieces of one the dump lacks: their pages are kept.
    unreadable_sections: u64,
    unreadable_pieces: u64,
}

impl<'a> PageFilter<&'a dyn PhysMemory> {
    /// The filter for `core` at dump level `level` (0..=31).
    pub fn for_vmcore(core: &'a Vmcore, level: u8) -> Result<Self> {
        let info = core.vmcoreinfo().ok_or_else(|| {
            Error::MissingInfo("note at all: the page filter needs VMCOREINFO".into())
        })?;
        let layout = PageLayout::from_vmcoreinfo(info)?;
        let sections = SectionLayout::from_vmcoreinfo(info, core.page_size())?;
        PageFilter::new(core.kernel_memory()?, layout, sections, level)
    }
}

impl<M: PhysMemory> PageFilter<M> {
    pub fn new(
        memory: KernelMemory<M>,
        layout: PageLayout,
        sections: SectionLayout,
        level: u8,
    ) -> Result<Self> {
        if level > 31 {
            return Err(Error::malformed(format!("dump level {level} is not 0-31")));
        }
        if !(32..=256).contains(&layout.size) {
            return Err(Error::malformed(format!(
                "struct page of {} bytes is not plausible",
                layout.size
            )));
        }
        let page_size = memory.phys().page_size();
        if !page_size.is_power_of_two() {
            return Err(Error::malformed(format!("page size {page_size}")));
        }
        let sections = Sections::new(sections, page_size.trailing_zeros()).ok_or_else(|| {
            Error::malformed("SECTION_SIZE_BITS is not larger than the page size")
        })?;
        Ok(PageFilter {
            memory,
            layout,
            sections,
            level,
            excluded: Excluded::default(),
            carry: None,
            structs: Vec::new(),
            unreadable_sections: 0,
            unreadable_pieces: 0,
        })
    }

    /// What has been left out so far.
    pub fn excluded(&self) -> Excluded {
        self.excluded
    }

    /// Sections without a memory map (their pages were kept).
    pub fn unreadable_sections(&self) -> u64 {
        self.unreadable_sections
    }

    /// Pages of `struct page`s the dump lacks (the pages they describe were kept).
    pub fn unreadable_pieces(&self) -> u64 {
        self.unreadable_pieces
    }

    /// The raw `struct page` of `pfn`, for explaining a decision.
    pub fn struct_page(&mut self, pfn: u64) -> Option<Vec<u8>> {
        let base = self
            .sections
            .map_base(&self.memory, self.sections.section_of(pfn))?;
        let mut raw = vec![0u8; self.layout.size as usize];
        let at = base.wrapping_add(pfn.wrapping_mul(self.layout.size));
        self.memory.read(at, &mut raw).ok()?;
        Some(raw)
    }

    pub fn layout(&self) -> &PageLayout {
        &self.layout
    }

    pub fn level(&self) -> u8 {
        self.level
    }

    /// Clears in `dumpable` the pages to leave out. Windows must come in increasing pfn order.
    pub fn exclude(&mut self, dumpable: &mut PfnBits) -> Result<()> {
        let window = dumpable.pfns();
        let mut pfn = window.start;
        if let Some((end, class)) = self.carry.take() {
            let stop = end.min(window.end);
            self.clear(dumpable, pfn..stop, class);
            if end > window.end {
                self.carry = Some((end, class));
                return Ok(());
            }
            pfn = stop;
        }
        while let Some(start) = next_set(dumpable, pfn) {
            let section = self.sections.section_of(start);
            let section_end = (section + 1).saturating_mul(self.sections.pfns_per_section());
            let chunk_end = section_end.min(window.end).min(start + CHUNK_PAGES);
            let Some(base) = self.sections.map_base(&self.memory, section) else {
                self.unreadable_sections += 1;
                pfn = section_end.min(window.end);
                continue;
            };
            pfn = self.chunk(dumpable, base, start..chunk_end, window.end)?;
        }
        Ok(())
    }

    /// Decides the pages of `pfns` (all in one section); returns where to go on from.
    fn chunk(
        &mut self,
        dumpable: &mut PfnBits,
        base: u64,
        pfns: std::ops::Range<u64>,
        window_end: u64,
    ) -> Result<u64> {
        let size = self.layout.size;
        let count = pfns.end - pfns.start;
        let at = base.wrapping_add(pfns.start.wrapping_mul(size));
        // One struct more than the chunk: a head's first tail holds its order.
        self.structs.resize(((count + 1) * size) as usize, 0);
        if read::read_virtual(&self.memory, at, &mut self.structs).is_err() {
            self.structs.truncate((count * size) as usize);
            if read::read_virtual(&self.memory, at, &mut self.structs).is_err() {
                return self.chunk_in_pieces(dumpable, base, pfns, window_end);
            }
        }
        self.decide(dumpable, pfns, window_end)
    }

    /// Decides the pages of `pfns`, whose `struct page`s are in `self.structs` (plus, maybe,
    /// the one after them); returns where to go on from.
    fn decide(
        &mut self,
        dumpable: &mut PfnBits,
        pfns: std::ops::Range<u64>,
        window_end: u64,
    ) -> Result<u64> {
        let size = self.layout.size as usize;
        let mut pfn = pfns.start;
        while pfn < pfns.end {
            if !dumpable.get(pfn) {
                pfn += 1;
                continue;
            }
            let i = (pfn - pfns.start) as usize * size;
            let Some(page) = self.structs.get(i..i + size) else {
                break;
            };
            let next = self.structs.get(i + size..i + 2 * size);
            match classify(&self.layout, self.level, pfn, page, next) {
                Decision::Keep | Decision::Tail => pfn += 1,
                Decision::Exclude { class, pages } => {
                    let end = pfn.saturating_add(pages);
                    self.clear(dumpable, pfn..end.min(window_end), class);
                    if end > window_end {
                        self.carry = Some((end, class));
                        return Ok(window_end);
                    }
                    pfn = end;
                }
            }
        }
        Ok(pfn)
    }

    /// A chunk whose memory map the dump has only in part: decided one page of `struct
    /// page`s at a time, keeping the pages whose structs cannot be read rather than guessing.
    fn chunk_in_pieces(
        &mut self,
        dumpable: &mut PfnBits,
        base: u64,
        pfns: std::ops::Range<u64>,
        window_end: u64,
    ) -> Result<u64> {
        let per_piece = (self.memory.phys().page_size() / self.layout.size).max(1);
        let mut pfn = pfns.start;
        while pfn < pfns.end {
            let piece_end = ((pfn / per_piece + 1) * per_piece).min(pfns.end);
            let at = base.wrapping_add(pfn.wrapping_mul(self.layout.size));
            self.structs
                .resize(((piece_end - pfn) * self.layout.size) as usize, 0);
            if read::read_virtual(&self.memory, at, &mut self.structs).is_err() {
                self.unreadable_pieces += 1;
                pfn = piece_end;
                continue;
            }
            pfn = self
                .decide(dumpable, pfn..piece_end, window_end)?
                .max(piece_end);
            if self.carry.is_some() {
                return Ok(window_end);
            }
        }
        Ok(pfn)
    }

    fn clear(&mut self, dumpable: &mut PfnBits, pfns: std::ops::Range<u64>, class: Class) {
        let mut cleared = 0;
        for p in pfns {
            if dumpable.get(p) {
                dumpable.set(p, false);
                cleared += 1;
            }
        }
        self.excluded.add(class, cleared);
    }
}

/// The first set pfn at or after `from`, skipping clear bytes whole.
fn next_set(bits: &PfnBits, from: u64) -> Option<u64> {
    let window = bits.pfns();
    let mut pfn = from.max(window.start);
    let bytes = bits.as_bytes();
    while pfn < window.end {
        let rel = pfn - window.start;
        let byte = bytes.get((rel / 8) as usize).copied().unwrap_or(0);
        if byte >> (rel % 8) == 0 {
            pfn = (pfn | 7) + 1;
            continue;
        }
        if bits.get(pfn) {
            return Some(pfn);
        }
        pfn += 1;
    }
    None
}
