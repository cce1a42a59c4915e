//! The verdict on one `struct page`, as makedumpfile decides it (in its order: free, cache
//! without private data, any cache, user data, then the always-excluded hardware-poisoned and
//! offline pages). Pure: the caller reads the page's struct and the one after it.

use super::layout::{BuddyMark, HugetlbMark, OrderField, PageLayout, SlabMark};

/// Dump level bits (makedumpfile's `-d`).
pub const DL_EXCLUDE_ZERO: u8 = 1;
pub const DL_EXCLUDE_CACHE: u8 = 2;
pub const DL_EXCLUDE_CACHE_PRI: u8 = 4;
pub const DL_EXCLUDE_USER_DATA: u8 = 8;
pub const DL_EXCLUDE_FREE: u8 = 16;

/// Why a page is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Page cache without private data (level bit 2).
    Cache,
    /// Page cache with private data (level bit 4).
    CachePrivate,
    /// Anonymous or hugetlbfs pages of user processes (level bit 8).
    User,
    /// In the buddy allocator, or not yet accepted (level bit 16).
    Free,
    /// Hardware-poisoned: always left out, reading it could fault again.
    Hwpoison,
    /// Logically offline (balloon, hot-unplug): always left out.
    Offline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Keep,
    /// A compound tail: decided with its head.
    Tail,
    /// Leave out this page and the `pages - 1` after it.
    Exclude {
        class: Class,
        pages: u64,
    },
}

fn u64_at(b: &[u8], at: u64) -> u64 {
    let Ok(at) = usize::try_from(at) else {
        return 0;
    };
    b.get(at..at.saturating_add(8))
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

fn u32_at(b: &[u8], at: u64) -> u32 {
    let Ok(at) = usize::try_from(at) else {
        return 0;
    };
    b.get(at..at.saturating_add(4))
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn has(flags: u64, bit: Option<u32>) -> bool {
    bit.is_some_and(|b| b < 64 && flags & (1 << b) != 0)
}

/// Decides on the page at `pfn`, whose `struct page` is `page`; `next` is the following one
/// (the first tail of a compound page), when it could be read.
pub fn classify(
    layout: &PageLayout,
    level: u8,
    pfn: u64,
    page: &[u8],
    next: Option<&[u8]>,
) -> Decision {
    if let Some(at) = layout.compound_head
        && u64_at(page, at) & 1 != 0
    {
        return Decision::Tail;
    }
    let flags = u64_at(page, layout.flags);
    let mapping = u64_at(page, layout.mapping);
    let mapcount = u32_at(page, layout.mapcount);
    let private = u64_at(page, layout.private);

    let head = layout.head_mask.is_some_and(|m| flags & m != 0);
    let (mut order, hugetlb) = match (head, next) {
        (true, Some(tail)) => {
            let order = match layout.order {
                OrderField::CompoundOrder(at) => usize::try_from(at)
                    .ok()
                    .and_then(|at| tail.get(at))
                    .copied()
                    .unwrap_or(0),
                OrderField::FlagsLowByte => u64_at(tail, layout.flags) as u8,
            };
            let hugetlb = match layout.hugetlb {
                HugetlbMark::HeadType(m) => m.matches(mapcount),
                HugetlbMark::TailFlag(b) => has(u64_at(tail, layout.flags), Some(b)),
                HugetlbMark::Destructor { offset, value } => {
                    usize::try_from(offset).ok().and_then(|at| tail.get(at)) == Some(&value)
                }
                HugetlbMark::None => false,
            };
            (u32::from(order), hugetlb)
        }
        _ => (0, false),
    };
    // An order the pfn is not aligned to cannot be a real compound page.
    if order >= 32 || pfn & ((1u64 << order) - 1) != 0 {
        order = 0;
    }
    let compound_pages = 1u64 << order;

    let slab = match layout.slab {
        SlabMark::Type(m) => m.matches(mapcount),
        SlabMark::Flag(b) => has(flags, Some(b)),
        SlabMark::None => false,
    };
    let anon = mapping & 1 != 0 && !slab;
    let cache = has(flags, layout.lru)
        || (has(flags, layout.swapcache) && layout.swapbacked.is_none_or(|b| has(flags, Some(b))));
    let buddy = match layout.buddy {
        BuddyMark::Type(m) => m.matches(mapcount) && !slab,
        BuddyMark::Flag(b) => has(flags, Some(b)),
        BuddyMark::None => false,
    };

    let exclude = |class, pages| Decision::Exclude { class, pages };
    // VMCOREINFO bounds it to 1..=20; a hand-made layout is held to the same.
    let max_order = layout.max_order.clamp(1, 20);
    if level & DL_EXCLUDE_FREE != 0 && buddy {
        // The block's order is in `private`; a nonsense order leaves out this page only.
        let pages = if private < u64::from(max_order) && pfn & ((1 << private) - 1) == 0 {
            1 << private
        } else {
            1
        };
        return exclude(Class::Free, pages);
    }
    if level & DL_EXCLUDE_FREE != 0 && layout.unaccepted.is_some_and(|m| m.matches(mapcount)) {
        let block = 1u64 << (max_order - 1);
        let pages = if pfn & (block - 1) == 0 { block } else { 1 };
        return exclude(Class::Free, pages);
    }
    if level & DL_EXCLUDE_CACHE != 0 && cache && !has(flags, layout.private_flag) && !anon {
        return exclude(Class::Cache, compound_pages);
    }
    if level & DL_EXCLUDE_CACHE_PRI != 0 && cache && !anon {
        return exclude(Class::CachePrivate, compound_pages);
    }
    if level & DL_EXCLUDE_USER_DATA != 0 && (anon || hugetlb) {
        return exclude(Class::User, compound_pages);
    }
    if has(flags, layout.hwpoison) {
        return exclude(Class::Hwpoison, compound_pages);
    }
    if !slab && layout.offline.is_some_and(|m| m.matches(mapcount)) {
        return exclude(Class::Offline, compound_pages);
    }
    Decision::Keep
}
