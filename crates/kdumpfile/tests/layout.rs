//! Every field of a written header and sub-header, read at the offsets the format documents
//! (makedumpfile's diskdump_mod.h, 64-bit layout), plus where bitmaps and descriptors lie.

// One range of present pfns is the common case here, not a mistake.
#![allow(clippy::single_range_in_vec_init)]

mod common;

use std::collections::BTreeSet;

use common::*;
use kdumpfile::{Compression, Limits};

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
fn text_at(b: &[u8], at: usize) -> &str {
    let field = &b[at..at + 65];
    let end = field.iter().position(|&c| c == 0).unwrap();
    std::str::from_utf8(&field[..end]).unwrap()
}

#[test]
fn header_fields_sit_at_the_documented_offsets() {
    // 70_000 pfns: 8750 bitmap bytes, so 3 blocks per bitmap.
    let max_mapnr = 70_000;
    let info = info(max_mapnr, 31, Compression::Zstd);
    let excluded: BTreeSet<u64> = (1000..59_000).collect();
    let (b, summary) = write(
        &info,
        &[0..60_000, 65_000..70_000],
        excluded,
        Limits::default(),
    );

    assert_eq!(&b[0..8], b"KDUMP   ");
    assert_eq!(u32_at(&b, 8), 6);
    assert_eq!(text_at(&b, 12), "Linux");
    assert_eq!(text_at(&b, 12 + 65), "", "no host name leaves the machine");
    assert_eq!(text_at(&b, 12 + 2 * 65), "6.1.0-test");
    assert_eq!(text_at(&b, 12 + 3 * 65), "#1 SMP PREEMPT_DYNAMIC Debian");
    assert_eq!(text_at(&b, 12 + 4 * 65), "x86_64");
    assert_eq!(&b[402..408], &[0; 6]);
    assert_eq!(u64_at(&b, 408), 1_764_547_200, "tv_sec = CRASHTIME");
    assert_eq!(u64_at(&b, 416), 0, "tv_usec stays 0");
    assert_eq!(u32_at(&b, 424), 0x20, "status: zstd, complete");
    assert_eq!(u32_at(&b, 428), 4096);
    let sub_hdr_size = u32_at(&b, 432);
    assert_eq!(
        sub_hdr_size,
        1,
        "104 + {} note bytes fit one block",
        info.notes.len()
    );
    assert_eq!(u32_at(&b, 436), 6, "bitmap_blocks: 2 x ceil(8750 / 4096)");
    assert_eq!(u32_at(&b, 440), 70_000);
    assert_eq!(&b[444..460], &[0; 16]);
    assert_eq!(u32_at(&b, 460), 1, "nr_cpus");

    let s = 4096;
    assert_eq!(u64_at(&b, s), 0x1_0000_0000, "phys_base");
    assert_eq!(u32_at(&b, s + 8), 31, "dump_level");
    assert_eq!(u32_at(&b, s + 12), 0, "split");
    let offset_vmcoreinfo = u64_at(&b, s + 32) as usize;
    let size_vmcoreinfo = u64_at(&b, s + 40) as usize;
    assert_eq!(
        &b[offset_vmcoreinfo..offset_vmcoreinfo + size_vmcoreinfo],
        b"OSRELEASE=6.1.0-test\nPAGESIZE=4096\nCRASHTIME=1764547200\n"
    );
    assert_eq!(u64_at(&b, s + 48), 4096 + 104, "offset_note");
    assert_eq!(u64_at(&b, s + 56), info.notes.len() as u64, "size_note");
    assert_eq!(
        &b[4096 + 104..4096 + 104 + info.notes.len()],
        &info.notes[..]
    );
    assert_eq!(
        (u64_at(&b, s + 64), u64_at(&b, s + 72)),
        (0, 0),
        "no eraseinfo"
    );
    assert_eq!(u64_at(&b, s + 80), 0, "start_pfn_64");
    assert_eq!(u64_at(&b, s + 88), max_mapnr, "end_pfn_64");
    assert_eq!(u64_at(&b, s + 96), max_mapnr, "max_mapnr_64");

    // Bitmap 1 from block 2, bitmap 2 three blocks later, LSB-first bits.
    let bitmap1 = 2 * 4096;
    let bitmap2 = bitmap1 + 3 * 4096;
    assert_eq!(b[bitmap1], 0xff);
    assert_eq!(b[bitmap1 + 60_000 / 8], 0, "60000..65000 is a hole");
    assert_eq!(b[bitmap1 + 65_000 / 8], 0xff);
    assert_eq!(b[bitmap1 + 8750 - 1], 0xff, "pfns 69992..70000");
    assert!(b[bitmap1 + 8750..bitmap2].iter().all(|&x| x == 0));
    assert_eq!(
        b[bitmap2 + 1000 / 8],
        0,
        "excluded pfns are clear in bitmap 2"
    );
    assert_eq!(b[bitmap2 + 999 / 8], 0xff, "pfns 992..1000 dumped");
    assert_eq!(b[bitmap2 + 59_000 / 8 - 1], 0, "pfns ..59000 excluded");
    assert_eq!(b[bitmap2 + 59_000 / 8], 0xff, "pfns 59000.. dumped");
    let dumped: u32 = b[bitmap2..bitmap2 + 3 * 4096]
        .iter()
        .map(|x| x.count_ones())
        .sum();
    assert_eq!(u64::from(dumped), summary.dumped_pages);
    assert_eq!(summary.dumped_pages, 7000);

    // Descriptors from block 8, one per dumped pfn, data right behind them (zero page first).
    let descs = 8 * 4096;
    let data = descs + 24 * 7000;
    assert_eq!(
        u64_at(&b, descs),
        data as u64,
        "pfn 0 is a zero page: the shared one"
    );
    assert_eq!(u32_at(&b, descs + 8), 4096);
    assert_eq!(u32_at(&b, descs + 12), 0);
    assert_eq!(u64_at(&b, descs + 16), 0, "page_flags");
    assert_eq!(
        u64_at(&b, descs + 24),
        data as u64 + 4096,
        "pfn 1 follows the zero page"
    );
    assert_eq!(u32_at(&b, descs + 24 + 12), 0x20);
    let size1 = u32_at(&b, descs + 24 + 8) as usize;
    assert_eq!(
        &b[data + 4096..data + 4100],
        &[0x28, 0xb5, 0x2f, 0xfd],
        "a zstd frame"
    );
    assert_eq!(u64_at(&b, descs + 48), (data + 4096 + size1) as u64);
}

#[test]
fn an_aarch64_dump_with_64k_pages() {
    let mut info = info(300, 0, Compression::Lzo);
    info.machine = kdumpfile::Machine::Aarch64;
    info.release.clear();
    info.version.clear();
    info.page_size = 65536;
    struct Big;
    impl kdumpfile::PageSource for Big {
        fn exclude(&mut self, _: &mut kdumpfile::PfnBits) -> std::io::Result<()> {
            Ok(())
        }
        fn read_page(&mut self, pfn: u64, page: &mut [u8]) -> std::io::Result<()> {
            for (i, b) in page.iter_mut().enumerate() {
                *b = (i as u64 / 64 + pfn) as u8;
            }
            Ok(())
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    kdumpfile::write_dump(&mut out, &info, &[0..300], &mut Big, &mut |_| {}).unwrap();
    let b = out.into_inner();
    assert_eq!(text_at(&b, 12 + 4 * 65), "aarch64");
    // Unknown release and version are written as such, never empty (libkdumpfile needs both).
    assert_eq!(text_at(&b, 12 + 2 * 65), "unknown");
    assert_eq!(text_at(&b, 12 + 3 * 65), "unknown");
    assert_eq!(u32_at(&b, 428), 65536);
    assert_eq!(u32_at(&b, 436), 2);
    let mut dump = open(&b);
    let page = dump.read_page(299).unwrap().unwrap();
    assert_eq!(page.len(), 65536);
    assert_eq!(page[64 * 10], (10 + 299) as u8);
}
