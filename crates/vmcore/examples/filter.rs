//! Runs the page filter on a vmcore and, given a kdump file of the same vmcore (makedumpfile's
//! or lastgasp's), compares the two decisions pfn by pfn; with `--write`, writes a
//! kdump-compressed dump through the filter and prints its size and time.
//!
//! `cargo run --release -p lastgasp-vmcore --example filter -- VMCORE LEVEL [--compare KDUMP]
//! [--write OUT zstd|zlib|lzo|none [--threads N]]`

use std::collections::BTreeMap;
use std::io;
use std::time::Instant;

use kdumpfile::{KdumpFile, PageSource, PfnBits};
use vmcore::filter::{Excluded, PageFilter};
use vmcore::{PhysMemory, Vmcore};

struct Source<'a> {
    filter: PageFilter<&'a dyn PhysMemory>,
    memory: &'a dyn PhysMemory,
    page_size: u64,
}

impl PageSource for Source<'_> {
    fn exclude(&mut self, dumpable: &mut PfnBits) -> io::Result<()> {
        self.filter.exclude(dumpable).map_err(io::Error::other)
    }

    fn read_page(&mut self, pfn: u64, page: &mut [u8]) -> io::Result<()> {
        self.memory
            .read_phys(pfn * self.page_size, page)
            .map_err(io::Error::other)
    }

    fn read_pages(&mut self, first: u64, _: usize, pages: &mut [u8]) -> io::Result<()> {
        self.memory
            .read_phys(first * self.page_size, pages)
            .map_err(io::Error::other)
    }
}

fn present_pfns(core: &Vmcore) -> Vec<std::ops::Range<u64>> {
    let ps = core.page_size();
    core.memory()
        .present_ranges()
        .into_iter()
        .map(|r| r.start.div_ceil(ps)..r.end / ps)
        .filter(|r| r.start < r.end)
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let core = Vmcore::open(&args[1])?;
    let level: u8 = args[2].parse()?;
    let ps = core.page_size();
    let present = present_pfns(&core);
    let max_mapnr = present.iter().map(|r| r.end).max().unwrap_or(0);

    if let Some(i) = args.iter().position(|a| a == "--write") {
        let out = &args[i + 1];
        let compression: kdumpfile::Compression = args[i + 2].parse()?;
        let notes = core.note_bytes();
        let info = core.vmcoreinfo().ok_or("no VMCOREINFO")?;
        let dump_info = kdumpfile::DumpInfo {
            machine: match core.machine() {
                vmcore::Machine::X86_64 => kdumpfile::Machine::X86_64,
                vmcore::Machine::Aarch64 => kdumpfile::Machine::Aarch64,
            },
            release: info.osrelease().unwrap_or_default().to_string(),
            version: String::new(),
            crash_time: info.crash_time().unwrap_or(0),
            phys_base: info.number_bits("phys_base").unwrap_or(0),
            page_size: ps as u32,
            max_mapnr,
            vmcoreinfo: kdumpfile::notes::find_vmcoreinfo(&notes),
            nr_cpus: kdumpfile::notes::count_prstatus(&notes),
            notes,
            dump_level: level,
            compression,
        };
        let mut source = Source {
            filter: PageFilter::for_vmcore(&core, level)?,
            memory: core.memory(),
            page_size: ps,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(out)?;
        let t = Instant::now();
        let mut limits = kdumpfile::Limits::default();
        if let Some(t) = args.iter().position(|a| a == "--threads") {
            limits.threads = args[t + 1].parse()?;
        }
        let summary = kdumpfile::write_dump_with(
            &mut file,
            &dump_info,
            &present,
            &mut source,
            &mut |_| {},
            limits,
        )?;
        println!(
            "wrote {out} in {:.3} s: {summary:?}",
            t.elapsed().as_secs_f64()
        );
        println!("excluded by struct page: {:?}", source.filter.excluded());
        return Ok(());
    }

    let t = Instant::now();
    let mut filter = PageFilter::for_vmcore(&core, level)?;
    if let Some(i) = args.iter().position(|a| a == "--show") {
        for pfn in args[i + 1].split(',') {
            let pfn = u64::from_str_radix(pfn.trim_start_matches("0x"), 16)?;
            show(&mut filter, pfn);
        }
        return Ok(());
    }
    let mut ours: Vec<PfnBits> = Vec::new();
    let window = 1 << 17;
    let mut start = 0;
    while start < max_mapnr {
        let mut bits = PfnBits::new(start, window / 8);
        for r in &present {
            bits.set_range(r.clone(), true);
        }
        filter.exclude(&mut bits)?;
        ours.push(bits);
        start += window as u64;
    }
    let e: Excluded = filter.excluded();
    println!(
        "filter in {:.3} s: excluded {} = cache {} cache_private {} user {} free {} hwpoison {} offline {}; unreadable sections {}",
        t.elapsed().as_secs_f64(),
        e.total(),
        e.cache,
        e.cache_private,
        e.user,
        e.free,
        e.hwpoison,
        e.offline,
        filter.unreadable_sections()
    );
    if let Some(i) = args.iter().position(|a| a == "--compare") {
        let mut theirs = KdumpFile::open_path(std::path::Path::new(&args[i + 1]))?;
        let mut both = BTreeMap::<&str, u64>::new();
        let mut examples = BTreeMap::<&str, Vec<u64>>::new();
        for bits in &ours {
            for pfn in bits.pfns() {
                if pfn >= max_mapnr || !theirs.is_present(pfn)? {
                    continue;
                }
                // Zero pages stay in bitmap 2 in both; compare struct-page decisions only.
                let kept_ours = bits.get(pfn);
                let kept_theirs = theirs.is_dumped(pfn)?;
                let key = match (kept_ours, kept_theirs) {
                    (true, true) => "both keep",
                    (false, false) => "both exclude",
                    (true, false) => "only makedumpfile excludes",
                    (false, true) => "only lastgasp excludes",
                };
                *both.entry(key).or_default() += 1;
                if kept_ours != kept_theirs {
                    let v = examples.entry(key).or_default();
                    if v.len() < 8 {
                        v.push(pfn);
                    }
                }
            }
        }
        println!("{both:?}");
        for (k, v) in examples {
            let hex: Vec<String> = v.iter().map(|p| format!("{p:#x}")).collect();
            println!("{k}: {}", hex.join(" "));
        }
    }
    Ok(())
}

fn show(filter: &mut PageFilter<&dyn PhysMemory>, pfn: u64) {
    let Some(page) = filter.struct_page(pfn) else {
        println!("{pfn:#x}: no struct page");
        return;
    };
    let next = filter.struct_page(pfn + 1);
    let l = filter.layout().clone();
    let u64_at =
        |b: &[u8], at: u64| u64::from_le_bytes(b[at as usize..at as usize + 8].try_into().unwrap());
    let flags = u64_at(&page, l.flags);
    let mapcount = u64_at(&page, l.mapcount) as u32;
    println!(
        "{pfn:#x}: flags {flags:#x} compound_head {:#x} mapping {:#x} mapcount {mapcount:#x} private {:#x} next flags {:#x} -> {:?}",
        l.compound_head.map_or(0, |o| u64_at(&page, o)),
        u64_at(&page, l.mapping),
        u64_at(&page, l.private),
        next.as_ref().map_or(0, |n| u64_at(n, l.flags)),
        vmcore::filter::classify(&l, filter.level(), pfn, &page, next.as_deref())
    );
}
