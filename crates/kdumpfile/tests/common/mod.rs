//! A synthetic machine for the tests: page contents derived from the pfn, a chosen set of
//! excluded pfns, and helpers to write and reopen a dump in memory.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{self, Cursor};
use std::ops::Range;

use kdumpfile::{Compression, DumpInfo, KdumpFile, Limits, Machine, PageSource, PfnBits, Summary};

pub const PAGE: usize = 4096;

/// What kind of page a pfn holds.
pub fn contents(pfn: u64, page: &mut [u8]) {
    match pfn % 5 {
        0 => page.fill(0),
        1 => page.fill(pfn as u8 | 1),
        2 => {
            let mut x = pfn.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            for b in page.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
        }
        _ => {
            let text = format!("pfn {pfn:#x} some kernel text and structures; ");
            for (b, c) in page.iter_mut().zip(text.bytes().cycle()) {
                *b = c;
            }
        }
    }
}

pub struct Machine0 {
    pub excluded: BTreeSet<u64>,
    pub reads: Vec<u64>,
}

impl PageSource for Machine0 {
    fn exclude(&mut self, dumpable: &mut PfnBits) -> io::Result<()> {
        for &pfn in self.excluded.range(dumpable.pfns()) {
            dumpable.set(pfn, false);
        }
        Ok(())
    }

    fn read_page(&mut self, pfn: u64, page: &mut [u8]) -> io::Result<()> {
        self.reads.push(pfn);
        contents(pfn, page);
        Ok(())
    }
}

pub fn info(max_mapnr: u64, level: u8, compression: Compression) -> DumpInfo {
    let mut notes = kdumpfile::notes::encode_note(b"CORE", 1, &[0xab; 336]);
    let vmci = b"OSRELEASE=6.1.0-test\nPAGESIZE=4096\nCRASHTIME=1764547200\n";
    let at = notes.len() + 12 + 12;
    notes.extend(kdumpfile::notes::encode_note(b"VMCOREINFO", 0, vmci));
    DumpInfo {
        machine: Machine::X86_64,
        release: "6.1.0-test".into(),
        version: "#1 SMP PREEMPT_DYNAMIC Debian".into(),
        crash_time: 1_764_547_200,
        phys_base: 0x1_0000_0000,
        page_size: PAGE as u32,
        max_mapnr,
        vmcoreinfo: Some(at..at + vmci.len()),
        notes,
        nr_cpus: 1,
        dump_level: level,
        compression,
    }
}

pub fn small_limits() -> Limits {
    Limits {
        bitmap_window: 3,
        data_buffer: 3 * PAGE,
        desc_buffer: 5,
        threads: 2,
        batch_pages: 7,
    }
}

pub fn write(
    info: &DumpInfo,
    present: &[Range<u64>],
    excluded: BTreeSet<u64>,
    limits: Limits,
) -> (Vec<u8>, Summary) {
    let mut out = Cursor::new(Vec::new());
    let mut source = Machine0 {
        excluded,
        reads: Vec::new(),
    };
    let summary =
        kdumpfile::write_dump_with(&mut out, info, present, &mut source, &mut |_| {}, limits)
            .unwrap();
    (out.into_inner(), summary)
}

pub fn open(bytes: &[u8]) -> KdumpFile<Cursor<&[u8]>> {
    KdumpFile::open(Cursor::new(bytes)).unwrap()
}
