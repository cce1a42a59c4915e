//! Writes the seed corpus of the kdumpfile_read fuzz target: small dumps of every compression,
//! one cut short, and a few damaged ones. Usage: `cargo run -p lastgasp-kdumpfile --example
//! fuzz_seeds -- fuzz/corpus/kdumpfile_read`.

// One range of present pfns is the common case here, not a mistake.
#![allow(clippy::single_range_in_vec_init)]

use std::io::{self, Cursor};
use std::path::PathBuf;

use kdumpfile::{Compression, DumpInfo, Machine, PageSource, PfnBits};

struct Seed;

impl PageSource for Seed {
    fn exclude(&mut self, dumpable: &mut PfnBits) -> io::Result<()> {
        dumpable.set(5, false);
        Ok(())
    }

    fn read_page(&mut self, pfn: u64, page: &mut [u8]) -> io::Result<()> {
        match pfn % 3 {
            0 => page.fill(0),
            1 => page.fill(pfn as u8 | 0x10),
            _ => {
                for (i, b) in page.iter_mut().enumerate() {
                    *b = (i * 7 + pfn as usize) as u8;
                }
            }
        }
        Ok(())
    }
}

fn dump(compression: Compression, level: u8) -> Vec<u8> {
    let mut notes = kdumpfile::notes::encode_note(b"CORE", 1, &[0; 64]);
    let text = b"OSRELEASE=6.1.0\nPAGESIZE=4096\n";
    let at = notes.len() + 24;
    notes.extend(kdumpfile::notes::encode_note(b"VMCOREINFO", 0, text));
    let info = DumpInfo {
        machine: Machine::X86_64,
        release: "6.1.0".into(),
        version: "#1".into(),
        crash_time: 0,
        phys_base: 0,
        page_size: 4096,
        max_mapnr: 12,
        notes,
        vmcoreinfo: Some(at..at + text.len()),
        nr_cpus: 1,
        dump_level: level,
        compression,
    };
    let mut out = Cursor::new(Vec::new());
    kdumpfile::write_dump(&mut out, &info, &[0..8, 9..12], &mut Seed, &mut |_| {})
        .expect("in-memory dump");
    out.into_inner()
}

fn main() -> io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    let save = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes);
    for c in Compression::ALL {
        save(&format!("small-{}", c.name()), &dump(c, 0))?;
    }
    let zero = dump(Compression::Zlib, 31);
    save("zero-shared", &zero)?;
    let mut cut = dump(Compression::Lzo, 1);
    cut.truncate(cut.len() - 3000);
    cut[424] |= 0x8;
    save("incomplete", &cut)?;
    let mut blocks = zero.clone();
    blocks[436..440].copy_from_slice(&u32::MAX.to_le_bytes());
    save("absurd-bitmap-blocks", &blocks)?;
    let mut past = zero.clone();
    let desc = 4 * 4096 + 24;
    past[desc..desc + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    save("desc-past-eof", &past)?;
    Ok(())
}
