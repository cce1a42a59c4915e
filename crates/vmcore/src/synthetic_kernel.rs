//! A synthetic crashed x86_64 kernel for tests and fuzz targets: 4 MiB of physical memory with
//! real page tables (4 KiB pages and a 2 MiB page for the direct map, 2 MiB pages for the kernel
//! image), a printk ring buffer written the way the kernel's writer does (ids, lpos, wraps,
//! recycled descriptors) or a pre-5.10 `printk_log` buffer, and the VMCOREINFO describing them.

use crate::Machine;
use crate::synthetic::ElfCoreBuilder;
use crate::translate::START_KERNEL_MAP;

/// Physical base of the synthetic RAM (2 MiB aligned).
pub const RAM_BASE: u64 = 0x100_0000;
pub const RAM_SIZE: u64 = 4 << 20;
/// The direct map's base without KASLR on 4-level paging.
pub const PAGE_OFFSET: u64 = 0xffff_8880_0000_0000;

const PML4: u64 = RAM_BASE;
const PDPT_DIRECT: u64 = RAM_BASE + 0x1000;
const PD_DIRECT: u64 = RAM_BASE + 0x2000;
const PT_DIRECT: u64 = RAM_BASE + 0x3000;
const PDPT_IMAGE: u64 = RAM_BASE + 0x4000;
const PD_IMAGE: u64 = RAM_BASE + 0x5000;
const FIRST_FREE: u64 = RAM_BASE + 0x6000;

const ID_MASK: u64 = (1 << 62) - 1;
const STATE_FINALIZED: u64 = 2;
const STATE_REUSABLE: u64 = 3;
const NO_LPOS: u64 = 3;

#[derive(Debug, Clone)]
pub struct SyntheticKernel {
    /// Physical memory `[RAM_BASE, RAM_BASE + RAM_SIZE)`.
    pub ram: Vec<u8>,
    next_free: u64,
    /// VMCOREINFO lines beyond the paging ones; tests may edit or drop any.
    pub vmcoreinfo: Vec<String>,
}

impl Default for SyntheticKernel {
    fn default() -> Self {
        Self::new()
    }
}

impl SyntheticKernel {
    pub fn new() -> Self {
        let mut kernel = SyntheticKernel {
            ram: vec![0; RAM_SIZE as usize],
            next_free: FIRST_FREE,
            vmcoreinfo: Vec::new(),
        };
        let table = |pa: u64| pa | 0x63;
        // Direct map: PML4[273] -> PDPT -> PD; PD[8] -> PT with 4 KiB pages, PD[9] a 2 MiB page.
        kernel.poke_phys_u64(PML4 + 8 * pml4_index(PAGE_OFFSET), table(PDPT_DIRECT));
        kernel.poke_phys_u64(PDPT_DIRECT, table(PD_DIRECT));
        kernel.poke_phys_u64(PD_DIRECT + 8 * 8, table(PT_DIRECT));
        for i in 0..512 {
            kernel.poke_phys_u64(PT_DIRECT + 8 * i, (RAM_BASE + 0x1000 * i) | 0x63);
        }
        kernel.poke_phys_u64(PD_DIRECT + 8 * 9, (RAM_BASE + (2 << 20)) | 0xe3);
        // Kernel image: PML4[511] -> PDPT[510] -> PD with 2 MiB pages.
        kernel.poke_phys_u64(PML4 + 8 * 511, table(PDPT_IMAGE));
        kernel.poke_phys_u64(PDPT_IMAGE + 8 * 510, table(PD_IMAGE));
        for i in 0..2 {
            kernel.poke_phys_u64(PD_IMAGE + 8 * (8 + i), (RAM_BASE + (i << 21)) | 0xe3);
        }
        // init_uts_ns: `struct new_utsname` at offset 0, release at 65 * 2.
        let uts = kernel.alloc(65 * 6);
        kernel.poke_phys(uts, b"Linux");
        kernel.poke_phys(uts + 65, b"synthetic");
        kernel.poke_phys(uts + 130, b"6.1.0-56-amd64");
        kernel.poke_phys(uts + 260, b"x86_64");
        kernel.vmcoreinfo = [
            "OSRELEASE=6.1.0-56-amd64".to_owned(),
            format!("SYMBOL(init_uts_ns)={:x}", image_va(uts)),
            "OFFSET(uts_namespace.name)=0".to_owned(),
            "PAGESIZE=4096".to_owned(),
            format!("SYMBOL(init_top_pgt)={:x}", image_va(PML4)),
            format!("SYMBOL(swapper_pg_dir)={:x}", image_va(PML4)),
            "NUMBER(phys_base)=0".to_owned(),
            "NUMBER(pgtable_l5_enabled)=0".to_owned(),
            "NUMBER(KERNEL_IMAGE_SIZE)=1073741824".to_owned(),
            "NUMBER(sme_mask)=0".to_owned(),
            "KERNELOFFSET=0".to_owned(),
            "CRASHTIME=1764547200".to_owned(),
        ]
        .into();
        kernel
    }

    /// Reserves `size` bytes of RAM, 64-byte aligned; returns the physical address.
    pub fn alloc(&mut self, size: u64) -> u64 {
        let pa = self.next_free.div_ceil(64) * 64;
        self.next_free = pa + size;
        assert!(self.next_free <= RAM_BASE + RAM_SIZE, "synthetic RAM full");
        pa
    }

    pub fn poke_phys(&mut self, pa: u64, bytes: &[u8]) {
        let at = (pa - RAM_BASE) as usize;
        self.ram[at..at + bytes.len()].copy_from_slice(bytes);
    }

    pub fn poke_phys_u64(&mut self, pa: u64, value: u64) {
        self.poke_phys(pa, &value.to_le_bytes());
    }

    pub fn peek_phys_u64(&self, pa: u64) -> u64 {
        let at = (pa - RAM_BASE) as usize;
        u64::from_le_bytes(self.ram[at..at + 8].try_into().unwrap_or_default())
    }

    /// Sets or replaces a VMCOREINFO entry (`key` like `SYMBOL(prb)`).
    pub fn set_info(&mut self, key: &str, value: &str) {
        self.remove_info(key);
        self.vmcoreinfo.push(format!("{key}={value}"));
    }

    pub fn remove_info(&mut self, key: &str) {
        let prefix = format!("{key}=");
        self.vmcoreinfo.retain(|l| !l.starts_with(&prefix));
    }

    pub fn info(&self) -> crate::VmcoreInfo {
        crate::VmcoreInfo::parse(self.vmcoreinfo_text().as_bytes())
    }

    pub fn vmcoreinfo_text(&self) -> String {
        let mut text = self.vmcoreinfo.join("\n");
        text.push('\n');
        text
    }

    /// An ELF core like /proc/vmcore: notes for `cpus` CPUs and VMCOREINFO, the kernel image
    /// mapping as a PT_LOAD, and RAM as one PT_LOAD with its direct-map `p_vaddr`.
    pub fn elf(&self, cpus: usize) -> Vec<u8> {
        ElfCoreBuilder::new(Machine::X86_64)
            .prstatus(cpus)
            .vmcoreinfo(&self.vmcoreinfo_text())
            .load(RAM_BASE, image_va(RAM_BASE), self.ram.clone())
            .load(RAM_BASE, PAGE_OFFSET + RAM_BASE, self.ram.clone())
            .build()
    }

    /// Writes a lockless ring (6.1 layout) holding `records`, oldest first, as the kernel's
    /// writer would have: `count_bits` descriptors, a `2^size_bits`-byte text ring, ids from
    /// `first_id`; older records are recycled as the rings fill. The ring lives in the direct
    /// map (as after `log_buf_len=`), `prb` in the kernel image.
    pub fn lockless_ring(
        &mut self,
        records: &[SyntheticRecord],
        count_bits: u32,
        size_bits: u32,
        first_id: u64,
    ) -> RingAddresses {
        let count = 1u64 << count_bits;
        let size = 1u64 << size_bits;
        let prb_var = self.alloc(8);
        let ring = self.alloc(88);
        let descs = self.alloc(24 * count);
        let infos = self.alloc(88 * count);
        let data = self.alloc(size);
        self.poke_phys_u64(prb_var, direct_va(ring));

        // Every descriptor starts reusable with an id one lap behind, as prb_init leaves them.
        for index in 0..count {
            let stale = first_id.wrapping_sub(count).wrapping_add(index) & ID_MASK;
            self.poke_phys_u64(descs + 24 * index, (STATE_REUSABLE << 62) | stale);
            self.poke_phys_u64(descs + 24 * index + 8, 1);
            self.poke_phys_u64(descs + 24 * index + 16, 1);
        }
        let mut blocks: Vec<Option<(u64, u64)>> = Vec::with_capacity(records.len());
        let mut oldest_alive = 0usize;
        let mut head_lpos = 0u64.wrapping_sub(size);
        for (n, record) in records.iter().enumerate() {
            let id = first_id.wrapping_add(n as u64) & ID_MASK;
            let index = id & (count - 1);
            let block = if record.text.is_empty() {
                None
            } else {
                let len = (8 + record.text.len() as u64).div_ceil(8) * 8;
                assert!(len <= size / 2, "record too large for the synthetic ring");
                let begin = head_lpos;
                let start_index = begin & (size - 1);
                // As the kernel's get_next_lpos: a block reaching the end goes to index 0.
                let (write_at, next) = if start_index + len >= size {
                    (0, (begin | (size - 1)).wrapping_add(1).wrapping_add(len))
                } else {
                    (start_index, begin.wrapping_add(len))
                };
                head_lpos = next;
                self.poke_phys_u64(data + write_at, id);
                self.poke_phys(data + write_at + 8, &record.text);
                Some((begin, next))
            };
            blocks.push(block);
            // The tail moves past every record up to the last one whose text was overwritten,
            // and past every record whose descriptor slot comes round again.
            let overwritten = (oldest_alive..n).rev().find(|&k| {
                blocks[k].is_some_and(|(begin, _)| head_lpos.wrapping_sub(begin) > size)
            });
            let mut new_oldest = overwritten.map_or(oldest_alive, |k| k + 1);
            new_oldest = new_oldest.max((n + 1).saturating_sub(count as usize));
            for k in oldest_alive..new_oldest {
                if n - k < count as usize {
                    let old_id = first_id.wrapping_add(k as u64) & ID_MASK;
                    self.set_state(descs, count, old_id, STATE_REUSABLE);
                }
            }
            oldest_alive = new_oldest;
            let (begin, next) = block.unwrap_or((NO_LPOS, NO_LPOS));
            self.poke_phys_u64(descs + 24 * index, (STATE_FINALIZED << 62) | id);
            self.poke_phys_u64(descs + 24 * index + 8, begin);
            self.poke_phys_u64(descs + 24 * index + 16, next);
            let info = infos + 88 * index;
            self.poke_phys(info, &[0; 88]);
            self.poke_phys_u64(info, record.seq.unwrap_or(n as u64));
            self.poke_phys_u64(info + 8, record.ts_nsec);
            self.poke_phys(info + 16, &(record.text.len() as u16).to_le_bytes());
            self.poke_phys(info + 20, &record.caller_id.to_le_bytes());
        }
        let head_id = first_id.wrapping_add(records.len() as u64).wrapping_sub(1) & ID_MASK;
        let tail_id = if records.is_empty() {
            head_id
        } else {
            first_id.wrapping_add(oldest_alive as u64) & ID_MASK
        };
        self.poke_phys(ring, &count_bits.to_le_bytes());
        self.poke_phys_u64(ring + 8, direct_va(descs));
        self.poke_phys_u64(ring + 16, direct_va(infos));
        self.poke_phys_u64(ring + 24, head_id);
        self.poke_phys_u64(ring + 32, tail_id);
        self.poke_phys(ring + 48, &size_bits.to_le_bytes());
        self.poke_phys_u64(ring + 56, direct_va(data));
        self.poke_phys_u64(ring + 64, head_lpos);

        for (key, value) in LOCKLESS_LAYOUT_6_1 {
            self.set_info(key, value);
        }
        self.set_info("SYMBOL(prb)", &format!("{:x}", image_va(prb_var)));
        self.set_info("SYMBOL(printk_rb_static)", &format!("{:x}", image_va(ring)));
        RingAddresses {
            prb_var,
            ring,
            descs,
            infos,
            data,
        }
    }

    fn set_state(&mut self, descs: u64, count: u64, id: u64, state: u64) {
        let at = descs + 24 * (id & (count - 1));
        self.poke_phys_u64(at, (state << 62) | id);
    }

    /// Describes a FLATMEM memory model with a non-zero `mem_map`: makedumpfile insists on
    /// knowing the memory model even to dump the log, and this is the least it accepts.
    pub fn describe_flatmem(&mut self) {
        let mem_map_var = self.alloc(8);
        let mem_map = self.alloc(64);
        self.poke_phys_u64(mem_map_var, direct_va(mem_map));
        for (key, value) in [
            ("SYMBOL(mem_map)", format!("{:x}", image_va(mem_map_var))),
            ("SIZE(page)", "64".into()),
            ("OFFSET(page.flags)", "0".into()),
            ("OFFSET(page._refcount)", "52".into()),
            ("OFFSET(page.mapping)", "24".into()),
        ] {
            self.set_info(key, &value);
        }
    }

    /// Writes a pre-5.10 structured log (`struct printk_log`, 16-byte headers, 4-byte
    /// alignment) of `buf_len` bytes; when the records do not fit, the oldest are overwritten
    /// and a zero-length record marks the wrap, as the kernel does.
    pub fn structured_log(&mut self, records: &[SyntheticRecord], buf_len: u32) -> u64 {
        const HEADER: u32 = 16;
        let buf = self.alloc(u64::from(buf_len));
        let vars = self.alloc(16);
        let mut entries: std::collections::VecDeque<(u32, u32)> = Default::default();
        let mut next_idx = 0u32;
        for record in records {
            let len = (HEADER + record.text.len() as u32).div_ceil(4) * 4;
            assert!(len < buf_len / 2, "record too large for the synthetic log");
            let mut start = next_idx;
            // The writer keeps room for the wrap marker after every record.
            if start + len + HEADER > buf_len {
                self.poke_phys(buf + u64::from(start), &[0; HEADER as usize]);
                entries.retain(|&(s, _)| s < start);
                start = 0;
            }
            let end = start + len;
            // Free space must exceed the record by a header, so first never equals next.
            entries.retain(|&(s, l)| s + l <= start || s >= end + HEADER);
            let mut header = [0u8; HEADER as usize];
            header[..8].copy_from_slice(&record.ts_nsec.to_le_bytes());
            header[8..10].copy_from_slice(&(len as u16).to_le_bytes());
            header[10..12].copy_from_slice(&(record.text.len() as u16).to_le_bytes());
            header[15] = 6 << 5;
            self.poke_phys(buf + u64::from(start), &header);
            self.poke_phys(buf + u64::from(start + HEADER), &record.text);
            entries.push_back((start, len));
            next_idx = end;
        }
        let first_idx = entries.front().map_or(next_idx, |e| e.0);
        self.poke_phys_u64(vars, direct_va(buf));
        self.poke_phys(vars + 8, &buf_len.to_le_bytes());
        self.poke_phys(vars + 12, &first_idx.to_le_bytes());
        let next_var = self.alloc(4);
        self.poke_phys(next_var, &next_idx.to_le_bytes());
        for (key, value) in [
            ("SYMBOL(log_buf)", image_va(vars)),
            ("SYMBOL(log_buf_len)", image_va(vars + 8)),
            ("SYMBOL(log_first_idx)", image_va(vars + 12)),
            ("SYMBOL(log_next_idx)", image_va(next_var)),
        ] {
            self.set_info(key, &format!("{value:x}"));
        }
        for (key, value) in [
            ("SIZE(printk_log)", "16"),
            ("OFFSET(printk_log.ts_nsec)", "0"),
            ("OFFSET(printk_log.len)", "8"),
            ("OFFSET(printk_log.text_len)", "10"),
            ("OFFSET(printk_log.dict_len)", "12"),
        ] {
            self.set_info(key, value);
        }
        self.set_info("OSRELEASE", "5.4.0-synthetic");
        let uts = self
            .vmcoreinfo
            .iter()
            .find_map(|l| l.strip_prefix("SYMBOL(init_uts_ns)="))
            .and_then(|v| u64::from_str_radix(v, 16).ok());
        if let Some(uts) = uts {
            let release = uts - START_KERNEL_MAP + 130;
            self.poke_phys(release, &[0; 65]);
            self.poke_phys(release, b"5.4.0-synthetic");
        }
        buf
    }
}

/// Where `lockless_ring` put things (physical addresses), for tests that damage them.
#[derive(Debug, Clone, Copy)]
pub struct RingAddresses {
    pub prb_var: u64,
    pub ring: u64,
    pub descs: u64,
    pub infos: u64,
    pub data: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticRecord {
    pub seq: Option<u64>,
    pub ts_nsec: u64,
    pub text: Vec<u8>,
    pub caller_id: u32,
}

impl SyntheticRecord {
    pub fn new(ts_nsec: u64, text: &[u8]) -> Self {
        SyntheticRecord {
            seq: None,
            ts_nsec,
            text: text.to_vec(),
            caller_id: 1,
        }
    }
}

/// The kernel-image virtual address of a synthetic physical address (phys_base 0).
pub fn image_va(pa: u64) -> u64 {
    START_KERNEL_MAP + pa
}

/// The direct-map virtual address of a synthetic physical address.
pub fn direct_va(pa: u64) -> u64 {
    PAGE_OFFSET + pa
}

fn pml4_index(va: u64) -> u64 {
    (va >> 39) & 0x1ff
}

/// VMCOREINFO of Debian 12's 6.1 kernel for the ring buffer.
pub const LOCKLESS_LAYOUT_6_1: [(&str, &str); 37] = [
    ("SIZE(printk_ringbuffer)", "88"),
    ("OFFSET(printk_ringbuffer.desc_ring)", "0"),
    ("OFFSET(printk_ringbuffer.text_data_ring)", "48"),
    ("OFFSET(printk_ringbuffer.fail)", "80"),
    ("SIZE(prb_desc_ring)", "48"),
    ("OFFSET(prb_desc_ring.count_bits)", "0"),
    ("OFFSET(prb_desc_ring.descs)", "8"),
    ("OFFSET(prb_desc_ring.infos)", "16"),
    ("OFFSET(prb_desc_ring.head_id)", "24"),
    ("OFFSET(prb_desc_ring.tail_id)", "32"),
    ("SIZE(prb_desc)", "24"),
    ("OFFSET(prb_desc.state_var)", "0"),
    ("OFFSET(prb_desc.text_blk_lpos)", "8"),
    ("SIZE(prb_data_blk_lpos)", "16"),
    ("OFFSET(prb_data_blk_lpos.begin)", "0"),
    ("OFFSET(prb_data_blk_lpos.next)", "8"),
    ("SIZE(printk_info)", "88"),
    ("OFFSET(printk_info.seq)", "0"),
    ("OFFSET(printk_info.ts_nsec)", "8"),
    ("OFFSET(printk_info.text_len)", "16"),
    ("OFFSET(printk_info.caller_id)", "20"),
    ("OFFSET(printk_info.dev_info)", "24"),
    ("SIZE(dev_printk_info)", "64"),
    ("OFFSET(dev_printk_info.subsystem)", "0"),
    ("LENGTH(printk_info_subsystem)", "16"),
    ("OFFSET(dev_printk_info.device)", "16"),
    ("LENGTH(printk_info_device)", "48"),
    ("SIZE(prb_data_ring)", "32"),
    ("OFFSET(prb_data_ring.size_bits)", "0"),
    ("OFFSET(prb_data_ring.data)", "8"),
    ("OFFSET(prb_data_ring.head_lpos)", "16"),
    ("OFFSET(prb_data_ring.tail_lpos)", "24"),
    ("SIZE(atomic_long_t)", "8"),
    ("OFFSET(atomic_long_t.counter)", "0"),
    ("SIZE(latched_seq)", "24"),
    ("OFFSET(latched_seq.val)", "8"),
    ("SYMBOL(clear_seq)", "ffffffff82000000"),
];
