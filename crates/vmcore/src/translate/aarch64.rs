//! aarch64 with the 5.4+ memory layout (Debian 12's 6.1 and Debian 13's 6.12): the linear map
//! at the bottom of the kernel half (`PAGE_OFFSET = -(1 << VA_BITS)`, `pa = va - PAGE_OFFSET +
//! PHYS_OFFSET`), the kernel image at `va - kimage_voffset`, and page-table walks from
//! `swapper_pg_dir` (4 KiB, 16 KiB and 64 KiB granules, 48-bit output addresses) for the rest.

use super::ReadPhysU64;
use crate::{Error, Result, VmcoreInfo};

const OUTPUT_ADDRESS_MASK: u64 = 0x0000_ffff_ffff_f000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aarch64Paging {
    pub kimage_voffset: u64,
    pub phys_offset: u64,
    /// The running kernel's kernel-half VA size (from TCR_EL1.T1SZ when given).
    pub va_bits: u32,
    pub page_offset: u64,
    pub page_shift: u32,
    /// Physical address of `swapper_pg_dir`, when VMCOREINFO names it.
    pub top_table: Option<u64>,
}

impl Aarch64Paging {
    pub fn from_vmcoreinfo(info: &VmcoreInfo) -> Result<Self> {
        let required = |name: &str| {
            info.number_bits(name)
                .ok_or_else(|| Error::MissingInfo(format!("NUMBER({name})")))
        };
        let kimage_voffset = required("kimage_voffset")?;
        let phys_offset = required("PHYS_OFFSET")?;
        let configured = required("VA_BITS")?;
        let va_bits = match info.number("TCR_EL1_T1SZ") {
            Some(t1sz @ 12..=39) => 64 - t1sz as u32,
            _ => u32::try_from(configured).unwrap_or(0),
        };
        if !(36..=52).contains(&va_bits) {
            return Err(Error::Unsupported(format!(
                "aarch64 VA_BITS {va_bits} is outside 36..=52"
            )));
        }
        let page_size = info
            .page_size()
            .ok_or_else(|| Error::MissingInfo("PAGESIZE".into()))?;
        if ![4096, 16384, 65536].contains(&page_size) {
            return Err(Error::Unsupported(format!(
                "aarch64 page size {page_size} is not 4, 16 or 64 KiB"
            )));
        }
        let top_table = info
            .symbol("swapper_pg_dir")
            .map(|va| va.wrapping_sub(kimage_voffset));
        Ok(Aarch64Paging {
            kimage_voffset,
            phys_offset,
            va_bits,
            page_offset: u64::MAX << va_bits,
            page_shift: page_size.trailing_zeros(),
            top_table,
        })
    }

    /// The linear map covers the lower half of the kernel's VA range.
    pub fn is_linear(&self, vaddr: u64) -> bool {
        vaddr >= self.page_offset && vaddr - self.page_offset < 1u64 << (self.va_bits - 1)
    }

    pub fn translate(&self, memory: &impl ReadPhysU64, vaddr: u64) -> Result<u64> {
        if self.is_linear(vaddr) {
            return Ok((vaddr - self.page_offset).wrapping_add(self.phys_offset));
        }
        if vaddr < self.page_offset {
            return Err(Error::Unmapped {
                vaddr,
                why: "below the kernel half".into(),
            });
        }
        match self.top_table {
            Some(_) => self.walk(memory, vaddr),
            None => Ok(vaddr.wrapping_sub(self.kimage_voffset)),
        }
    }

    /// Walks the kernel page tables (TTBR1).
    pub fn walk(&self, memory: &impl ReadPhysU64, vaddr: u64) -> Result<u64> {
        let unmapped = |why: String| Error::Unmapped { vaddr, why };
        let top = self
            .top_table
            .ok_or_else(|| unmapped("VMCOREINFO has no SYMBOL(swapper_pg_dir)".into()))?;
        let bits_per_level = self.page_shift - 3;
        let levels = (self.va_bits - self.page_shift).div_ceil(bits_per_level);
        let first_level = 4 - levels;
        let mut table = top;
        for step in 0..levels {
            let level = first_level + step;
            let shift = self.page_shift + bits_per_level * (levels - 1 - step);
            let index_bits = (self.va_bits - shift).min(bits_per_level);
            let index = (vaddr >> shift) & ((1u64 << index_bits) - 1);
            let entry = memory.read_phys_u64(table.wrapping_add(index * 8))?;
            let address = entry & OUTPUT_ADDRESS_MASK & !((1u64 << self.page_shift) - 1);
            match (entry & 3, step + 1 == levels) {
                (3, false) => table = address,
                (3, true) => return Ok(address | (vaddr & ((1u64 << self.page_shift) - 1))),
                (1, false) if level > 0 => {
                    let block_mask = (1u64 << shift) - 1;
                    return Ok((address & !block_mask) | (vaddr & block_mask));
                }
                _ => {
                    return Err(unmapped(format!(
                        "level {level} descriptor {entry:#x} is not valid"
                    )));
                }
            }
        }
        Err(unmapped("page walk ended without a page".into()))
    }
}
