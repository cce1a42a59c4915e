//! The printk readers over synthetic kernels: clean rings (wrapped text, recycled descriptors,
//! ids wrapping at 2^62, data-less records, the pre-5.10 log) and every kind of damage.

use vmcore::synthetic_kernel::{
    RingAddresses, SyntheticKernel, SyntheticRecord, direct_va, image_va,
};
use vmcore::{Error, LogFormat, Vmcore};

fn open(kernel: &SyntheticKernel) -> Vmcore {
    Vmcore::from_source(kernel.elf(2), "synthetic".into()).unwrap()
}

fn records(n: usize) -> Vec<SyntheticRecord> {
    (0..n)
        .map(|i| SyntheticRecord::new(1_000_000 * i as u64 + 17, text_of(i).as_bytes()))
        .collect()
}

fn text_of(i: usize) -> String {
    format!("message {i} {}", "x".repeat(i % 23))
}

fn texts(log: &vmcore::Log) -> Vec<String> {
    log.records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.text).into_owned())
        .collect()
}

fn ring(
    records: &[SyntheticRecord],
    count_bits: u32,
    size_bits: u32,
    first_id: u64,
) -> (SyntheticKernel, RingAddresses) {
    let mut kernel = SyntheticKernel::new();
    let addresses = kernel.lockless_ring(records, count_bits, size_bits, first_id);
    (kernel, addresses)
}

#[test]
fn reads_every_record_of_a_roomy_ring() {
    let input = records(20);
    let (kernel, _) = ring(&input, 6, 12, 0);
    let log = open(&kernel).dmesg().unwrap();
    assert_eq!(log.format, LogFormat::Lockless);
    assert!(log.complete, "{:?}", log.warnings);
    assert_eq!(log.records.len(), 20);
    for (got, want) in log.records.iter().zip(&input) {
        assert_eq!(got.text, want.text);
        assert_eq!(got.ts_nsec, want.ts_nsec);
        assert_eq!(got.caller_id, Some(1));
    }
    assert_eq!(log.records[3].seq, Some(3));
}

#[test]
fn keeps_the_newest_when_text_and_descriptors_wrapped() {
    let input = records(300);
    for (count_bits, size_bits) in [(4, 12), (8, 9), (5, 10)] {
        let (kernel, _) = ring(&input, count_bits, size_bits, 0);
        let log = open(&kernel).dmesg().unwrap();
        assert!(log.complete, "{:?}", log.warnings);
        let got = texts(&log);
        assert!(!got.is_empty());
        assert!(got.len() <= 1 << count_bits);
        let want: Vec<String> = input[input.len() - got.len()..]
            .iter()
            .map(|r| String::from_utf8_lossy(&r.text).into_owned())
            .collect();
        assert_eq!(got, want, "count_bits {count_bits} size_bits {size_bits}");
        assert_eq!(got.last().unwrap(), &text_of(299));
    }
}

#[test]
fn ids_wrap_at_2_pow_62() {
    let input = records(40);
    let (kernel, _) = ring(&input, 4, 12, (1 << 62) - 20);
    let log = open(&kernel).dmesg().unwrap();
    assert!(log.complete, "{:?}", log.warnings);
    assert_eq!(texts(&log).last().unwrap(), &text_of(39));
    assert_eq!(log.records.len(), 16);
}

#[test]
fn dataless_records_are_kept_and_formatted_per_tool() {
    let mut input = records(5);
    input[2].text.clear();
    let (kernel, _) = ring(&input, 4, 12, 0);
    let log = open(&kernel).dmesg().unwrap();
    assert!(log.complete);
    assert_eq!(log.records.len(), 5);
    assert!(log.records[2].dataless && log.records[2].text.is_empty());
    let lines = |text: Vec<u8>| text.iter().filter(|&&b| b == b'\n').count();
    // makedumpfile leaves the record out, vmcore-dmesg prints its timestamp on an empty line.
    assert_eq!(lines(log.to_makedumpfile_text()), 4);
    let plain = String::from_utf8(log.to_vmcore_dmesg_text()).unwrap();
    assert_eq!(plain.lines().nth(2), Some("[    0.002000] "));
}

#[test]
fn empty_ring() {
    let (kernel, _) = ring(&[], 4, 12, 0);
    let log = open(&kernel).dmesg().unwrap();
    assert!(log.records.is_empty());
    assert!(log.complete);
}

#[test]
fn makedumpfile_text() {
    let input = vec![
        SyntheticRecord::new(0, b"Linux version 6.1.0-56-amd64"),
        SyntheticRecord::new(1_234_567_891, b"two\nlines"),
    ];
    let (kernel, _) = ring(&input, 4, 12, 0);
    let log = open(&kernel).dmesg().unwrap();
    assert_eq!(
        String::from_utf8(log.to_makedumpfile_text()).unwrap(),
        "[    0.000000] Linux version 6.1.0-56-amd64\n[    1.234567] two\n               lines\n"
    );
}

#[test]
fn looping_ids_are_bounded() {
    let (mut kernel, at) = ring(&records(10), 4, 12, 0);
    // tail far behind head: more ids than descriptors.
    kernel.poke_phys_u64(at.ring + 32, 5u64.wrapping_sub(1 << 40) & ((1 << 62) - 1));
    let log = open(&kernel).dmesg().unwrap();
    assert!(!log.complete);
    assert!(
        log.warnings[0].contains("more than the 16 descriptors"),
        "{:?}",
        log.warnings
    );
    assert_eq!(log.records.len(), 10);
}

#[test]
fn impossible_counts_are_errors() {
    let (mut kernel, at) = ring(&records(3), 4, 12, 0);
    kernel.poke_phys(at.ring, &63u32.to_le_bytes());
    let err = open(&kernel).dmesg().unwrap_err();
    assert!(err.to_string().contains("count_bits 63"), "{err}");

    let (mut kernel, at) = ring(&records(3), 4, 12, 0);
    kernel.poke_phys(at.ring + 48, &70u32.to_le_bytes());
    let err = open(&kernel).dmesg().unwrap_err();
    assert!(err.to_string().contains("size_bits 70"), "{err}");
}

#[test]
fn bad_lpos_marks_the_log_incomplete() {
    let (mut kernel, at) = ring(&records(6), 4, 12, 0);
    // Record 2's next lpos two laps ahead of its begin.
    let desc = at.descs + 24 * 2;
    let begin = kernel.peek_phys_u64(desc + 8);
    kernel.poke_phys_u64(desc + 16, begin.wrapping_add((2 << 12) + 8));
    let log = open(&kernel).dmesg().unwrap();
    assert!(!log.complete);
    assert_eq!(log.records.len(), 5);
    assert!(
        log.warnings[0].contains("not a valid block"),
        "{:?}",
        log.warnings
    );
}

#[test]
fn pointer_out_of_memory() {
    let (mut kernel, at) = ring(&records(6), 4, 12, 0);
    kernel.poke_phys_u64(at.prb_var, direct_va(0x7000_0000));
    let err = open(&kernel).dmesg().unwrap_err();
    assert!(err.to_string().contains("is not mapped"), "{err}");

    // Mapped by the page tables, but outside the dumped RAM.
    let (mut kernel, at) = ring(&records(6), 4, 12, 0);
    kernel.poke_phys_u64(at.prb_var, image_va(0x3000_0000));
    let err = open(&kernel).dmesg().unwrap_err();
    assert!(err.to_string().contains("not in the dump"), "{err}");

    let (mut kernel, at) = ring(&records(6), 4, 12, 0);
    kernel.poke_phys_u64(at.ring + 8, 0xdead_0000_0000_0000);
    let err = open(&kernel).dmesg().unwrap_err();
    assert!(err.to_string().contains("no record readable"), "{err}");

    let (mut kernel, at) = ring(&records(6), 4, 12, 0);
    kernel.poke_phys_u64(at.ring + 56, direct_va(0x7000_0000));
    let log = open(&kernel).dmesg().unwrap();
    assert!(!log.complete);
    assert!(log.records.is_empty());
    assert_eq!(log.warnings.len(), 6);
}

#[test]
fn wrong_offsets_are_caught_or_bounded() {
    let (mut kernel, _) = ring(&records(6), 4, 12, 0);
    kernel.set_info("SIZE(prb_desc)", "1000000");
    let err = open(&kernel).dmesg().unwrap_err();
    assert!(err.to_string().contains("implausible"), "{err}");

    let (mut kernel, _) = ring(&records(6), 4, 12, 0);
    kernel.set_info("OFFSET(printk_info.text_len)", "200");
    let err = open(&kernel).dmesg().unwrap_err();
    assert!(err.to_string().contains("past SIZE(printk_info)"), "{err}");

    let (mut kernel, _) = ring(&records(6), 4, 12, 0);
    kernel.remove_info("OFFSET(prb_desc_ring.head_id)");
    let err = open(&kernel).dmesg().unwrap_err();
    assert_eq!(
        err.to_string(),
        "VMCOREINFO has no OFFSET(prb_desc_ring.head_id)"
    );
}

#[test]
fn missing_vmcoreinfo() {
    let (kernel, _) = ring(&records(2), 4, 12, 0);
    let bytes = vmcore::synthetic::ElfCoreBuilder::new(vmcore::Machine::X86_64)
        .load(0x100_0000, 0, kernel.ram.clone())
        .build();
    let core = Vmcore::from_source(bytes, "x".into()).unwrap();
    assert!(core.vmcoreinfo().is_none());
    let err = core.dmesg().unwrap_err();
    assert!(err.to_string().contains("-device vmcoreinfo"), "{err}");
}

#[test]
fn no_log_described() {
    let kernel = SyntheticKernel::new();
    let err = open(&kernel).dmesg().unwrap_err();
    assert!(err.to_string().contains("SYMBOL(prb)"), "{err}");
}

#[test]
fn structured_log_before_5_10() {
    let input = records(12);
    let mut kernel = SyntheticKernel::new();
    kernel.structured_log(&input, 4096);
    let log = open(&kernel).dmesg().unwrap();
    assert_eq!(log.format, LogFormat::Structured);
    assert!(log.complete, "{:?}", log.warnings);
    assert_eq!(texts(&log).len(), 12);
    assert_eq!(log.records[5].ts_nsec, input[5].ts_nsec);
}

#[test]
fn structured_log_that_wrapped() {
    let input = records(200);
    let mut kernel = SyntheticKernel::new();
    kernel.structured_log(&input, 1024);
    let log = open(&kernel).dmesg().unwrap();
    assert!(log.complete, "{:?}", log.warnings);
    let got = texts(&log);
    assert!(got.len() > 5 && got.len() < 60, "{}", got.len());
    assert_eq!(got.last().unwrap(), &text_of(199));
    let first = input.len() - got.len();
    assert_eq!(got[0], String::from_utf8_lossy(&input[first].text));
}

#[test]
fn structured_log_cycles_and_bad_indexes() {
    let input = records(8);
    let mut kernel = SyntheticKernel::new();
    let buf = kernel.structured_log(&input, 4096);
    // The second record's len points back at the first: a cycle that never reaches next_idx.
    let second = u64::from(u16::from_le_bytes([
        kernel.ram[(buf - 0x100_0000 + 8) as usize],
        kernel.ram[(buf - 0x100_0000 + 9) as usize],
    ]));
    kernel.poke_phys(buf + second + 8, &(4096u16 - second as u16).to_le_bytes());
    let log = open(&kernel).dmesg().unwrap();
    assert!(!log.complete);
    assert!(
        log.records.len() >= 2 && log.records.len() < 4096,
        "{}",
        log.records.len()
    );

    let mut kernel = SyntheticKernel::new();
    let buf = kernel.structured_log(&input, 4096);
    kernel.poke_phys(buf + 8, &4090u16.to_le_bytes());
    let log = open(&kernel).dmesg().unwrap();
    assert!(!log.complete);
    assert_eq!(log.records.len(), 1);
    assert!(
        log.warnings[0].contains("outside log_buf"),
        "{:?}",
        log.warnings
    );
}

#[test]
fn image_mapping_agrees_with_the_page_walk() {
    let (kernel, at) = ring(&records(1), 4, 12, 0);
    let core = open(&kernel);
    let memory = core.kernel_memory().unwrap();
    let vmcore::translate::Paging::X86_64(paging) = memory.paging().clone() else {
        panic!("x86_64");
    };
    struct Phys<'a>(&'a dyn vmcore::PhysMemory);
    impl vmcore::translate::ReadPhysU64 for Phys<'_> {
        fn read_phys_u64(&self, pa: u64) -> vmcore::Result<u64> {
            let mut b = [0; 8];
            self.0.read_phys(pa, &mut b)?;
            Ok(u64::from_le_bytes(b))
        }
    }
    for pa in [at.prb_var, at.ring, 0x100_0000 + (3 << 20) + 5] {
        assert_eq!(paging.walk(&Phys(core.memory()), image_va(pa)).unwrap(), pa);
        assert_eq!(memory.translate(image_va(pa)).unwrap(), pa);
        assert_eq!(memory.translate(direct_va(pa)).unwrap(), pa);
    }
    let err = memory.translate(direct_va(0x4000_0000)).unwrap_err();
    assert!(matches!(err, Error::Unmapped { .. }), "{err}");
    let err = memory.translate(0x0000_8000_0000_0000).unwrap_err();
    assert!(err.to_string().contains("not canonical"), "{err}");
}

#[test]
fn block_ending_exactly_at_the_ring_end() {
    // A writer that lets a block end at the ring's last byte (next lpos at index 0 of the next
    // lap) leaves the text where the block began; lpos values near 2^64 wrap as well.
    let (mut kernel, at) = ring(&records(1), 4, 12, 0);
    let size = 1u64 << 12;
    let desc = at.descs;
    let begin = 0u64.wrapping_sub(24);
    kernel.poke_phys_u64(desc + 8, begin);
    kernel.poke_phys_u64(desc + 16, begin.wrapping_add(24));
    kernel.poke_phys_u64(at.data + size - 24, 0);
    kernel.poke_phys(at.data + size - 16, b"exact fit!");
    kernel.poke_phys(at.infos + 16, &10u16.to_le_bytes());
    let log = open(&kernel).dmesg().unwrap();
    assert!(log.complete, "{:?}", log.warnings);
    assert_eq!(texts(&log), ["exact fit!"]);
}

#[test]
fn warnings_are_bounded() {
    let (mut kernel, at) = ring(&records(200), 8, 14, 0);
    kernel.poke_phys_u64(at.ring + 56, direct_va(0x7000_0000));
    let log = open(&kernel).dmesg().unwrap();
    assert!(!log.complete);
    assert_eq!(log.warnings.len(), 65);
    assert_eq!(log.warnings[64], "136 more warnings like these");
}

/// A dump whose unit is larger than the kernel's pages (QEMU writes arm64 kdump files with
/// 64 KiB blocks for a 4 KiB-page kernel): reads that cross a kernel page must translate each
/// page, not assume the dump's unit is mapped contiguously.
#[test]
fn translation_follows_kernel_pages_not_the_dump_unit() {
    struct BigUnit(vmcore::ElfMemory<Vec<u8>>);
    impl vmcore::PhysMemory for BigUnit {
        fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> vmcore::Result<()> {
            self.0.read_phys(paddr, buf)
        }
        fn page_size(&self) -> u64 {
            65536
        }
        fn present_ranges(&self) -> Vec<std::ops::Range<u64>> {
            self.0.present_ranges()
        }
    }
    let mut kernel = SyntheticKernel::new();
    // Direct-map page 0x100_8000 is backed by frame 0x101_f000 instead of its own.
    let pt_direct = 0x100_3000u64;
    kernel.poke_phys_u64(pt_direct + 8 * 8, 0x101_f000 | 0x63);
    kernel.poke_phys(0x100_7ffc, b"left");
    kernel.poke_phys(0x101_f000, b"right");
    let bytes = kernel.elf(1);
    let core = vmcore::ElfCore::read(bytes.as_slice()).unwrap();
    let memory = BigUnit(vmcore::ElfMemory::new(
        bytes.clone(),
        &core.loads,
        core.file_size,
        4096,
    ));
    let paging =
        vmcore::translate::Paging::from_vmcoreinfo(vmcore::Machine::X86_64, &kernel.info())
            .unwrap();
    let virt = vmcore::KernelMemory::new(memory, paging);
    let mut buf = [0u8; 9];
    virt.read(direct_va(0x100_7ffc), &mut buf).unwrap();
    assert_eq!(&buf, b"leftright");
}
