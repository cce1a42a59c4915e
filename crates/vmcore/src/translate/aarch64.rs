//! aarch64 with the 5.4+ memory layout (Debian 12's 6.1: 4 KiB pages, 48-bit VA; Debian 13's
//! 6.12: 4 KiB pages, 52-bit VA with LPA2, falling back to 48 bits on CPUs without it): the
//! linear map at the bottom of the kernel half (`pa = va - PAGE_OFFSET + PHYS_OFFSET`, with
//! `PAGE_OFFSET = -(1 << VA_BITS)` of the configured VA_BITS; on a 48-bit CPU the kernel lowers
//! PHYS_OFFSET instead), the kernel image at `va - kimage_voffset`, and page-table walks from
//! `swapper_pg_dir` sized by the running VA size (TCR_EL1.T1SZ): 4, 16 and 64 KiB granules,
//! up to five levels, LPA2 and 64 KiB LPA descriptors for 52-bit output addresses.

use super::ReadPhysU64;
use crate::{Error, Result, VmcoreInfo};

const OUTPUT_ADDRESS_MASK: u64 = 0x0000_ffff_ffff_f000;
/// With LPA2 the output address has 50 bits in place and bits 51:50 in descriptor bits 9:8.
const LPA2_ADDRESS_MASK: u64 = 0x0003_ffff_ffff_f000;

/// Where a descriptor keeps output address bits 51:48, if anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HighAddress {
    /// 48-bit output addresses.
    None,
    /// 4/16 KiB granule with LPA2 (52-bit VA running): bits 51:50 in descriptor bits 9:8.
    Lpa2,
    /// 64 KiB granule with LPA: bits 51:48 in descriptor bits 15:12.
    Lpa64k,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aarch64Paging {
    pub kimage_voffset: u64,
    pub phys_offset: u64,
    /// The running kernel's kernel-half VA size (from TCR_EL1.T1SZ when given).
    pub va_bits: u32,
    /// `PAGE_OFFSET`, from the configured VA_BITS.
    pub page_offset: u64,
    /// `PAGE_END`: the linear map ends here.
    pub page_end: u64,
    /// How descriptors hold output address bits above 47.
    pub high_address: HighAddress,
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
        let configured = u32::try_from(configured)
            .ok()
            .filter(|b| (36..=52).contains(b))
            .ok_or_else(|| {
                Error::Unsupported(format!("aarch64 VA_BITS {configured} is outside 36..=52"))
            })?;
        let va_bits = match info.number("TCR_EL1_T1SZ") {
            Some(t1sz @ 12..=28) => 64 - t1sz as u32,
            _ => configured,
        };
        let page_size = info
            .page_size()
            .ok_or_else(|| Error::MissingInfo("PAGESIZE".into()))?;
        if ![4096, 16384, 65536].contains(&page_size) {
            return Err(Error::Unsupported(format!(
                "aarch64 page size {page_size} is not 4, 16 or 64 KiB"
            )));
        }
        // VA_BITS_MIN: what every CPU can address, where the linear map ends.
        let va_bits_min = match (configured > 48, page_size) {
            (true, 16384) => 47,
            (true, _) => 48,
            (false, _) => configured,
        };
        let high_address = match (va_bits, page_size) {
            (52, 65536) => HighAddress::Lpa64k,
            (52, _) => HighAddress::Lpa2,
            _ if page_size == 65536 && info.number("MAX_PHYSMEM_BITS") == Some(52) => {
                HighAddress::Lpa64k
            }
            _ => HighAddress::None,
        };
        let top_table = info
            .symbol("swapper_pg_dir")
            .map(|va| va.wrapping_sub(kimage_voffset));
        Ok(Aarch64Paging {
            kimage_voffset,
            phys_offset,
            va_bits,
            page_offset: u64::MAX << configured,
            page_end: u64::MAX << (va_bits_min - 1),
            high_address,
            page_shift: page_size.trailing_zeros(),
            top_table,
        })
    }

    /// The linear map: `[PAGE_OFFSET, PAGE_END)`.
    pub fn is_linear(&self, vaddr: u64) -> bool {
        vaddr >= self.page_offset && vaddr < self.page_end
    }

    pub fn translate(&self, memory: &impl ReadPhysU64, vaddr: u64) -> Result<u64> {
        if self.is_linear(vaddr) {
            return Ok((vaddr - self.page_offset).wrapping_add(self.phys_offset));
        }
        if vaddr < u64::MAX << self.va_bits {
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

    fn output_address(&self, entry: u64) -> u64 {
        let page_mask = !((1u64 << self.page_shift) - 1);
        match self.high_address {
            HighAddress::None => entry & OUTPUT_ADDRESS_MASK & page_mask,
            HighAddress::Lpa2 => (entry & LPA2_ADDRESS_MASK & page_mask) | ((entry >> 8) & 3) << 50,
            HighAddress::Lpa64k => {
                (entry & OUTPUT_ADDRESS_MASK & page_mask) | ((entry >> 12) & 0xf) << 48
            }
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
        let mut table = top;
        for step in 0..levels {
            // Levels are numbered so that the last is 3; five-level tables start at -1.
            let level = 4 - levels as i32 + step as i32;
            let shift = self.page_shift + bits_per_level * (levels - 1 - step);
            let index_bits = (self.va_bits - shift).min(bits_per_level);
            let index = (vaddr >> shift) & ((1u64 << index_bits) - 1);
            let entry = memory.read_phys_u64(table.wrapping_add(index * 8))?;
            let address = self.output_address(entry);
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
