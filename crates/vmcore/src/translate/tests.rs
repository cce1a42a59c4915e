//! Translation over hand-built page tables: both architectures, every page size and level
//! count, and the entries that must stop a walk.

use std::collections::HashMap;

use super::*;
use crate::Error;

#[derive(Default)]
struct Tables(HashMap<u64, u64>);

impl Tables {
    fn set(&mut self, table: u64, index: u64, entry: u64) {
        self.0.insert(table + 8 * index, entry);
    }
}

impl ReadPhysU64 for Tables {
    fn read_phys_u64(&self, paddr: u64) -> crate::Result<u64> {
        Ok(self.0.get(&paddr).copied().unwrap_or(0))
    }
}

fn info(text: &str) -> VmcoreInfo {
    VmcoreInfo::parse(text.as_bytes())
}

#[test]
fn x86_64_five_levels_one_gib_pages_and_sme() {
    let sme = 1u64 << 47;
    let paging = X86_64Paging::from_vmcoreinfo(&info(&format!(
        "SYMBOL(init_top_pgt)=ffffffff82a0a000\nNUMBER(phys_base)=-16777216\n\
         NUMBER(pgtable_l5_enabled)=1\nNUMBER(sme_mask)={sme}\n"
    )))
    .unwrap();
    // phys_base -16 MiB: the image was loaded 16 MiB lower than linked.
    assert_eq!(paging.top_table, 0x2a0a000 - 0x100_0000);
    let va = 0xff11_0000_4000_1234u64;
    let mut t = Tables::default();
    let top = paging.top_table;
    t.set(top, (va >> 48) & 0x1ff, 0x10_0000 | sme | 0x63);
    t.set(0x10_0000, (va >> 39) & 0x1ff, 0x20_0000 | 0x63);
    t.set(0x20_0000, (va >> 30) & 0x1ff, 0x1_4000_0000 | sme | 0xe3);
    assert_eq!(paging.translate(&t, va).unwrap(), 0x1_4000_1234);
    // The image mapping needs no tables.
    assert_eq!(
        paging.translate(&t, 0xffff_ffff_8300_0010).unwrap(),
        0x300_0010 - 0x100_0000
    );
    // 4-level canonical form is not 5-level canonical form.
    let err = paging.translate(&t, 0x0100_0000_0000_0000).unwrap_err();
    assert!(err.to_string().contains("not canonical"), "{err}");
}

#[test]
fn x86_64_four_levels_two_mib_and_missing_entries() {
    let paging = X86_64Paging::from_vmcoreinfo(&info(
        "SYMBOL(init_top_pgt)=ffffffff81000000\nNUMBER(phys_base)=0\n",
    ))
    .unwrap();
    let va = 0xffff_8880_0060_0abcu64;
    let mut t = Tables::default();
    t.set(0x100_0000, (va >> 39) & 0x1ff, 0x5000 | 0x63);
    t.set(0x5000, (va >> 30) & 0x1ff, 0x6000 | 0x63);
    t.set(0x6000, (va >> 21) & 0x1ff, 0x8000_0000 | 0xe3);
    assert_eq!(
        paging.translate(&t, va).unwrap(),
        0x8000_0000 | (va & 0x1f_ffff)
    );
    let other = va + (1 << 30);
    let err = paging.translate(&t, other).unwrap_err();
    assert!(
        matches!(&err, Error::Unmapped { why, .. } if why.contains("PDPT entry 0x0 not present")),
        "{err}"
    );
    assert!(
        X86_64Paging::from_vmcoreinfo(&info("NUMBER(phys_base)=0\n")).is_err(),
        "no init_top_pgt"
    );
    assert!(
        X86_64Paging::from_vmcoreinfo(&info("SYMBOL(init_top_pgt)=1000\nNUMBER(phys_base)=0\n"))
            .is_err(),
        "a top table outside the image"
    );
}

const ARM64_INFO: &str = "PAGESIZE=4096\nNUMBER(VA_BITS)=48\nNUMBER(kimage_voffset)=0xffff800007e00000\n\
    NUMBER(PHYS_OFFSET)=0x40000000\nSYMBOL(swapper_pg_dir)=ffff800009a01000\n";

#[test]
fn aarch64_linear_map_image_and_4k_walk() {
    let paging = Aarch64Paging::from_vmcoreinfo(&info(ARM64_INFO)).unwrap();
    assert_eq!(paging.page_offset, 0xffff_0000_0000_0000);
    let t = Tables::default();
    assert_eq!(
        paging.translate(&t, 0xffff_0000_0012_3456).unwrap(),
        0x4012_3456
    );
    let top = paging.top_table.unwrap();
    assert_eq!(top, 0xffff_8000_09a0_1000 - 0xffff_8000_07e0_0000);

    let va = 0xffff_8000_1234_5678u64;
    let mut t = Tables::default();
    t.set(top, (va >> 39) & 0x1ff, 0x4100_0000 | 3);
    t.set(0x4100_0000, (va >> 30) & 0x1ff, 0x4100_1000 | 3);
    t.set(0x4100_1000, (va >> 21) & 0x1ff, 0x4100_2000 | 3);
    t.set(0x4100_2000, (va >> 12) & 0x1ff, 0x4765_4000 | 0x703);
    assert_eq!(paging.translate(&t, va).unwrap(), 0x4765_4678);
    // A 2 MiB block at level 2.
    let block_va = va + (1 << 21);
    t.set(0x4100_1000, (block_va >> 21) & 0x1ff, 0x4820_0000 | 0x701);
    assert_eq!(
        paging.translate(&t, block_va).unwrap(),
        0x4820_0000 | (block_va & 0x1f_ffff)
    );
    // A block descriptor at level 3 is invalid.
    t.set(0x4100_2000, (va >> 12) & 0x1ff, 0x4765_4000 | 1);
    let err = paging.translate(&t, va).unwrap_err();
    assert!(err.to_string().contains("level 3 descriptor"), "{err}");
    // User addresses are not the kernel's.
    assert!(paging.translate(&t, 0x0000_7fff_0000_0000).is_err());
}

#[test]
fn aarch64_negative_phys_offset_and_t1sz() {
    let paging = Aarch64Paging::from_vmcoreinfo(&info(
        "PAGESIZE=4096\nNUMBER(VA_BITS)=48\nNUMBER(TCR_EL1_T1SZ)=0x10\n\
         NUMBER(kimage_voffset)=0xffffabcde6600000\nNUMBER(PHYS_OFFSET)=0xffffe4fc00000000\n",
    ))
    .unwrap();
    assert_eq!(paging.va_bits, 48);
    let t = Tables::default();
    // A randomized linear map: memstart_addr below zero.
    let pa = 0x4123_4000u64;
    let va = pa.wrapping_sub(0xffff_e4fc_0000_0000) | 0xffff_0000_0000_0000;
    assert_eq!(paging.translate(&t, va).unwrap(), pa);
    // Without swapper_pg_dir, image addresses use kimage_voffset.
    assert_eq!(
        paging.translate(&t, 0xffff_abce_284e_8750).unwrap(),
        0xffff_abce_284e_8750 - 0xffff_abcd_e660_0000
    );
}

/// Debian 13's arm64 kernel is built for 52-bit VA; on a CPU without LPA2 it runs with 48 bits,
/// keeps PAGE_OFFSET at the 52-bit value and lowers PHYS_OFFSET so RAM lands where 48 bits reach.
#[test]
fn aarch64_52_bit_kernel_on_a_48_bit_cpu() {
    let memstart = 0x4000_0000u64;
    let lowered = memstart.wrapping_sub((u64::MAX << 48).wrapping_sub(u64::MAX << 52));
    let paging = Aarch64Paging::from_vmcoreinfo(&info(&format!(
        "PAGESIZE=4096\nNUMBER(VA_BITS)=52\nNUMBER(TCR_EL1_T1SZ)=16\n\
         NUMBER(kimage_voffset)=0xffff800007e00000\nNUMBER(PHYS_OFFSET)={:#x}\n\
         SYMBOL(swapper_pg_dir)=ffff800009a01000\n",
        lowered
    )))
    .unwrap();
    assert_eq!(paging.va_bits, 48);
    assert_eq!(paging.page_offset, 0xfff0_0000_0000_0000);
    assert_eq!(paging.high_address, HighAddress::None);
    let t = Tables::default();
    // The kernel's __phys_to_virt: (pa - PHYS_OFFSET) | PAGE_OFFSET.
    let pa = 0x4123_4000u64;
    let va = pa.wrapping_sub(lowered) | paging.page_offset;
    assert_eq!(va, 0xffff_0000_0123_4000);
    assert_eq!(paging.translate(&t, va).unwrap(), pa);
    // Walks use the running four levels.
    let image = 0xffff_8000_1234_5678u64;
    let top = paging.top_table.unwrap();
    let mut t = Tables::default();
    t.set(top, (image >> 39) & 0x1ff, 0x4100_0000 | 3);
    t.set(0x4100_0000, (image >> 30) & 0x1ff, 0x4100_1000 | 3);
    t.set(0x4100_1000, (image >> 21) & 0x1ff, 0x4020_0000 | 1);
    assert_eq!(
        paging.translate(&t, image).unwrap(),
        0x4020_0000 | (image & 0x1f_ffff)
    );
}

/// The same kernel on an LPA2 CPU: 52-bit VA, five levels of 4 KiB tables, output address bits
/// 51:50 in descriptor bits 9:8.
#[test]
fn aarch64_lpa2_five_levels() {
    let paging = Aarch64Paging::from_vmcoreinfo(&info(
        "PAGESIZE=4096\nNUMBER(VA_BITS)=52\nNUMBER(TCR_EL1_T1SZ)=12\n\
         NUMBER(kimage_voffset)=0xffff800007e00000\nNUMBER(PHYS_OFFSET)=0x40000000\n\
         SYMBOL(swapper_pg_dir)=ffff800009a01000\n",
    ))
    .unwrap();
    assert_eq!(paging.va_bits, 52);
    assert_eq!(paging.high_address, HighAddress::Lpa2);
    let top = paging.top_table.unwrap();
    let va = 0xffff_9000_1234_5678u64;
    let mut t = Tables::default();
    let high = |pa: u64| (pa & 0x0003_ffff_ffff_f000) | ((pa >> 50) & 3) << 8;
    t.set(top, (va >> 48) & 0xf, high(0x4100_0000) | 3);
    t.set(0x4100_0000, (va >> 39) & 0x1ff, high(0x4100_1000) | 3);
    t.set(0x4100_1000, (va >> 30) & 0x1ff, high(0x4100_2000) | 3);
    t.set(0x4100_2000, (va >> 21) & 0x1ff, high(0x4100_3000) | 3);
    let page = 0x000c_0012_3456_0000u64 | 0x7000;
    t.set(0x4100_3000, (va >> 12) & 0x1ff, high(page) | 3);
    assert_eq!(paging.translate(&t, va).unwrap(), page | 0x678);
}

#[test]
fn aarch64_64k_granule_three_levels() {
    let text = ARM64_INFO.replace("PAGESIZE=4096", "PAGESIZE=65536");
    let paging = Aarch64Paging::from_vmcoreinfo(&info(&text)).unwrap();
    let top = paging.top_table.unwrap();
    let va = 0xffff_8000_1234_5678u64;
    let mut t = Tables::default();
    t.set(top, (va >> 42) & 0x3f, 0x5000_0000 | 3);
    t.set(0x5000_0000, (va >> 29) & 0x1fff, 0x5001_0000 | 3);
    t.set(0x5001_0000, (va >> 16) & 0x1fff, 0x6abc_0000 | 3);
    assert_eq!(
        paging.translate(&t, va).unwrap(),
        0x6abc_0000 | (va & 0xffff)
    );
}

#[test]
fn aarch64_requires_its_numbers() {
    for missing in [
        "NUMBER(VA_BITS)",
        "NUMBER(kimage_voffset)",
        "NUMBER(PHYS_OFFSET)",
    ] {
        let text: String = ARM64_INFO
            .lines()
            .filter(|l| !l.starts_with(missing))
            .map(|l| format!("{l}\n"))
            .collect();
        let err = Aarch64Paging::from_vmcoreinfo(&info(&text)).unwrap_err();
        assert_eq!(err.to_string(), format!("VMCOREINFO has no {missing}"));
    }
    let text = ARM64_INFO.replace("PAGESIZE=4096", "PAGESIZE=8192");
    assert!(Aarch64Paging::from_vmcoreinfo(&info(&text)).is_err());
}
