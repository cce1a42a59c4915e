//! Dumps written and read back: every compression, zero-page sharing, exclusion, windows
//! and buffers smaller than the dump, and the progress reports.

// One range of present pfns is the common case here, not a mistake.
#![allow(clippy::single_range_in_vec_init)]

mod common;

use std::collections::BTreeSet;

use common::*;
use kdumpfile::{Compression, Limits, Progress};

fn check_all_pages(
    bytes: &[u8],
    max_mapnr: u64,
    present: &[std::ops::Range<u64>],
    excluded: &BTreeSet<u64>,
) {
    let mut dump = open(bytes);
    let mut expect = vec![0u8; PAGE];
    for pfn in 0..max_mapnr + 3 {
        let is_present = present.iter().any(|r| r.contains(&pfn));
        assert_eq!(dump.is_present(pfn).unwrap(), is_present, "pfn {pfn}");
        let page = dump.read_page(pfn).unwrap();
        if is_present && !excluded.contains(&pfn) {
            contents(pfn, &mut expect);
            assert_eq!(page, Some(&expect[..]), "pfn {pfn}");
        } else {
            assert_eq!(page, None, "pfn {pfn}");
        }
    }
}

#[test]
fn every_compression_round_trips_with_small_windows() {
    let max_mapnr = 1000;
    let present = [0..160, 200..611, 700..1000];
    let excluded: BTreeSet<u64> = (0..1000)
        .filter(|p| p % 7 == 3 || (300..340).contains(p))
        .collect();
    for compression in Compression::ALL {
        for level in [0u8, 1, 31] {
            let info = info(max_mapnr, level, compression);
            let (bytes, summary) = write(&info, &present, excluded.clone(), small_limits());
            let mut dump = open(&bytes);
            assert!(!dump.is_incomplete());
            assert_eq!(dump.header().status, compression.flag());
            let present_count: u64 = present.iter().map(|r| r.end - r.start).sum();
            assert_eq!(summary.present_pages, present_count);
            let dumped = present
                .iter()
                .flat_map(|r| r.clone())
                .filter(|p| !excluded.contains(p))
                .count() as u64;
            assert_eq!(summary.dumped_pages, dumped);
            assert_eq!(dump.dumped_pages(), dumped);
            assert_eq!(summary.file_size, bytes.len() as u64);
            assert_eq!(
                dump.vmcoreinfo().unwrap(),
                b"OSRELEASE=6.1.0-test\nPAGESIZE=4096\nCRASHTIME=1764547200\n"
            );
            assert_eq!(dump.notes(), &info.notes[..]);
            assert!(dump.read_page(0).unwrap().is_some());
            check_all_pages(&bytes, max_mapnr, &present, &excluded);
            if compression == Compression::None {
                assert_eq!(summary.compressed_pages, 0);
            } else {
                assert!(
                    summary.compressed_pages > summary.raw_pages,
                    "{compression:?}"
                );
            }
        }
    }
}

#[test]
fn level_one_shares_a_single_zero_page() {
    let present = [0..500];
    let none = BTreeSet::new();
    let (with, s1) = write(
        &info(500, 1, Compression::Zlib),
        &present,
        none.clone(),
        Limits::default(),
    );
    let (without, s0) = write(
        &info(500, 0, Compression::Zlib),
        &present,
        none,
        Limits::default(),
    );
    // Every fifth pfn is zero: 100 zero pages, all pointing at the one stored zero page.
    assert_eq!(s1.zero_pages, 100);
    assert_eq!(s0.zero_pages, 0);
    let mut dump = open(&with);
    let zero_descs: BTreeSet<u64> = (0..500)
        .step_by(5)
        .map(|p| dump.page_desc(p).unwrap().unwrap().offset)
        .collect();
    assert_eq!(zero_descs.len(), 1);
    let zero_at = *zero_descs.iter().next().unwrap();
    let desc = dump.page_desc(0).unwrap().unwrap();
    assert_eq!((desc.size, desc.flags), (PAGE as u32, 0));
    // The shared page is the first thing after the descriptors.
    let bitmap_end =
        (1 + dump.header().sub_hdr_size as u64 + dump.header().bitmap_blocks as u64) * PAGE as u64;
    assert_eq!(zero_at, bitmap_end + 500 * 24);
    assert!(
        with[zero_at as usize..zero_at as usize + PAGE]
            .iter()
            .all(|&b| b == 0)
    );
    let mut plain = open(&without);
    let own: BTreeSet<u64> = (0..500)
        .step_by(5)
        .map(|p| plain.page_desc(p).unwrap().unwrap().offset)
        .collect();
    assert_eq!(
        own.len(),
        100,
        "without bit 1 each zero page is stored on its own"
    );
    assert_eq!(
        open(&without).read_page(5).unwrap().unwrap(),
        &[0u8; PAGE][..]
    );
}

#[test]
fn incompressible_pages_are_stored_raw_with_flags_zero() {
    let (bytes, summary) = write(
        &info(20, 0, Compression::Zstd),
        &[0..20],
        BTreeSet::new(),
        Limits::default(),
    );
    assert_eq!(summary.raw_pages, 4, "pfns 2, 7, 12, 17 are random");
    let mut dump = open(&bytes);
    for pfn in 0..20 {
        let d = dump.page_desc(pfn).unwrap().unwrap();
        if pfn % 5 == 2 {
            assert_eq!((d.size, d.flags), (PAGE as u32, 0));
        } else {
            assert_eq!(d.flags, 0x20);
            assert!(d.size < PAGE as u32);
        }
    }
}

#[test]
fn pages_are_read_in_pfn_order_once_and_progress_reaches_the_total() {
    let mut out = std::io::Cursor::new(Vec::new());
    let excluded: BTreeSet<u64> = (0..10_000).filter(|p| p % 3 == 0).collect();
    let mut source = Machine0 {
        excluded,
        reads: Vec::new(),
    };
    let mut seen: Vec<Progress> = Vec::new();
    let summary = kdumpfile::write_dump(
        &mut out,
        &info(10_000, 31, Compression::Lzo),
        &[0..10_000],
        &mut source,
        &mut |p| seen.push(p),
    )
    .unwrap();
    let expect: Vec<u64> = (0..10_000).filter(|p| p % 3 != 0).collect();
    assert_eq!(source.reads, expect);
    assert_eq!(summary.excluded_pages, 3334);
    let last = seen.last().unwrap();
    assert_eq!((last.done, last.total), (6666, 6666));
    assert!(seen.windows(2).all(|w| w[0].done <= w[1].done));
}

#[test]
fn a_source_cannot_add_pages_that_do_not_exist() {
    struct Greedy;
    impl kdumpfile::PageSource for Greedy {
        fn exclude(&mut self, dumpable: &mut kdumpfile::PfnBits) -> std::io::Result<()> {
            let all = dumpable.pfns();
            dumpable.set_range(all, true);
            Ok(())
        }
        fn read_page(&mut self, _: u64, page: &mut [u8]) -> std::io::Result<()> {
            page.fill(1);
            Ok(())
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    let s = kdumpfile::write_dump(
        &mut out,
        &info(100, 0, Compression::None),
        &[10..20],
        &mut Greedy,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(s.dumped_pages, 10);
    assert_eq!(open(out.get_ref()).read_page(9).unwrap(), None);
}

#[test]
fn bad_inputs_are_refused_before_writing() {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut source = Machine0 {
        excluded: BTreeSet::new(),
        reads: Vec::new(),
    };
    let mut bad = info(100, 0, Compression::None);
    bad.page_size = 3000;
    assert!(kdumpfile::write_dump(&mut out, &bad, &[0..10], &mut source, &mut |_| {}).is_err());
    let good = info(100, 0, Compression::None);
    let err =
        kdumpfile::write_dump(&mut out, &good, &[0..101], &mut source, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("max_mapnr"), "{err}");
    let mut level = good.clone();
    level.dump_level = 32;
    assert!(kdumpfile::write_dump(&mut out, &level, &[0..10], &mut source, &mut |_| {}).is_err());
    assert!(out.get_ref().is_empty());
}

#[test]
fn the_file_is_the_same_whatever_the_number_of_threads() {
    let excluded: BTreeSet<u64> = (0..700).filter(|p| p % 11 == 0).collect();
    for compression in [Compression::Zstd, Compression::Zlib, Compression::Lzo] {
        let info = info(700, 31, compression);
        let files: Vec<Vec<u8>> = [(1, 1), (1, 64), (2, 64), (3, 10), (4, 256)]
            .into_iter()
            .map(|(threads, batch_pages)| {
                let limits = Limits {
                    threads,
                    batch_pages,
                    ..Limits::default()
                };
                write(&info, &[0..700], excluded.clone(), limits).0
            })
            .collect();
        assert!(files.windows(2).all(|w| w[0] == w[1]), "{compression:?}");
    }
}
