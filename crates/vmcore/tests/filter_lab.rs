//! The page filter on the lab's real vmcores (Debian 6.1 and 6.12 kernels crashed under QEMU,
//! /proc/vmcore copied by the capture kernel), against makedumpfile's level-31 dump of the same
//! vmcore, pfn by pfn. The vmcores are large and made by `cargo xtask lab --vmcores`, so these
//! tests are ignored by a plain `cargo test`: run them with `--ignored` after making the vmcores;
//! without the vmcores they fail saying which is missing.
//!
//! 6.1: the two agree on every pfn. 6.12: Debian 12's makedumpfile (1.7.2) says "kernel version
//! not supported" and, not knowing `PAGE_SLAB_MAPCOUNT_VALUE`, takes slab pages whose `mapping`
//! word has bit 0 set for anonymous user pages; every pfn where the two differ must be such a
//! slab page, and there must be no other difference.

use std::path::{Path, PathBuf};

use kdumpfile::{KdumpFile, PfnBits};
use vmcore::Vmcore;
use vmcore::filter::PageFilter;

fn lab(name: &str) -> Option<(PathBuf, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/lab/vmcores")
        .join(name);
    let (vmcore, dump) = (dir.join("vmcore"), dir.join("vmcore.d31.kdump"));
    assert!(
        vmcore.is_file() && dump.is_file(),
        "{} lacks vmcore or vmcore.d31.kdump: make them with `cargo xtask lab --vmcores`",
        dir.display()
    );
    Some((vmcore, dump))
}

/// Pfns where lastgasp and makedumpfile disagree: (only lastgasp excludes, only makedumpfile).
fn differences(vmcore: &Path, dump: &Path) -> (u64, Vec<u64>, Vec<u64>) {
    let core = Vmcore::open(vmcore).unwrap();
    let mut theirs = KdumpFile::open_path(dump).unwrap();
    let mut filter = PageFilter::for_vmcore(&core, 31).unwrap();
    let window = 1 << 15;
    let (mut ours_only, mut theirs_only, mut excluded) = (Vec::new(), Vec::new(), 0);
    let mut start = 0;
    while start < theirs.max_mapnr() {
        let mut bits = PfnBits::new(start, window / 8);
        for pfn in bits.pfns() {
            if theirs.is_present(pfn).unwrap() {
                bits.set(pfn, true);
            }
        }
        let present = bits.clone();
        filter.exclude(&mut bits).unwrap();
        for pfn in present.iter_ones() {
            let (kept, kept_theirs) = (bits.get(pfn), theirs.is_dumped(pfn).unwrap());
            excluded += u64::from(!kept);
            match (kept, kept_theirs) {
                (false, true) => ours_only.push(pfn),
                (true, false) => theirs_only.push(pfn),
                _ => {}
            }
        }
        start += window as u64;
    }
    assert_eq!(filter.excluded().total(), excluded);
    (excluded, ours_only, theirs_only)
}

#[test]
#[ignore = "reads the lab's full-size vmcores: run with --ignored after `cargo xtask lab --vmcores`"]
fn debian_6_1_level_31_matches_makedumpfile_on_every_pfn() {
    let Some((vmcore, dump)) = lab("kdump-x86_64-6.1") else {
        return;
    };
    let (excluded, ours_only, theirs_only) = differences(&vmcore, &dump);
    assert!(excluded > 100_000, "{excluded}");
    assert_eq!((ours_only.len(), theirs_only.len()), (0, 0));
}

#[test]
#[ignore = "compares with makedumpfile 1.7.2, which does not support 6.12: run by hand on a chosen vmcore"]
fn debian_6_12_differs_from_makedumpfile_1_7_2_only_on_slab_pages() {
    let Some((vmcore, dump)) = lab("kdump-x86_64-6.12-busy") else {
        return;
    };
    let (excluded, ours_only, theirs_only) = differences(&vmcore, &dump);
    assert!(excluded > 100_000, "{excluded}");
    assert_eq!(ours_only, Vec::<u64>::new());
    let core = Vmcore::open(&vmcore).unwrap();
    let info = core.vmcoreinfo().unwrap();
    let slab = info.number("PAGE_SLAB_MAPCOUNT_VALUE").unwrap() as u32;
    let mapcount_at = info.offset("page._mapcount").unwrap() as usize;
    let mapping_at = info.offset("page.mapping").unwrap() as usize;
    let mut filter = PageFilter::for_vmcore(&core, 31).unwrap();
    for pfn in theirs_only {
        let page = filter.struct_page(pfn).unwrap();
        let word = |at: usize, n: usize| {
            let mut v = [0u8; 8];
            v[..n].copy_from_slice(&page[at..at + n]);
            u64::from_le_bytes(v)
        };
        assert_eq!(
            word(mapcount_at, 4) as u32 >> 24,
            slab >> 24,
            "pfn {pfn:#x}"
        );
        assert_eq!(word(mapping_at, 8) & 1, 1, "pfn {pfn:#x}");
    }
}

/// The whole path on a real vmcore: filter, write a level-31 zstd dump, read it back. Every
/// page it holds is the vmcore's; it leaves out what makedumpfile leaves out (on 6.12, less:
/// the slab pages above), zero pages sharing one stored page.
#[test]
#[ignore = "reads the lab's full-size vmcores: run with --ignored after `cargo xtask lab --vmcores`"]
fn a_level_31_dump_of_the_6_1_vmcore_holds_exactly_its_pages() {
    if let Some((vmcore, reference)) = lab("kdump-x86_64-6.1") {
        write_and_check(&vmcore, Some((&reference, true)));
    }
}

#[test]
#[ignore = "compares with makedumpfile 1.7.2, which does not support 6.12: run by hand on a chosen vmcore"]
fn a_level_31_dump_of_the_6_12_vmcore_holds_exactly_its_pages() {
    if let Some((vmcore, reference)) = lab("kdump-x86_64-6.12-busy") {
        write_and_check(&vmcore, Some((&reference, false)));
    }
}

/// An arm64 guest's memory, dumped by QEMU with its VMCOREINFO: the filter walks arm64 page
/// tables to its `struct page`s. There is no makedumpfile for arm64 on this host to compare
/// with, so only the pages themselves are checked.
#[test]
#[ignore = "reads the lab's full-size vmcores: run with --ignored after `cargo xtask lab --vmcores`"]
fn a_level_31_dump_of_an_arm64_vmcore_holds_exactly_its_pages() {
    let elf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/lab/vmcores/qemu-aarch64-6.1/vmcore.elf");
    assert!(
        elf.is_file(),
        "{} is missing: make it with `cargo xtask lab --vmcores`",
        elf.display()
    );
    write_and_check(&elf, None);
}

/// Writes `vmcore` at level 31 and checks the dump against it and, when given, against
/// makedumpfile's dump of it (`true`: the same pages left out; `false`: a subset of them).
fn write_and_check(vmcore: &Path, reference: Option<(&Path, bool)>) {
    use std::io;
    use vmcore::PhysMemory;

    let core = Vmcore::open(vmcore).unwrap();
    let memory = core.memory();
    let ps = core.page_size();
    let present: Vec<_> = memory
        .present_ranges()
        .into_iter()
        .map(|r| r.start.div_ceil(ps)..r.end / ps)
        .collect();
    let notes = core.note_bytes();
    let info = core.vmcoreinfo().unwrap();
    let dump_info = kdumpfile::DumpInfo {
        machine: match core.machine() {
            vmcore::Machine::X86_64 => kdumpfile::Machine::X86_64,
            vmcore::Machine::Aarch64 => kdumpfile::Machine::Aarch64,
        },
        release: info.osrelease().unwrap().into(),
        version: String::new(),
        crash_time: info.crash_time().unwrap_or(0),
        phys_base: info.number_bits("phys_base").unwrap_or(0),
        page_size: ps as u32,
        max_mapnr: present.iter().map(|r| r.end).max().unwrap(),
        vmcoreinfo: kdumpfile::notes::find_vmcoreinfo(&notes),
        nr_cpus: kdumpfile::notes::count_prstatus(&notes),
        notes,
        dump_level: 31,
        compression: kdumpfile::Compression::Zstd,
    };
    struct Source<'a> {
        filter: PageFilter<&'a dyn PhysMemory>,
        memory: &'a dyn PhysMemory,
        ps: u64,
    }
    impl kdumpfile::PageSource for Source<'_> {
        fn exclude(&mut self, dumpable: &mut PfnBits) -> io::Result<()> {
            self.filter.exclude(dumpable).map_err(io::Error::other)
        }
        fn read_page(&mut self, pfn: u64, page: &mut [u8]) -> io::Result<()> {
            self.memory
                .read_phys(pfn * self.ps, page)
                .map_err(io::Error::other)
        }
        fn read_pages(&mut self, first: u64, _: usize, pages: &mut [u8]) -> io::Result<()> {
            self.memory
                .read_phys(first * self.ps, pages)
                .map_err(io::Error::other)
        }
    }
    let mut source = Source {
        filter: PageFilter::for_vmcore(&core, 31).unwrap(),
        memory,
        ps,
    };
    let mut out = tempfile::tempfile().unwrap();
    let summary =
        kdumpfile::write_dump(&mut out, &dump_info, &present, &mut source, &mut |_| {}).unwrap();
    let mut ours = KdumpFile::open(out).unwrap();
    assert!(summary.excluded_pages > 0);
    assert_eq!(ours.dumped_pages(), summary.dumped_pages);
    let mut theirs = reference.map(|(path, same)| (KdumpFile::open_path(path).unwrap(), same));
    if let Some((theirs, same)) = &theirs {
        if *same {
            assert_eq!(ours.dumped_pages(), theirs.dumped_pages());
        }
        assert_eq!(ours.vmcoreinfo(), theirs.vmcoreinfo());
        assert_eq!(ours.notes(), theirs.notes());
    }
    let mut page = vec![0u8; ps as usize];
    let mut zero = 0;
    for pfn in 0..ours.max_mapnr() {
        let here = present.iter().any(|r| r.contains(&pfn));
        assert_eq!(ours.is_present(pfn).unwrap(), here, "pfn {pfn:#x}");
        if let Some((theirs, _)) = &mut theirs {
            assert_eq!(here, theirs.is_present(pfn).unwrap(), "pfn {pfn:#x}");
        }
        let Some(held) = ours.read_page(pfn).unwrap() else {
            if let Some((theirs, _)) = &mut theirs {
                assert!(!theirs.is_dumped(pfn).unwrap(), "pfn {pfn:#x}");
            }
            continue;
        };
        memory.read_phys(pfn * ps, &mut page).unwrap();
        assert!(held == page.as_slice(), "pfn {pfn:#x}");
        zero += u64::from(page.iter().all(|&b| b == 0));
    }
    assert_eq!(summary.zero_pages, zero);
    if let Some((path, _)) = reference {
        assert!(summary.file_size < std::fs::metadata(path).unwrap().len());
    }
}
