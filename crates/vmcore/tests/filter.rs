//! The page filter on a synthetic kernel whose `mem_map` holds one page of every kind, in the
//! struct layouts of Debian's 6.1 and 6.12 kernels: each dump level leaves out exactly the
//! classes makedumpfile would, whole buddy blocks and compound pages included, whatever the
//! window size.

use std::collections::BTreeSet;
use std::path::PathBuf;

use kdumpfile::PfnBits;
use vmcore::Vmcore;
use vmcore::filter::{Excluded, PageFilter};
use vmcore::synthetic_kernel::{RAM_BASE, RAM_SIZE, SyntheticKernel, direct_va};

const FIRST_PFN: u64 = RAM_BASE >> 12;
const PFNS: u64 = RAM_SIZE >> 12;

#[derive(Clone, Copy, PartialEq)]
enum Kernel {
    V6_1,
    /// 6.6 - 6.8: folio order in the first tail's flags, hugetlb as a flag there, slab a flag.
    V6_7,
    V6_12,
}

/// Offsets shared by both layouts (x86_64 `struct page`, 64 bytes).
const FLAGS: u64 = 0;
const COMPOUND_HEAD: u64 = 8;
const COMPOUND_DTOR: u64 = 16;
const COMPOUND_ORDER: u64 = 17;
const MAPPING: u64 = 24;
const PRIVATE: u64 = 40;
const MAPCOUNT: u64 = 48;

struct Bits {
    lru: u64,
    private: u64,
    head: u64,
    hwpoison: u64,
    slab: Option<u64>,
    buddy: u32,
    offline: u32,
    slab_type: Option<u32>,
    hugetlb_type: Option<u32>,
}

fn bits(kernel: Kernel) -> Bits {
    match kernel {
        Kernel::V6_1 | Kernel::V6_7 => Bits {
            lru: 1 << 4,
            private: 1 << 13,
            head: 1 << 16,
            hwpoison: 1 << 23,
            slab: Some(1 << 9),
            buddy: -129i32 as u32,
            offline: -257i32 as u32,
            slab_type: None,
            hugetlb_type: None,
        },
        Kernel::V6_12 => Bits {
            lru: 1 << 5,
            private: 1 << 14,
            head: 1 << 6,
            hwpoison: 1 << 20,
            slab: None,
            buddy: 0xf000_0000,
            offline: 0xf100_0000,
            slab_type: Some(0xf500_0000),
            hugetlb_type: Some(0xf400_0000),
        },
    }
}

struct Machine {
    kernel: SyntheticKernel,
    map: u64,
    version: Kernel,
}

impl Machine {
    fn new(version: Kernel) -> Machine {
        let mut kernel = SyntheticKernel::new();
        let map = kernel.alloc(PFNS * 64 + 64);
        let roots = kernel.alloc(4096 * 8);
        let sections = kernel.alloc(4096);
        kernel.poke_phys_u64(roots, direct_va(sections));
        // Section 0 holds every pfn here: its map base is where pfn 0's struct would be.
        let base = direct_va(map) - FIRST_PFN * 64;
        kernel.poke_phys_u64(sections, base | 0b11);
        let mut info = vec![
            format!("SYMBOL(mem_section)={:x}", direct_va(roots)),
            "LENGTH(mem_section)=4096".into(),
            "SIZE(mem_section)=16".into(),
            "OFFSET(mem_section.section_mem_map)=0".into(),
            "NUMBER(SECTION_SIZE_BITS)=27".into(),
            "NUMBER(MAX_PHYSMEM_BITS)=46".into(),
            "SIZE(page)=64".into(),
            "OFFSET(page.flags)=0".into(),
            "OFFSET(page._refcount)=52".into(),
            "OFFSET(page.mapping)=24".into(),
            "OFFSET(page.lru)=8".into(),
            "OFFSET(page._mapcount)=48".into(),
            "OFFSET(page.private)=40".into(),
            "OFFSET(page.compound_head)=8".into(),
            "LENGTH(zone.free_area)=11".into(),
            "NUMBER(PG_swapcache)=10".into(),
        ];
        info.extend(match version {
            Kernel::V6_1 => [
                "OFFSET(page.compound_dtor)=16",
                "OFFSET(page.compound_order)=17",
                "NUMBER(PG_lru)=4",
                "NUMBER(PG_private)=13",
                "NUMBER(PG_swapbacked)=19",
                "NUMBER(PG_slab)=9",
                "NUMBER(PG_hwpoison)=23",
                "NUMBER(PG_head_mask)=65536",
                "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129",
                "NUMBER(HUGETLB_PAGE_DTOR)=2",
                "NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)=-257",
            ]
            .map(String::from)
            .to_vec(),
            Kernel::V6_7 => [
                "NUMBER(PG_lru)=4",
                "NUMBER(PG_private)=13",
                "NUMBER(PG_swapbacked)=19",
                "NUMBER(PG_slab)=9",
                "NUMBER(PG_hwpoison)=23",
                "NUMBER(PG_head_mask)=65536",
                "NUMBER(PG_hugetlb)=24",
                "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129",
                "NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)=-257",
            ]
            .map(String::from)
            .to_vec(),
            Kernel::V6_12 => [
                "NUMBER(PG_lru)=5",
                "NUMBER(PG_private)=14",
                "NUMBER(PG_swapbacked)=17",
                "NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)=-184549376",
                "NUMBER(PG_hwpoison)=20",
                "NUMBER(PG_head_mask)=64",
                "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-268435456",
                "NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)=-201326592",
                "NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)=-251658240",
            ]
            .map(String::from)
            .to_vec(),
        });
        kernel.vmcoreinfo.extend(info);
        let mut m = Machine {
            kernel,
            map,
            version,
        };
        // Every page starts as an ordinary kernel page: no flags, not mapped (_mapcount -1).
        for pfn in FIRST_PFN..FIRST_PFN + PFNS {
            m.put(pfn, MAPCOUNT, u64::from(u32::MAX));
        }
        m
    }

    fn put(&mut self, pfn: u64, field: u64, value: u64) {
        let at = self.map + (pfn - FIRST_PFN) * 64 + field;
        if field == MAPCOUNT {
            self.kernel.poke_phys(at, &(value as u32).to_le_bytes());
        } else {
            self.kernel.poke_phys_u64(at, value);
        }
    }

    fn compound(&mut self, head: u64, order: u32, head_flags: u64) {
        let b = bits(self.version);
        self.put(head, FLAGS, head_flags | b.head);
        for tail in head + 1..head + (1 << order) {
            let head_va = 0xffff_ea00_0000_0000 + head * 64;
            self.put(tail, COMPOUND_HEAD, head_va | 1);
        }
        match self.version {
            Kernel::V6_1 => {
                let at = self.map + (head + 1 - FIRST_PFN) * 64 + COMPOUND_ORDER;
                self.kernel.poke_phys(at, &[order as u8]);
            }
            Kernel::V6_7 | Kernel::V6_12 => self.put(head + 1, FLAGS, u64::from(order)),
        }
    }

    fn vmcore(&self) -> Vmcore {
        Vmcore::from_source(self.kernel.elf(1), PathBuf::from("synthetic")).unwrap()
    }
}

/// The pfns of one page of every kind, and which level bits leave each out.
struct Layout {
    buddy: u64,
    cache: u64,
    cache_private: u64,
    swapcache: u64,
    anon: u64,
    slab_with_anon_bit: u64,
    thp: u64,
    hugetlb: u64,
    hwpoison: u64,
    offline: u64,
    buddy_across: u64,
}

fn populate(m: &mut Machine) -> Layout {
    let b = bits(m.version);
    let at = |i: u64| FIRST_PFN + i;
    let l = Layout {
        buddy: at(16),
        cache: at(40),
        cache_private: at(41),
        swapcache: at(42),
        anon: at(43),
        slab_with_anon_bit: at(44),
        thp: at(64),
        hugetlb: at(128),
        hwpoison: at(200),
        offline: at(201),
        buddy_across: at(512),
    };
    // A free block of order 3 (8 pages), its order in `private`.
    m.put(l.buddy, MAPCOUNT, u64::from(b.buddy));
    m.put(l.buddy, PRIVATE, 3);
    m.put(l.cache, FLAGS, b.lru);
    m.put(l.cache, MAPPING, 0xffff_8880_0100_0000);
    m.put(l.cache_private, FLAGS, b.lru | b.private);
    m.put(l.cache_private, MAPPING, 0xffff_8880_0100_0000);
    let swap = (1 << 10)
        | if m.version != Kernel::V6_12 {
            1 << 19
        } else {
            1 << 17
        };
    m.put(l.swapcache, FLAGS, swap);
    m.put(l.anon, MAPPING, 0xffff_8880_0200_0001);
    m.put(l.anon, MAPCOUNT, 0);
    // Slab pages can have bit 0 set where `mapping` lies; they are never user data.
    match (b.slab, b.slab_type) {
        (Some(flag), _) => m.put(l.slab_with_anon_bit, FLAGS, flag),
        (None, Some(t)) => m.put(l.slab_with_anon_bit, MAPCOUNT, u64::from(t)),
        _ => unreachable!(),
    }
    m.put(l.slab_with_anon_bit, MAPPING, 1);
    // An anonymous transparent huge page of order 6 (64 pages).
    m.compound(l.thp, 6, 0);
    m.put(l.thp, MAPPING, 0xffff_8880_0200_0001);
    m.put(l.thp, MAPCOUNT, 0);
    // A hugetlbfs page of order 5, not anonymous.
    m.compound(l.hugetlb, 5, 0);
    m.put(l.hugetlb, MAPPING, 0xffff_8880_0300_0000);
    match (m.version, b.hugetlb_type) {
        (_, Some(t)) => m.put(l.hugetlb, MAPCOUNT, u64::from(t)),
        (Kernel::V6_7, None) => m.put(l.hugetlb + 1, FLAGS, 5 | 1 << 24),
        (_, None) => {
            let at = m.map + (l.hugetlb + 1 - FIRST_PFN) * 64 + COMPOUND_DTOR;
            m.kernel.poke_phys(at, &[2]);
        }
    }
    m.put(l.hwpoison, FLAGS, b.hwpoison);
    m.put(l.offline, MAPCOUNT, u64::from(b.offline));
    // A free block of order 9 (512 pages) that windows of 64 pfns cut in eight.
    m.put(l.buddy_across, MAPCOUNT, u64::from(b.buddy));
    m.put(l.buddy_across, PRIVATE, 9);
    l
}

fn expected(l: &Layout, level: u8) -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    let mut add = |start: u64, n: u64| out.extend(start..start + n);
    if level & 16 != 0 {
        add(l.buddy, 8);
        add(l.buddy_across, 512);
    }
    if level & 2 != 0 {
        add(l.cache, 1);
        add(l.swapcache, 1);
    }
    if level & 4 != 0 {
        add(l.cache, 1);
        add(l.cache_private, 1);
        add(l.swapcache, 1);
    }
    if level & 8 != 0 {
        add(l.anon, 1);
        add(l.thp, 64);
        add(l.hugetlb, 32);
    }
    add(l.hwpoison, 1);
    add(l.offline, 1);
    // Never left out: the slab page whose `mapping` has bit 0 set.
    assert!(!out.contains(&l.slab_with_anon_bit));
    out
}

fn run(core: &Vmcore, level: u8, window_bytes: usize) -> (BTreeSet<u64>, Excluded) {
    let mut filter = PageFilter::for_vmcore(core, level).unwrap();
    let mut excluded = BTreeSet::new();
    let mut start = 0;
    let end = FIRST_PFN + PFNS;
    while start < end {
        let mut bits = PfnBits::new(start, window_bytes);
        bits.set_range(FIRST_PFN..end, true);
        filter.exclude(&mut bits).unwrap();
        for pfn in bits.pfns() {
            if (FIRST_PFN..end).contains(&pfn) && !bits.get(pfn) {
                excluded.insert(pfn);
            }
        }
        start = bits.pfns().end;
    }
    (excluded, filter.excluded())
}

#[test]
fn every_level_leaves_out_exactly_its_classes() {
    for version in [Kernel::V6_1, Kernel::V6_7, Kernel::V6_12] {
        let mut m = Machine::new(version);
        let l = populate(&mut m);
        let core = m.vmcore();
        for level in [0u8, 1, 2, 4, 6, 8, 16, 31] {
            let (got, counts) = run(&core, level, 4096);
            let want = expected(&l, level);
            assert_eq!(got, want, "level {level}, {}", name(version));
            assert_eq!(counts.total(), want.len() as u64);
        }
        let (_, counts) = run(&core, 31, 4096);
        assert_eq!(
            counts,
            Excluded {
                cache: 2,
                cache_private: 1,
                user: 1 + 64 + 32,
                free: 8 + 512,
                hwpoison: 1,
                offline: 1,
            },
            "{}",
            name(version)
        );
    }
}

#[test]
fn small_windows_give_the_same_answer() {
    for version in [Kernel::V6_1, Kernel::V6_7, Kernel::V6_12] {
        let mut m = Machine::new(version);
        populate(&mut m);
        let core = m.vmcore();
        let (whole, counts) = run(&core, 31, 4096);
        for window in [1, 3, 8, 64] {
            let (cut, cut_counts) = run(&core, 31, window);
            assert_eq!(cut, whole, "window of {} pfns", window * 8);
            assert_eq!(cut_counts, counts);
        }
    }
}

#[test]
fn pages_absent_from_the_dump_stay_absent_and_uncounted() {
    let mut m = Machine::new(Kernel::V6_1);
    let l = populate(&mut m);
    let core = m.vmcore();
    let mut filter = PageFilter::for_vmcore(&core, 31).unwrap();
    let mut bits = PfnBits::new(FIRST_PFN, (PFNS / 8) as usize);
    // A hole in the middle of the order-9 free block and of the THP.
    bits.set_range(FIRST_PFN..FIRST_PFN + PFNS, true);
    bits.set_range(l.buddy_across + 100..l.buddy_across + 200, false);
    bits.set_range(l.thp + 10..l.thp + 20, false);
    filter.exclude(&mut bits).unwrap();
    let e = filter.excluded();
    assert_eq!(e.free, 8 + 512 - 100);
    assert_eq!(e.user, 1 + 64 - 10 + 32);
    assert!((l.buddy_across..l.buddy_across + 512).all(|p| !bits.get(p)));
}

#[test]
fn a_memory_map_the_dump_lacks_keeps_its_pages() {
    let mut m = Machine::new(Kernel::V6_1);
    populate(&mut m);
    // Point section 0's map outside the dump: nothing can be decided, so nothing is left out
    // (not even the always-excluded classes).
    let roots_line = m
        .kernel
        .vmcoreinfo
        .iter()
        .find(|l| l.starts_with("SYMBOL(mem_section)"))
        .cloned()
        .unwrap();
    let roots = u64::from_str_radix(roots_line.split('=').nth(1).unwrap(), 16).unwrap();
    let roots_pa = roots - direct_va(0);
    let sections_pa = m.kernel.peek_phys_u64(roots_pa) - direct_va(0);
    m.kernel
        .poke_phys_u64(sections_pa, 0xffff_c900_0000_0000 | 0b11);
    let core = m.vmcore();
    let (got, counts) = run(&core, 31, 4096);
    assert!(got.is_empty());
    assert_eq!(counts.total(), 0);
}

#[test]
fn missing_vmcoreinfo_entries_are_named() {
    let mut m = Machine::new(Kernel::V6_12);
    m.kernel.remove_info("SIZE(page)");
    let err = PageFilter::for_vmcore(&m.vmcore(), 31).err().unwrap();
    assert!(err.to_string().contains("SIZE(page)"), "{err}");
    let mut m = Machine::new(Kernel::V6_12);
    m.kernel.remove_info("SYMBOL(mem_section)");
    let err = PageFilter::for_vmcore(&m.vmcore(), 31).err().unwrap();
    assert!(err.to_string().contains("mem_section"), "{err}");
    let mut m = Machine::new(Kernel::V6_12);
    m.kernel.set_info("NUMBER(SECTION_SIZE_BITS)", "60");
    assert!(PageFilter::for_vmcore(&m.vmcore(), 31).is_err());
    assert!(PageFilter::for_vmcore(&Machine::new(Kernel::V6_1).vmcore(), 32).is_err());
}

fn name(k: Kernel) -> &'static str {
    match k {
        Kernel::V6_1 => "6.1",
        Kernel::V6_7 => "6.7",
        Kernel::V6_12 => "6.12",
    }
}

mod properties {
    use proptest::prelude::*;
    use vmcore::filter::{BuddyMark, HugetlbMark, OrderField, SlabMark, TypeMark};
    use vmcore::filter::{Decision, PageLayout, classify};

    fn layout() -> impl Strategy<Value = PageLayout> {
        (
            (
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
            ),
            (any::<bool>(), any::<u8>(), any::<u64>(), any::<u32>()),
            (any::<u32>(), any::<u32>(), any::<u32>()),
        )
            .prop_map(
                |(
                    (size, flags, mapping, mapcount, private),
                    (tail_order, at, mask, bit),
                    (v1, v2, max_order),
                )| {
                    PageLayout {
                        size: u64::from(size),
                        flags: u64::from(flags),
                        mapping: u64::from(mapping),
                        mapcount: u64::from(mapcount),
                        private: u64::from(private),
                        compound_head: Some(u64::from(at)),
                        order: if tail_order {
                            OrderField::FlagsLowByte
                        } else {
                            OrderField::CompoundOrder(u64::from(at) * 1_000_000)
                        },
                        head_mask: Some(mask),
                        lru: Some(bit % 70),
                        private_flag: Some(bit / 3),
                        swapcache: Some(bit % 64),
                        swapbacked: None,
                        hwpoison: Some(bit),
                        slab: SlabMark::Type(TypeMark::from_number(i64::from(v1 as i32))),
                        buddy: BuddyMark::Type(TypeMark::from_number(i64::from(v2 as i32))),
                        offline: Some(TypeMark::from_number(i64::from(v1))),
                        unaccepted: Some(TypeMark::from_number(-1)),
                        hugetlb: HugetlbMark::Destructor {
                            offset: u64::from(v2),
                            value: 2,
                        },
                        max_order,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn any_struct_page_gets_a_bounded_verdict(
            layout in layout(),
            level in 0u8..32,
            pfn in any::<u64>(),
            page in prop::collection::vec(any::<u8>(), 0..300),
            next in prop::option::of(prop::collection::vec(any::<u8>(), 0..300)),
        ) {
            match classify(&layout, level, pfn, &page, next.as_deref()) {
                Decision::Exclude { pages, .. } => prop_assert!((1..=1 << 31).contains(&pages)),
                Decision::Keep | Decision::Tail => {}
            }
        }
    }
}

#[test]
fn a_flat_mem_section_array_without_sparsemem_extreme() {
    let mut m = Machine::new(Kernel::V6_1);
    populate(&mut m);
    let (extreme, _) = run(&m.vmcore(), 31, 4096);
    // Without SPARSEMEM_EXTREME `mem_section` is the array of sections itself, one "root" per
    // section: 32 sections for 32 physical address bits.
    let roots = m
        .kernel
        .vmcoreinfo
        .iter()
        .find_map(|l| l.strip_prefix("SYMBOL(mem_section)="))
        .map(|v| u64::from_str_radix(v, 16).unwrap())
        .unwrap();
    let sections = m.kernel.peek_phys_u64(roots - direct_va(0));
    m.kernel
        .set_info("SYMBOL(mem_section)", &format!("{sections:x}"));
    m.kernel.set_info("LENGTH(mem_section)", "32");
    m.kernel.set_info("NUMBER(MAX_PHYSMEM_BITS)", "32");
    let (flat, counts) = run(&m.vmcore(), 31, 4096);
    assert_eq!(flat, extreme);
    assert!(counts.total() > 600);
}
