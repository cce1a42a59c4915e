//! Cuts a vmcore down to the pages its log needs: reads the log once, records every physical
//! page touched (page tables, ring buffer, text), and writes an ELF core holding only those
//! pages plus the original notes. Real-kernel test fixtures of a few hundred KiB come from
//! multi-GiB dumps this way:
//! `cargo run --release -p lastgasp-vmcore --example minimize -- VMCORE OUT`.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::ops::Range;

use vmcore::synthetic::ElfCoreBuilder;
use vmcore::translate::Paging;
use vmcore::{KernelMemory, PhysMemory, Vmcore, read_log};

struct Recorder<'a> {
    inner: &'a dyn PhysMemory,
    pages: RefCell<BTreeSet<u64>>,
}

impl PhysMemory for Recorder<'_> {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> vmcore::Result<()> {
        let page = self.inner.page_size();
        let last = paddr + buf.len().max(1) as u64 - 1;
        for frame in (paddr / page)..=(last / page) {
            self.pages.borrow_mut().insert(frame * page);
        }
        self.inner.read_phys(paddr, buf)
    }
    fn page_size(&self) -> u64 {
        self.inner.page_size()
    }
    fn present_ranges(&self) -> Vec<Range<u64>> {
        self.inner.present_ranges()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: minimize VMCORE OUT");
        std::process::exit(2);
    };
    let core = Vmcore::open(input)?;
    let info = core.vmcoreinfo().ok_or("no VMCOREINFO")?;
    let recorder = Recorder {
        inner: core.memory(),
        pages: RefCell::default(),
    };
    let memory = KernelMemory::new(&recorder, Paging::from_vmcoreinfo(core.machine(), info)?);
    let log = read_log(&memory, info)?;
    let mut builder = ElfCoreBuilder::new(core.machine());
    for note in core.notes() {
        builder = builder.note(note.name, note.kind, note.desc);
    }
    let page_size = core.page_size();
    let pages = recorder.pages.borrow();
    for &paddr in pages.iter() {
        let mut data = vec![0; page_size as usize];
        core.memory().read_phys(paddr, &mut data)?;
        builder = builder.load(paddr, 0, data);
    }
    std::fs::write(output, builder.build())?;
    eprintln!("{} records, {} pages kept", log.records.len(), pages.len());
    Ok(())
}
