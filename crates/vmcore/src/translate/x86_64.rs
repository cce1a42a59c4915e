//! x86_64: the kernel image mapping (`__START_KERNEL_map` + `phys_base`) and 4- or 5-level
//! page-table walks from `init_top_pgt`, with 1 GiB and 2 MiB pages and the SME mask cleared.

use super::ReadPhysU64;
use crate::{Error, Result, VmcoreInfo};

pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// KERNEL_IMAGE_SIZE with KASLR; the kernel tells its own in NUMBER(KERNEL_IMAGE_SIZE).
const DEFAULT_KERNEL_IMAGE_SIZE: u64 = 1 << 30;
const PRESENT: u64 = 1;
const PAGE_SIZE_BIT: u64 = 1 << 7;
const FRAME_MASK: u64 = 0x000f_ffff_ffff_f000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X86_64Paging {
    pub phys_base: u64,
    /// Physical address of `init_top_pgt`.
    pub top_table: u64,
    pub five_level: bool,
    pub sme_mask: u64,
    pub kernel_image_size: u64,
}

impl X86_64Paging {
    pub fn from_vmcoreinfo(info: &VmcoreInfo) -> Result<Self> {
        let phys_base = info
            .number_bits("phys_base")
            .ok_or_else(|| Error::MissingInfo("NUMBER(phys_base)".into()))?;
        let top = info
            .symbol("init_top_pgt")
            .or_else(|| info.symbol("swapper_pg_dir"))
            .ok_or_else(|| Error::MissingInfo("SYMBOL(init_top_pgt)".into()))?;
        let kernel_image_size = info
            .number_bits("KERNEL_IMAGE_SIZE")
            .filter(|&n| n > 0 && n <= 1 << 31)
            .unwrap_or(DEFAULT_KERNEL_IMAGE_SIZE);
        let mut paging = X86_64Paging {
            phys_base,
            top_table: 0,
            five_level: info.number("pgtable_l5_enabled") == Some(1),
            sme_mask: info.number_bits("sme_mask").unwrap_or(0),
            kernel_image_size,
        };
        if !paging.is_kernel_image(top) {
            return Err(Error::malformed(format!(
                "SYMBOL(init_top_pgt)={top:x} is outside the kernel image mapping"
            )));
        }
        paging.top_table = top.wrapping_sub(START_KERNEL_MAP).wrapping_add(phys_base);
        Ok(paging)
    }

    pub fn is_kernel_image(&self, vaddr: u64) -> bool {
        vaddr >= START_KERNEL_MAP && vaddr - START_KERNEL_MAP < self.kernel_image_size
    }

    pub fn translate(&self, memory: &impl ReadPhysU64, vaddr: u64) -> Result<u64> {
        if self.is_kernel_image(vaddr) {
            return Ok(vaddr
                .wrapping_sub(START_KERNEL_MAP)
                .wrapping_add(self.phys_base));
        }
        self.walk(memory, vaddr)
    }

    /// Walks the page tables; also used by tests to check the image shortcut agrees.
    pub fn walk(&self, memory: &impl ReadPhysU64, vaddr: u64) -> Result<u64> {
        let unmapped = |why: String| Error::Unmapped { vaddr, why };
        let va_bits = if self.five_level { 57 } else { 48 };
        let top_bits = (vaddr as i64) >> (va_bits - 1);
        if top_bits != 0 && top_bits != -1 {
            return Err(unmapped("not canonical".into()));
        }
        const NAMES: [&str; 5] = ["PML5", "PML4", "PDPT", "PD", "PT"];
        let first = if self.five_level { 0 } else { 1 };
        let mut table = self.top_table;
        for (level, name) in NAMES.iter().enumerate().skip(first) {
            let shift = 12 + 9 * (4 - level as u32);
            let index = (vaddr >> shift) & 0x1ff;
            let entry_addr = table
                .checked_add(index * 8)
                .ok_or_else(|| unmapped(format!("{name} table address overflows")))?;
            let entry = memory.read_phys_u64(entry_addr)?;
            if entry & PRESENT == 0 {
                return Err(unmapped(format!("{name} entry {entry:#x} not present")));
            }
            let frame = entry & FRAME_MASK & !self.sme_mask;
            let large = entry & PAGE_SIZE_BIT != 0;
            match *name {
                "PDPT" | "PD" if large => {
                    let page_mask = (1u64 << shift) - 1;
                    return Ok((frame & !page_mask) | (vaddr & page_mask));
                }
                "PT" => return Ok(frame | (vaddr & 0xfff)),
                _ => table = frame,
            }
        }
        Err(unmapped("page walk ended without a page".into()))
    }
}
