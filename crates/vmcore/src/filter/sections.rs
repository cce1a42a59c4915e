//! Finding `struct page` of a pfn under SPARSEMEM: `mem_section[]` (through its roots with
//! SPARSEMEM_EXTREME) gives each section's encoded `section_mem_map`, which is the address of
//! the section's first `struct page` minus its first pfn, with flag bits in the low bits.

use super::layout::SectionLayout;
use crate::kernel::KernelMemory;
use crate::phys::PhysMemory;

/// `SECTION_HAS_MEM_MAP`: the section's `struct page`s exist.
const SECTION_HAS_MEM_MAP: u64 = 1 << 1;
/// Flag bits below the encoded address (up to `SECTION_MAP_LAST_BIT` = 6 on 6.x kernels).
const SECTION_FLAG_MASK: u64 = (1 << 6) - 1;

/// One section's encoded map, read once per root and kept.
pub struct Sections {
    layout: SectionLayout,
    /// log2 of pfns per section.
    pfn_bits: u32,
    /// Root index of `cached` and the raw section structs of that root.
    cached_root: Option<u64>,
    cached: Vec<u8>,
}

impl Sections {
    /// `None` when sections are not larger than pages (no real kernel has that).
    pub fn new(layout: SectionLayout, page_shift: u32) -> Option<Self> {
        let pfn_bits = layout.section_size_bits.checked_sub(page_shift)?;
        Some(Sections {
            layout,
            pfn_bits,
            cached_root: None,
            cached: Vec::new(),
        })
    }

    pub fn pfns_per_section(&self) -> u64 {
        1 << self.pfn_bits
    }

    pub fn section_of(&self, pfn: u64) -> u64 {
        pfn >> self.pfn_bits
    }

    /// The base such that `struct page` of a pfn in this section is at `base + pfn * SIZE(page)`,
    /// or `None` when the section has no memory map (or it cannot be read).
    pub fn map_base<M: PhysMemory>(
        &mut self,
        memory: &KernelMemory<M>,
        section: u64,
    ) -> Option<u64> {
        let l = &self.layout;
        let nr_sections = 1u64 << (l.max_physmem_bits - l.section_size_bits);
        if section >= nr_sections {
            return None;
        }
        let root = section / l.sections_per_root;
        if root >= l.roots {
            return None;
        }
        if self.cached_root != Some(root) {
            self.cached_root = Some(root);
            self.cached.clear();
            let len = (l.sections_per_root * l.section_size) as usize;
            let array = if l.extreme {
                match memory.read_u64(l.mem_section + root * 8) {
                    Ok(0) | Err(_) => None,
                    Ok(p) => Some(p),
                }
            } else {
                Some(l.mem_section + root * l.section_size)
            };
            if let Some(array) = array {
                let mut bytes = vec![0u8; len];
                if memory.read(array, &mut bytes).is_ok() {
                    self.cached = bytes;
                }
            }
        }
        let at = ((section % l.sections_per_root) * l.section_size + l.section_mem_map) as usize;
        let raw = self.cached.get(at..at + 8)?;
        let coded = u64::from_le_bytes(raw.try_into().ok()?);
        if coded & SECTION_HAS_MEM_MAP == 0 {
            return None;
        }
        let base = coded & !SECTION_FLAG_MASK;
        (base != 0).then_some(base)
    }
}
