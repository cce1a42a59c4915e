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

#[cfg(test)]
mod tests {
    use super::*;
    use kdumpfile::{Compression, DumpInfo, Machine, PageSource, PfnBits, write_dump};
    use vmcore::synthetic::ElfCoreBuilder;

    const PAGE: usize = 4096;
    const PAGES: u64 = 4;

    fn page(pfn: u64) -> Vec<u8> {
        (0..PAGE).map(|i| (i as u64 * 7 + pfn * 13) as u8).collect()
    }

    /// Serves the vmcore's pages, leaves pfn 2 out, and changes one byte of `corrupt`, if any.
    struct Source {
        corrupt: Option<u64>,
    }

    impl PageSource for Source {
        fn exclude(&mut self, dumpable: &mut PfnBits) -> std::io::Result<()> {
            if dumpable.pfns().contains(&2) {
                dumpable.set(2, false);
            }
            Ok(())
        }
        fn read_page(&mut self, pfn: u64, out: &mut [u8]) -> std::io::Result<()> {
            out.copy_from_slice(&page(pfn));
            if self.corrupt == Some(pfn) {
                out[100] ^= 1;
            }
            Ok(())
        }
    }

    fn write(dir: &Path, corrupt: Option<u64>) -> (std::path::PathBuf, std::path::PathBuf) {
        let memory: Vec<u8> = (0..PAGES).flat_map(page).collect();
        let elf = dir.join(format!("vmcore-{corrupt:?}"));
        std::fs::write(
            &elf,
            ElfCoreBuilder::new(vmcore::Machine::X86_64)
                .vmcoreinfo("OSRELEASE=6.1.0-test\nPAGESIZE=4096\n")
                .load(0, 0, memory)
                .build(),
        )
        .unwrap();
        let info = DumpInfo {
            machine: Machine::X86_64,
            release: "6.1.0-test".into(),
            version: String::new(),
            crash_time: 0,
            phys_base: 0,
            page_size: PAGE as u32,
            max_mapnr: PAGES,
            notes: Vec::new(),
            vmcoreinfo: None,
            nr_cpus: 1,
            dump_level: 31,
            compression: Compression::Zlib,
        };
        let dump = dir.join(format!("dump-{corrupt:?}"));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&dump)
            .unwrap();
        write_dump(
            &mut file,
            &info,
            std::slice::from_ref(&(0..PAGES)),
            &mut Source { corrupt },
            &mut |_| {},
        )
        .unwrap();
        (dump, elf)
    }

    #[test]
    fn kept_pages_must_be_the_vmcore_s() {
        let dir = std::env::temp_dir().join(format!("compat-pages-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();

        let (dump, elf) = write(&dir, None);
        assert_eq!(
            compare(&dump, &elf).unwrap(),
            PageCount {
                dumped: 3,
                excluded: 1
            }
        );

        let (dump, elf) = write(&dir, Some(3));
        let err = compare(&dump, &elf).unwrap_err().to_string();
        assert!(
            err.contains("pfn 0x3 differs") && err.contains("byte 100"),
            "{err}"
        );

        let err = compare(&elf, &elf).unwrap_err().to_string();
        assert!(err.contains("not a dump lastgasp can read"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
