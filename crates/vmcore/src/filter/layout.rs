//! What the filter needs to know about `struct page` and `mem_section`, all from VMCOREINFO:
//! field offsets, flag bit numbers and the `_mapcount` / `page_type` values that mark buddy,
//! slab, offline and hugetlb pages. Which of them a kernel exports tells its generation.

use crate::vmcoreinfo::VmcoreInfo;
use crate::{Error, Result};

/// How a `_mapcount` value marks a page type: an exact value up to 6.11 (`-129` for buddy),
/// the top byte on kernels with `page_type` (`PGTY_buddy << 24`), whose low bytes carry data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeMark(u32);

impl TypeMark {
    /// The mark a VMCOREINFO `NUMBER(PAGE_*_MAPCOUNT_VALUE)` stands for.
    pub fn from_number(value: i64) -> TypeMark {
        TypeMark(value as u32)
    }

    pub fn matches(self, mapcount: u32) -> bool {
        if self.0 & 0x00ff_ffff == 0 {
            mapcount >> 24 == self.0 >> 24
        } else {
            mapcount == self.0
        }
    }
}

/// How a compound page's order is found in the first tail page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderField {
    /// `page.compound_order`, one byte at this offset (4.16 – 6.5).
    CompoundOrder(u64),
    /// The low byte of the tail's `flags` (folio `_flags_1`, 6.6 on).
    FlagsLowByte,
}

/// How hugetlb pages are recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HugetlbMark {
    /// `_mapcount`/`page_type` of the head (6.9 on).
    HeadType(TypeMark),
    /// A flag bit in the first tail page's flags (6.6 – 6.8).
    TailFlag(u32),
    /// `page.compound_dtor` in the first tail page equals the value (before 6.6).
    Destructor {
        offset: u64,
        value: u8,
    },
    None,
}

/// How slab pages are recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlabMark {
    Type(TypeMark),
    Flag(u32),
    None,
}

/// How free (buddy) pages are recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuddyMark {
    /// `_mapcount` / `page_type`; the order is in `page.private`.
    Type(TypeMark),
    /// `PG_buddy` flag (before 2.6.38).
    Flag(u32),
    None,
}

/// `struct page` as VMCOREINFO describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLayout {
    pub size: u64,
    pub flags: u64,
    pub mapping: u64,
    pub mapcount: u64,
    pub private: u64,
    pub compound_head: Option<u64>,
    pub order: OrderField,
    pub head_mask: Option<u64>,
    pub lru: Option<u32>,
    pub private_flag: Option<u32>,
    pub swapcache: Option<u32>,
    pub swapbacked: Option<u32>,
    pub hwpoison: Option<u32>,
    pub slab: SlabMark,
    pub buddy: BuddyMark,
    pub offline: Option<TypeMark>,
    pub unaccepted: Option<TypeMark>,
    pub hugetlb: HugetlbMark,
    /// The largest buddy order + 1 (`LENGTH(zone.free_area)`), bounding `page.private`.
    pub max_order: u32,
}

/// `mem_section` (SPARSEMEM) as VMCOREINFO describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionLayout {
    /// Value of the `mem_section` symbol: the root array (EXTREME) or the 2-D array itself.
    pub mem_section: u64,
    pub roots: u64,
    pub section_size: u64,
    pub section_mem_map: u64,
    pub section_size_bits: u32,
    pub max_physmem_bits: u32,
    /// SPARSEMEM_EXTREME: `mem_section` holds pointers to arrays of sections.
    pub extreme: bool,
    pub sections_per_root: u64,
}

fn bit(info: &VmcoreInfo, name: &str) -> Option<u32> {
    info.number(name)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n < 64)
}

fn need<T>(value: Option<T>, what: &str) -> Result<T> {
    value.ok_or_else(|| Error::MissingInfo(what.into()))
}

impl PageLayout {
    pub fn from_vmcoreinfo(info: &VmcoreInfo) -> Result<PageLayout> {
        let size = need(info.size("page"), "SIZE(page)")?;
        if !(32..=256).contains(&size) {
            return Err(Error::malformed(format!(
                "SIZE(page) {size} is not plausible"
            )));
        }
        let field = |name: &str| -> Result<u64> {
            let at = need(info.offset(name), &format!("OFFSET({name})"))?;
            if at + 8 > size {
                return Err(Error::malformed(format!(
                    "OFFSET({name}) {at} lies outside the {size}-byte struct page"
                )));
            }
            Ok(at)
        };
        let mark = |name: &str| info.number(name).map(TypeMark::from_number);
        let order = match info.offset("page.compound_order") {
            Some(at) if at < size => OrderField::CompoundOrder(at),
            _ => OrderField::FlagsLowByte,
        };
        let hugetlb = if let Some(m) = mark("PAGE_HUGETLB_MAPCOUNT_VALUE") {
            HugetlbMark::HeadType(m)
        } else if let Some(b) = bit(info, "PG_hugetlb") {
            HugetlbMark::TailFlag(b)
        } else if let (Some(offset), Some(value)) = (
            info.offset("page.compound_dtor").filter(|&o| o < size),
            info.number("HUGETLB_PAGE_DTOR")
                .and_then(|v| u8::try_from(v).ok()),
        ) {
            HugetlbMark::Destructor { offset, value }
        } else {
            HugetlbMark::None
        };
        let slab = match (mark("PAGE_SLAB_MAPCOUNT_VALUE"), bit(info, "PG_slab")) {
            (Some(m), _) => SlabMark::Type(m),
            (None, Some(b)) => SlabMark::Flag(b),
            (None, None) => SlabMark::None,
        };
        let buddy = match (mark("PAGE_BUDDY_MAPCOUNT_VALUE"), bit(info, "PG_buddy")) {
            (Some(m), _) => BuddyMark::Type(m),
            (None, Some(b)) => BuddyMark::Flag(b),
            (None, None) => BuddyMark::None,
        };
        Ok(PageLayout {
            size,
            flags: field("page.flags")?,
            mapping: field("page.mapping")?,
            mapcount: field("page._mapcount")?,
            private: field("page.private")?,
            compound_head: info.offset("page.compound_head").filter(|&o| o + 8 <= size),
            order,
            head_mask: info.number_bits("PG_head_mask").filter(|&m| m != 0),
            lru: bit(info, "PG_lru"),
            private_flag: bit(info, "PG_private"),
            swapcache: bit(info, "PG_swapcache"),
            swapbacked: bit(info, "PG_swapbacked"),
            hwpoison: bit(info, "PG_hwpoison"),
            slab,
            buddy,
            offline: mark("PAGE_OFFLINE_MAPCOUNT_VALUE"),
            unaccepted: mark("PAGE_UNACCEPTED_MAPCOUNT_VALUE"),
            hugetlb,
            max_order: info
                .length("zone.free_area")
                .and_then(|n| u32::try_from(n).ok())
                .filter(|&n| (1..=20).contains(&n))
                .unwrap_or(11),
        })
    }
}

impl SectionLayout {
    pub fn from_vmcoreinfo(info: &VmcoreInfo, page_size: u64) -> Result<SectionLayout> {
        let mem_section = need(
            info.symbol("mem_section"),
            "SYMBOL(mem_section) (SPARSEMEM)",
        )?;
        let roots = need(info.length("mem_section"), "LENGTH(mem_section)")?;
        let section_size = need(info.size("mem_section"), "SIZE(mem_section)")?;
        let section_mem_map = need(
            info.offset("mem_section.section_mem_map"),
            "OFFSET(mem_section.section_mem_map)",
        )?;
        let section_size_bits = need(bit(info, "SECTION_SIZE_BITS"), "NUMBER(SECTION_SIZE_BITS)")?;
        let max_physmem_bits = need(bit(info, "MAX_PHYSMEM_BITS"), "NUMBER(MAX_PHYSMEM_BITS)")?;
        if section_size == 0
            || section_size > page_size
            || section_mem_map + 8 > section_size
            || max_physmem_bits <= section_size_bits
            || roots == 0
            || roots > 1 << 24
        {
            return Err(Error::malformed(format!(
                "mem_section layout is not plausible: {roots} roots of {section_size}-byte \
                 sections, section_mem_map at {section_mem_map}, SECTION_SIZE_BITS \
                 {section_size_bits}, MAX_PHYSMEM_BITS {max_physmem_bits}"
            )));
        }
        let nr_sections = 1u64 << (max_physmem_bits - section_size_bits);
        // With SPARSEMEM_EXTREME each root points to a page of sections; without it the array
        // is flat and has one section per "root".
        let per_page = page_size / section_size;
        let extreme = roots != nr_sections && roots.saturating_mul(per_page) >= nr_sections;
        Ok(SectionLayout {
            mem_section,
            roots,
            section_size,
            section_mem_map,
            section_size_bits,
            max_physmem_bits,
            extreme,
            sections_per_root: if extreme { per_page } else { 1 },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_marks_exact_and_page_type() {
        let old = TypeMark::from_number(-129);
        assert!(old.matches(0xffff_ff7f));
        assert!(!old.matches(0xffff_ff7e));
        let new = TypeMark::from_number(0xf400_0000_u32 as i32 as i64);
        assert!(new.matches(0xf400_0000));
        assert!(
            new.matches(0xf400_0003),
            "low bytes hold data on page_type kernels"
        );
        assert!(!new.matches(0xf500_0000));
        assert!(!new.matches(0xffff_ffff), "an unmapped page's -1");
    }
}
