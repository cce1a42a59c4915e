//! Reads of the crashed kernel's virtual memory: translation plus physical reads, with a small
//! page cache and translation cache so walking the log costs a few reads per page, not per field.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::phys::PhysMemory;
use crate::translate::{Paging, ReadPhysU64};
use crate::{Error, Result};

/// Pages kept in memory: enough for the page tables and the current stretch of the log.
const CACHED_PAGES: usize = 64;
/// Translations kept before the cache starts over.
const CACHED_TRANSLATIONS: usize = 4096;
/// Virtual addresses are translated 4 KiB at a time, the smallest page of either machine: a
/// dump's own unit (a kdump file's block size, 64 KiB from QEMU for arm64) says nothing about
/// how the kernel mapped its memory.
const TRANSLATION_GRANULE: u64 = 4096;

pub struct KernelMemory<M> {
    phys: M,
    paging: Paging,
    /// The dump's unit of storage (and of the page cache), 4 to 64 KiB.
    cache_page: u64,
    pages: RefCell<PageCache>,
    translations: RefCell<HashMap<u64, u64>>,
}

#[derive(Default)]
struct PageCache {
    slots: Vec<(u64, Vec<u8>)>,
    /// The slot of the last hit: walks read one page many times in a row.
    last: usize,
    next_victim: usize,
    hits: u64,
    misses: u64,
}

/// How much reading cost, for benchmarks and tests of boundedness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub cache_hits: u64,
    pub pages_read: u64,
}

impl<M: PhysMemory> KernelMemory<M> {
    pub fn new(phys: M, paging: Paging) -> Self {
        let cache_page = Some(phys.page_size())
            .filter(|s| s.is_power_of_two())
            .map_or(4096, |s| s.clamp(4096, 1 << 16));
        KernelMemory {
            phys,
            paging,
            cache_page,
            pages: RefCell::default(),
            translations: RefCell::default(),
        }
    }

    pub fn phys(&self) -> &M {
        &self.phys
    }

    pub fn paging(&self) -> &Paging {
        &self.paging
    }

    pub fn stats(&self) -> ReadStats {
        let pages = self.pages.borrow();
        ReadStats {
            cache_hits: pages.hits,
            pages_read: pages.misses,
        }
    }

    /// The physical address of `vaddr`.
    pub fn translate(&self, vaddr: u64) -> Result<u64> {
        let offset_mask = TRANSLATION_GRANULE - 1;
        if self.paging.is_direct(vaddr) {
            return self.paging.translate(&PhysReader(self), vaddr);
        }
        let page = vaddr & !offset_mask;
        if let Some(&frame) = self.translations.borrow().get(&page) {
            return Ok(frame | (vaddr & offset_mask));
        }
        let frame = self.paging.translate(&PhysReader(self), page)?;
        let mut cache = self.translations.borrow_mut();
        if cache.len() >= CACHED_TRANSLATIONS {
            cache.clear();
        }
        cache.insert(page, frame);
        Ok(frame | (vaddr & offset_mask))
    }

    /// Fills `buf` from kernel virtual address `vaddr`, 4 KiB piece by piece.
    pub fn read(&self, vaddr: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let va = vaddr
                .checked_add(done as u64)
                .ok_or_else(|| Error::Unmapped {
                    vaddr,
                    why: "range wraps around the address space".into(),
                })?;
            let in_page = TRANSLATION_GRANULE - (va & (TRANSLATION_GRANULE - 1));
            let len = usize::try_from(in_page)
                .unwrap_or(usize::MAX)
                .min(buf.len() - done);
            let pa = self.translate(va)?;
            let Some(chunk) = buf.get_mut(done..done + len) else {
                break;
            };
            self.read_phys_cached(pa, chunk)?;
            done += len;
        }
        Ok(())
    }

    pub fn read_u64(&self, vaddr: u64) -> Result<u64> {
        let mut b = [0; 8];
        self.read(vaddr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    pub fn read_u32(&self, vaddr: u64) -> Result<u32> {
        let mut b = [0; 4];
        self.read(vaddr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    pub fn read_u16(&self, vaddr: u64) -> Result<u16> {
        let mut b = [0; 2];
        self.read(vaddr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// Reads within one physical page through the cache; a page the dump has only in part
    /// is read directly instead.
    fn read_phys_cached(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        let frame = paddr & !(self.cache_page - 1);
        let offset = (paddr - frame) as usize;
        let mut cache = self.pages.borrow_mut();
        let last = cache.last;
        let found = match cache.slots.get(last) {
            Some((f, _)) if *f == frame => Some(last),
            _ => cache.slots.iter().position(|(f, _)| *f == frame),
        };
        let slot = match found {
            Some(slot) => {
                cache.hits += 1;
                cache.last = slot;
                slot
            }
            None => {
                let mut page = vec![0; self.cache_page as usize];
                if self.phys.read_phys(frame, &mut page).is_err() {
                    drop(cache);
                    return self.phys.read_phys(paddr, buf);
                }
                cache.misses += 1;
                if cache.slots.len() < CACHED_PAGES {
                    cache.slots.push((frame, page));
                    cache.slots.len() - 1
                } else {
                    let victim = cache.next_victim;
                    cache.next_victim = (victim + 1) % CACHED_PAGES;
                    if let Some(entry) = cache.slots.get_mut(victim) {
                        *entry = (frame, page);
                    }
                    victim
                }
            }
        };
        let source = cache
            .slots
            .get(slot)
            .and_then(|(_, page)| page.get(offset..offset.checked_add(buf.len())?))
            .ok_or(Error::NotInDump(paddr))?;
        buf.copy_from_slice(source);
        Ok(())
    }
}

struct PhysReader<'a, M>(&'a KernelMemory<M>);

impl<M: PhysMemory> ReadPhysU64 for PhysReader<'_, M> {
    fn read_phys_u64(&self, paddr: u64) -> Result<u64> {
        let mut b = [0; 8];
        if paddr & (self.0.cache_page - 1) <= self.0.cache_page - 8 {
            self.0.read_phys_cached(paddr, &mut b)?;
        } else {
            self.0.phys.read_phys(paddr, &mut b)?;
        }
        Ok(u64::from_le_bytes(b))
    }
}
