//! Entry points shared by the fuzz targets and the corpus replay test: each feeds arbitrary
//! bytes to the parsers and panics only if an invariant the crate promises is broken.

use crate::kernel::KernelMemory;
use crate::note::Notes;
use crate::phys::{ElfMemory, PhysMemory};
use crate::printk::{Log, read_log};
use crate::synthetic_kernel::{SyntheticKernel, SyntheticRecord};
use crate::translate::Paging;
use crate::{ElfCore, Vmcore, VmcoreInfo};

/// Any bytes as a vmcore file: headers, notes, memory reads, and the log when VMCOREINFO
/// describes one.
pub fn check_elf(data: &[u8]) {
    for note in Notes::new(data) {
        assert!(note.name.len() + note.desc.len() <= data.len());
    }
    let Ok(core) = ElfCore::read(data) else {
        return;
    };
    let _ = core.vmcoreinfo();
    let note_bytes: usize = core.note_segments.iter().map(Vec::len).sum();
    assert!(core.cpu_count() <= note_bytes / 12);
    let memory = ElfMemory::new(data, &core.loads, core.file_size, 4096);
    for range in memory.present_ranges().iter().take(8) {
        let mut buf = [0u8; 64];
        let _ = memory.read_phys(range.start, &mut buf);
        let _ = memory.read_phys(range.end.saturating_sub(8), &mut buf);
    }
    if let Ok(vmcore) = Vmcore::from_source(data.to_vec(), "fuzz".into())
        && let Ok(log) = vmcore.dmesg()
    {
        check_log(&log);
    }
}

/// Any bytes as VMCOREINFO text: every key listed can be looked up, and numbers that print
/// back in decimal do so unchanged.
pub fn check_vmcoreinfo(data: &[u8]) {
    let info = VmcoreInfo::parse(data);
    for (key, value) in info.entries() {
        assert_eq!(info.get(key), Some(value));
        if let Some(name) = key
            .strip_prefix("NUMBER(")
            .and_then(|k| k.strip_suffix(')'))
            && let Some(n) = info.number(name)
            && value.bytes().all(|b| b.is_ascii_digit() || b == b'-')
            && !value.starts_with("-0")
            && !value.starts_with('0')
        {
            assert_eq!(n.to_string(), value);
        }
    }
    if let Some(size) = info.page_size() {
        assert!(size.is_power_of_two());
    }
    let _ = (
        info.osrelease(),
        info.build_id(),
        info.crash_time(),
        info.kernel_offset(),
    );
}

/// A synthetic kernel's log, built from the first bytes and then damaged by the rest: the
/// lockless ring, or with the first byte's top bit the pre-5.10 `log_buf`. Reading it never
/// panics, and whatever it returns stays within the log's bounds.
pub fn check_printk(data: &[u8]) {
    let [shape, sizes, first_id, rest @ ..] = data else {
        return;
    };
    let (seed, damage) = rest.split_at(rest.len().min(64));
    let records: Vec<SyntheticRecord> = seed
        .chunks(4)
        .enumerate()
        .map(|(i, chunk)| {
            let len = usize::from(chunk.first().copied().unwrap_or(0) % 40);
            let text: Vec<u8> = chunk.iter().cycle().take(len).copied().collect();
            SyntheticRecord::new(i as u64 * 1000, &text)
        })
        .collect();
    let mut kernel = SyntheticKernel::new();
    // Damage goes to (physical address, length) spans; text is bounded by `max_text`.
    let (spans, max_records, max_text): (Vec<(u64, u64)>, usize, usize) = if shape & 0x80 == 0 {
        let count_bits = u32::from(shape % 8) + 1;
        let size_bits = u32::from(sizes % 8) + 7;
        let start_id = (u64::from(*first_id) << 54).wrapping_sub(u64::from(*first_id));
        let at = kernel.lockless_ring(&records, count_bits, size_bits, start_id & ((1 << 62) - 1));
        let spans = vec![
            (at.ring, 88u64),
            (at.descs, 24 << count_bits),
            (at.infos, 88 << count_bits),
            (at.data, 1 << size_bits),
            (at.prb_var, 8),
        ];
        (spans, 1 << count_bits, (1 << size_bits) - 1)
    } else {
        let buf_len = 1u32 << (9 + sizes % 4);
        let records: Vec<SyntheticRecord> =
            records.into_iter().filter(|r| !r.text.is_empty()).collect();
        let buf = kernel.structured_log(&records, buf_len);
        let info = kernel.info();
        let var = |name: &str| {
            info.symbol(name)
                .map_or(0, |va| va.wrapping_sub(crate::translate::START_KERNEL_MAP))
        };
        let spans = vec![
            (buf, u64::from(buf_len)),
            (var("log_buf"), 8),
            (var("log_buf_len"), 4),
            (var("log_first_idx"), 4),
            (var("log_next_idx"), 4),
        ];
        (spans, usize::MAX, usize::from(u16::MAX))
    };
    for triple in damage.chunks_exact(3) {
        let [target, offset, byte] = [triple[0], triple[1], triple[2]];
        let (base, len) = spans[usize::from(target) % spans.len()];
        let position = (u64::from(offset) * 7919 + u64::from(target)) % len;
        kernel.poke_phys(base + position, &[byte]);
    }
    let info = kernel.info();
    let Ok(paging) = Paging::from_vmcoreinfo(crate::Machine::X86_64, &info) else {
        return;
    };
    let memory = KernelMemory::new(&kernel, paging);
    if let Ok(log) = read_log(&memory, &info) {
        check_log(&log);
        assert!(log.records.len() <= max_records);
        for record in &log.records {
            assert!(record.text.len() <= max_text);
        }
    }
}

fn check_log(log: &Log) {
    assert_eq!(log.complete, log.warnings.is_empty());
    for record in &log.records {
        assert!(record.text.len() <= usize::from(u16::MAX));
        assert!(!record.dataless || record.text.is_empty());
    }
    let plain = log.to_vmcore_dmesg_text();
    assert!(plain.iter().filter(|&&b| b == b'\n').count() >= log.records.len());
    let text = log.to_makedumpfile_text();
    assert_eq!(
        text.iter().filter(|&&b| b == b'\n').count(),
        log.records
            .iter()
            .filter(|r| !r.dataless)
            .map(|r| 1 + r.text.iter().filter(|&&b| b == b'\n').count())
            .sum::<usize>()
    );
}

impl PhysMemory for SyntheticKernel {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> crate::Result<()> {
        let bytes = paddr
            .checked_sub(crate::synthetic_kernel::RAM_BASE)
            .and_then(|o| usize::try_from(o).ok())
            .and_then(|o| self.ram.get(o..o.checked_add(buf.len())?))
            .ok_or(crate::Error::NotInDump(paddr))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    fn page_size(&self) -> u64 {
        4096
    }

    fn present_ranges(&self) -> Vec<std::ops::Range<u64>> {
        let base = crate::synthetic_kernel::RAM_BASE;
        std::iter::once(base..base + self.ram.len() as u64).collect()
    }
}
