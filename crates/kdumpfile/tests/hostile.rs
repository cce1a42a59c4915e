//! Damaged and hostile files: every one gives a clean, one-line error naming what is wrong,
//! never a panic or a huge allocation. Also the writer on a disk that fills up.

// One range of present pfns is the common case here, not a mistake.
#![allow(clippy::single_range_in_vec_init)]

mod common;

use std::collections::BTreeSet;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};

use common::*;
use kdumpfile::{Compression, Error, KdumpFile, Limits};

fn sample() -> Vec<u8> {
    let excluded: BTreeSet<u64> = (0..64).filter(|p| p % 4 == 3).collect();
    write(
        &info(64, 1, Compression::Zlib),
        &[0..64],
        excluded,
        Limits::default(),
    )
    .0
}

fn open_err(bytes: &[u8]) -> Error {
    match KdumpFile::open(Cursor::new(bytes)) {
        Ok(_) => panic!("opened"),
        Err(e) => e,
    }
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

const DESCS: usize = 4 * 4096; // header, sub-header, two one-block bitmaps

#[test]
fn truncated_anywhere_is_an_error_not_a_panic() {
    let full = sample();
    for len in (0..full.len()).step_by(97) {
        let cut = &full[..len];
        match KdumpFile::open(Cursor::new(cut)) {
            Err(e) => assert!(!e.to_string().contains('\n')),
            Ok(mut dump) => {
                for pfn in 0..64 {
                    let _ = dump.read_page(pfn);
                }
            }
        }
    }
    assert!(matches!(
        open_err(&full[..100]),
        Error::Truncated("disk_dump_header")
    ));
    assert!(matches!(
        open_err(&full[..4096 + 50]),
        Error::Truncated("kdump_sub_header")
    ));
    assert!(matches!(
        open_err(&full[..DESCS - 1]),
        Error::Truncated("bitmaps")
    ));
    assert!(matches!(
        open_err(&full[..DESCS + 24]),
        Error::Truncated("page descriptors")
    ));
}

#[test]
fn wrong_signature_and_block_sizes() {
    let mut b = sample();
    b[0] = b'X';
    assert_eq!(
        open_err(&b).to_string(),
        "not a kdump-compressed file (no \"KDUMP   \" signature)"
    );
    for bs in [0, 1000, 4095, 1 << 20] {
        let mut b = sample();
        put_u32(&mut b, 428, bs);
        assert!(open_err(&b).to_string().contains("block_size"), "{bs}");
    }
    let mut be = sample();
    be[8..12].copy_from_slice(&6u32.to_be_bytes());
    assert!(open_err(&be).to_string().contains("header_version"));
}

#[test]
fn absurd_max_mapnr_and_bitmap_blocks() {
    let mut b = sample();
    put_u64(&mut b, 4096 + 96, u64::MAX);
    assert!(open_err(&b).to_string().contains("max_mapnr"));
    let mut b = sample();
    put_u64(&mut b, 4096 + 96, 1 << 40);
    assert!(open_err(&b).to_string().contains("bitmap_blocks"));
    let mut b = sample();
    put_u32(&mut b, 436, u32::MAX - 1);
    assert!(matches!(open_err(&b), Error::Truncated("bitmaps")));
    let mut b = sample();
    put_u32(&mut b, 436, 3);
    assert!(open_err(&b).to_string().contains("bitmap_blocks"));
    let mut b = sample();
    put_u32(&mut b, 432, 0);
    assert!(open_err(&b).to_string().contains("sub_hdr_size"));
}

#[test]
fn notes_and_vmcoreinfo_outside_the_file() {
    let mut b = sample();
    put_u64(&mut b, 4096 + 56, 1 << 40);
    assert!(open_err(&b).to_string().contains("notes"));
    let mut b = sample();
    put_u64(&mut b, 4096 + 48, u64::MAX - 3);
    assert!(open_err(&b).to_string().contains("notes"));
    let mut b = sample();
    put_u64(&mut b, 4096 + 32, u64::MAX);
    assert!(open_err(&b).to_string().contains("VMCOREINFO"));
}

fn desc_at(pfn_index: usize) -> usize {
    DESCS + 24 * pfn_index
}

#[test]
fn descriptors_pointing_anywhere_bad() {
    let good = sample();
    // pfn 1 is the second dumped page.
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: [(&str, Damage); 6] = [
        (
            "past EOF",
            Box::new(|b| {
                let end = b.len() as u64;
                put_u64(b, desc_at(1), end - 10)
            }),
        ),
        (
            "huge offset",
            Box::new(|b| put_u64(b, desc_at(1), u64::MAX - 5)),
        ),
        ("into the header", Box::new(|b| put_u64(b, desc_at(1), 100))),
        (
            "size over a page",
            Box::new(|b| put_u32(b, desc_at(1) + 8, 4097)),
        ),
        ("size zero", Box::new(|b| put_u32(b, desc_at(1) + 8, 0))),
        (
            "raw but short",
            Box::new(|b| put_u32(b, desc_at(1) + 12, 0)),
        ),
    ];
    for (what, damage) in cases {
        let mut b = good.clone();
        damage(&mut b);
        let mut dump = KdumpFile::open(Cursor::new(&b[..])).unwrap();
        let err = dump.read_page(1).unwrap_err();
        // Bad placement is the page's own corruption; data that will not decompress keeps the
        // decompressor's reason as its source.
        assert!(
            matches!(err, Error::Corrupt(_) | Error::Page { pfn: 1, .. }),
            "{what}: {err}"
        );
        assert!(
            err.to_string().starts_with("corrupt dump: pfn 0x1"),
            "{what}: {err}"
        );
        assert!(
            dump.read_page(2).unwrap().is_some(),
            "{what}: other pages still read"
        );
    }
    let mut b = good.clone();
    put_u32(&mut b, desc_at(1) + 12, 0x4);
    let err = KdumpFile::open(Cursor::new(&b[..]))
        .unwrap()
        .read_page(1)
        .unwrap_err();
    assert!(err.to_string().contains("snappy"), "{err}");
}

#[test]
fn decompression_bombs_are_cut_at_one_page() {
    let mut b = sample();
    // pfn 2 is random data, stored raw: a whole page of room for the bomb.
    let d = open(&b).page_desc(2).unwrap().unwrap();
    assert_eq!(d.size, 4096);
    // A zlib stream of 16 pages in the room of one page's data.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&vec![1u8; 16 * PAGE]).unwrap();
    let bomb = z.finish().unwrap();
    b[d.offset as usize..d.offset as usize + bomb.len()].copy_from_slice(&bomb);
    put_u32(&mut b, desc_at(2) + 8, bomb.len() as u32);
    put_u32(&mut b, desc_at(2) + 12, 0x1);
    let err = open(&b).read_page(2).unwrap_err();
    assert!(err.to_string().contains("zlib page"), "{err}");
}

/// A disk that takes `room` bytes of file and then fails with ENOSPC.
struct FullDisk {
    file: Cursor<Vec<u8>>,
    room: u64,
}

impl Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let pos = self.file.position();
        let end = pos + buf.len() as u64;
        if end > self.room && end > self.file.get_ref().len() as u64 {
            let fits = self.room.saturating_sub(pos) as usize;
            if fits == 0 {
                return Err(io::Error::from_raw_os_error(28));
            }
            return self.file.write(&buf[..fits.min(buf.len())]);
        }
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
impl Read for FullDisk {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}
impl kdumpfile::DumpOutput for FullDisk {
    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }
}
impl Seek for FullDisk {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

#[test]
fn a_full_disk_leaves_an_incomplete_but_valid_dump() {
    let max_mapnr = 400;
    let info = info(max_mapnr, 31, Compression::Zstd);
    let excluded: BTreeSet<u64> = (0..max_mapnr).filter(|p| p % 9 == 0).collect();
    let complete = write(&info, &[0..max_mapnr], excluded.clone(), small_limits()).0;
    let mut saw_partial = false;
    for room in (5 * 4096..complete.len() as u64).step_by(6000) {
        let mut disk = FullDisk {
            file: Cursor::new(Vec::new()),
            room,
        };
        let mut source = Machine0 {
            excluded: excluded.clone(),
            reads: Vec::new(),
        };
        let err = kdumpfile::write_dump_with(
            &mut disk,
            &info,
            &[0..max_mapnr],
            &mut source,
            &mut |_| {},
            small_limits(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("No space left"), "{err}");
        let bytes = disk.file.into_inner();
        let mut dump = open(&bytes);
        assert!(dump.is_incomplete());
        assert_eq!(dump.header().status, 0x20 | 0x8);
        let mut expect = vec![0u8; PAGE];
        let (mut good, mut missing) = (0, 0);
        for pfn in 0..max_mapnr {
            match dump.read_page(pfn) {
                Ok(Some(page)) => {
                    contents(pfn, &mut expect);
                    assert_eq!(page, &expect[..], "room {room} pfn {pfn}");
                    good += 1;
                }
                Ok(None) => assert!(excluded.contains(&pfn)),
                Err(Error::NotWritten(p)) => {
                    assert_eq!(p, pfn);
                    missing += 1;
                }
                Err(e) => panic!("room {room} pfn {pfn}: {e}"),
            }
        }
        assert!(missing > 0);
        saw_partial |= good > 0;
    }
    assert!(saw_partial, "some cut fell among the pages");
}
