//! Every page a kdump-compressed dump holds, read back with lastgasp's own reader and compared
//! with the same physical page of the ELF vmcore it was made from: a filter may leave pages out,
//! but a page that is in the dump must be the crashed machine's page, byte for byte.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result, bail};
use kdumpfile::KdumpFile;
use vmcore::{ElfCore, ElfMemory, PhysMemory};

/// What the comparison counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCount {
    /// Pages the dump holds (all equal to the vmcore's when the check passes).
    pub dumped: u64,
    /// Pages that exist in the dump's first bitmap but were filtered out.
    pub excluded: u64,
}

/// Compares every dumped page of `dump` with `elf`; fails on the first page that differs or
/// that the vmcore does not have.
pub fn compare(dump: &Path, elf: &Path) -> Result<PageCount> {
    let mut kdump = KdumpFile::open_path(dump)
        .with_context(|| format!("{}: not a dump lastgasp can read", dump.display()))?;
    let file = File::open(elf).with_context(|| format!("opening {}", elf.display()))?;
    let core = ElfCore::read(&file).with_context(|| format!("reading {}", elf.display()))?;
    let page_size = kdump.page_size();
    let memory = ElfMemory::new(&file, &core.loads, core.file_size, page_size as u64);
    let mut count = PageCount::default();
    let mut vmcore_page = vec![0u8; page_size];
    for pfn in 0..kdump.max_mapnr() {
        if !kdump.is_dumped(pfn)? {
            if kdump.is_present(pfn)? {
                count.excluded += 1;
            }
            continue;
        }
        let paddr = pfn
            .checked_mul(page_size as u64)
            .context("page address overflows")?;
        memory.read_phys(paddr, &mut vmcore_page).with_context(|| {
            format!(
                "the dump holds pfn {pfn:#x} but {} has no such page",
                elf.display()
            )
        })?;
        let dumped = kdump
            .read_page(pfn)?
            .with_context(|| format!("pfn {pfn:#x} is marked dumped but cannot be read"))?;
        if dumped != vmcore_page.as_slice() {
            let at = dumped
                .iter()
                .zip(&vmcore_page)
                .position(|(a, b)| a != b)
                .unwrap_or(dumped.len().min(vmcore_page.len()));
            bail!(
                "pfn {pfn:#x} differs from the vmcore's page at byte {at} (paddr {:#x})",
                paddr + at as u64
            );
        }
        count.dumped += 1;
    }
    if count.dumped == 0 {
        bail!("{} holds no page at all", dump.display());
    }
    Ok(count)
}
