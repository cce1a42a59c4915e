//! Writes the dump of a synthetic machine of `GIB` GiB (default 1024: a 1 TiB machine) into
//! `OUT`, keeping one page in `KEEP` (default 4096), and prints the process's peak resident
//! memory: the writer's bound does not depend on the machine's size.
//!
//! `cargo run --release -p lastgasp-kdumpfile --example peak_memory -- OUT [GIB] [KEEP]`

use std::io;
use std::time::Instant;

use kdumpfile::{Compression, DumpInfo, Machine, PageSource, PfnBits};

struct Sparse {
    keep_every: u64,
}

impl PageSource for Sparse {
    fn exclude(&mut self, dumpable: &mut PfnBits) -> io::Result<()> {
        for pfn in dumpable.pfns() {
            if pfn % self.keep_every != 0 {
                dumpable.set(pfn, false);
            }
        }
        Ok(())
    }

    fn read_page(&mut self, pfn: u64, page: &mut [u8]) -> io::Result<()> {
        for (i, chunk) in page.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&(pfn ^ (i as u64 % 7)).to_le_bytes());
        }
        Ok(())
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = args.get(1).ok_or("usage: peak_memory OUT [GIB] [KEEP]")?;
    let gib: u64 = args.get(2).map_or(Ok(1024), |s| s.parse())?;
    let keep_every: u64 = args.get(3).map_or(Ok(4096), |s| s.parse())?;
    let max_mapnr = gib << 18;
    let info = DumpInfo {
        machine: Machine::X86_64,
        release: String::new(),
        version: String::new(),
        crash_time: 0,
        phys_base: 0,
        page_size: 4096,
        max_mapnr,
        notes: Vec::new(),
        vmcoreinfo: None,
        nr_cpus: 1,
        dump_level: 31,
        compression: Compression::Zstd,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(out)?;
    let before = peak_rss_kib();
    let t = Instant::now();
    let summary = kdumpfile::write_dump(
        &mut file,
        &info,
        std::slice::from_ref(&(0..max_mapnr)),
        &mut Sparse { keep_every },
        &mut |_| {},
    )?;
    println!(
        "{gib} GiB machine ({max_mapnr} pfns, bitmaps {} MiB each): {} pages dumped, file {} MiB, {:.1} s, peak RSS {} KiB (before writing {} KiB)",
        (max_mapnr / 8) >> 20,
        summary.dumped_pages,
        summary.file_size >> 20,
        t.elapsed().as_secs_f64(),
        peak_rss_kib(),
        before
    );
    Ok(())
}
