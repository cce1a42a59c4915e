//! Properties over generated inputs: rings and old-style logs read back as the newest records
//! written, the text escapes losslessly, VMCOREINFO round-trips, and arbitrary bytes never
//! break the fuzz invariants.

use proptest::prelude::*;
use vmcore::synthetic::ElfCoreBuilder;
use vmcore::synthetic_kernel::{SyntheticKernel, SyntheticRecord};
use vmcore::{Machine, Record, Vmcore, VmcoreInfo};

fn record_strategy() -> impl Strategy<Value = SyntheticRecord> {
    (0u64..1 << 50, proptest::collection::vec(any::<u8>(), 0..60))
        .prop_map(|(ts, text)| SyntheticRecord::new(ts, &text))
}

fn is_suffix_of_written(read: &[Record], written: &[SyntheticRecord]) -> bool {
    let texts: Vec<&[u8]> = written
        .iter()
        .filter(|r| !r.text.is_empty())
        .map(|r| r.text.as_slice())
        .collect();
    let got: Vec<&[u8]> = read
        .iter()
        .filter(|r| !r.dataless)
        .map(|r| r.text.as_slice())
        .collect();
    texts.ends_with(&got)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ring_reads_back_the_newest_records(
        records in proptest::collection::vec(record_strategy(), 0..300),
        count_bits in 2u32..8,
        size_bits in 9u32..14,
        first_id in 0u64..(1 << 62),
    ) {
        let mut kernel = SyntheticKernel::new();
        kernel.lockless_ring(&records, count_bits, size_bits, first_id);
        let core = Vmcore::from_source(kernel.elf(1), "prop".into()).unwrap();
        let log = core.dmesg().unwrap();
        prop_assert!(log.complete, "{:?}", log.warnings);
        prop_assert!(log.records.len() <= 1 << count_bits);
        prop_assert!(is_suffix_of_written(&log.records, &records));
        if let Some(last) = records.last() {
            let read = log.records.last().unwrap();
            prop_assert_eq!(&read.text, &last.text);
            prop_assert_eq!(read.ts_nsec, last.ts_nsec);
            prop_assert_eq!(read.dataless, last.text.is_empty());
        }
    }

    #[test]
    fn structured_log_reads_back_the_newest_records(
        records in proptest::collection::vec(record_strategy(), 1..200),
        buf_shift in 9u32..13,
    ) {
        let records: Vec<SyntheticRecord> =
            records.into_iter().filter(|r| !r.text.is_empty()).collect();
        let mut kernel = SyntheticKernel::new();
        kernel.structured_log(&records, 1 << buf_shift);
        let core = Vmcore::from_source(kernel.elf(1), "prop".into()).unwrap();
        let log = core.dmesg().unwrap();
        prop_assert!(log.complete, "{:?}", log.warnings);
        prop_assert!(is_suffix_of_written(&log.records, &records));
        if let Some(last) = records.last() {
            prop_assert_eq!(&log.records.last().unwrap().text, &last.text);
        }
    }

    #[test]
    fn makedumpfile_text_escapes_losslessly(
        records in proptest::collection::vec(record_strategy(), 0..20),
    ) {
        let records: Vec<Record> = records
            .into_iter()
            // A literal backslash would make the escapes ambiguous to decode.
            .map(|r| Record {
                seq: None,
                ts_nsec: r.ts_nsec,
                text: r.text.iter().map(|&b| if b == b'\\' { b'/' } else { b }).collect(),
                caller_id: None,
                dataless: false,
            })
            .collect();
        let text = vmcore::printk::format_makedumpfile(&records);
        let mut rest = text.as_slice();
        for record in &records {
            let prefix = format!(
                "[{:5}.{:06}] ",
                record.ts_nsec / 1_000_000_000,
                record.ts_nsec % 1_000_000_000 / 1000
            );
            prop_assert!(rest.starts_with(prefix.as_bytes()));
            rest = &rest[prefix.len()..];
            let indent = format!("\n{}", " ".repeat(prefix.len()));
            let mut decoded = Vec::new();
            loop {
                if rest.starts_with(indent.as_bytes()) {
                    decoded.push(b'\n');
                    rest = &rest[indent.len()..];
                } else if rest.starts_with(b"\n") {
                    rest = &rest[1..];
                    break;
                } else if rest.starts_with(b"\\xffffff") {
                    decoded.push(u8::from_str_radix(std::str::from_utf8(&rest[8..10]).unwrap(), 16).unwrap());
                    rest = &rest[10..];
                } else if rest.starts_with(b"\\x") {
                    decoded.push(u8::from_str_radix(std::str::from_utf8(&rest[2..4]).unwrap(), 16).unwrap());
                    rest = &rest[4..];
                } else {
                    prop_assert!(!rest.is_empty());
                    decoded.push(rest[0]);
                    rest = &rest[1..];
                }
            }
            prop_assert_eq!(&decoded, &record.text);
        }
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn vmcoreinfo_round_trips(
        symbols in proptest::collection::btree_map("[a-z_]{1,12}", any::<u64>(), 0..10),
        numbers in proptest::collection::btree_map("[A-Za-z_]{1,12}", any::<i64>(), 0..10),
        offsets in proptest::collection::btree_map("[a-z_]{1,8}\\.[a-z_]{1,8}", any::<u32>(), 0..10),
    ) {
        let mut text = String::from("OSRELEASE=6.12.0\nPAGESIZE=4096\n");
        for (name, value) in &symbols {
            text += &format!("SYMBOL({name})={value:x}\n");
        }
        for (name, value) in &numbers {
            text += &format!("NUMBER({name})={value}\n");
        }
        for (name, value) in &offsets {
            text += &format!("OFFSET({name})={value}\n");
        }
        let info = VmcoreInfo::parse(text.as_bytes());
        for (name, value) in &symbols {
            prop_assert_eq!(info.symbol(name), Some(*value));
        }
        for (name, value) in &numbers {
            prop_assert_eq!(info.number(name), Some(*value));
        }
        for (name, value) in &offsets {
            prop_assert_eq!(info.offset(name), Some(u64::from(*value)));
        }
        prop_assert_eq!(info.page_size(), Some(4096));
    }

    #[test]
    fn arbitrary_bytes_keep_the_fuzz_invariants(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        vmcore::fuzzing::check_vmcoreinfo(&bytes);
        vmcore::fuzzing::check_printk(&bytes);
        vmcore::fuzzing::check_elf(&bytes);
    }

    #[test]
    fn damaged_elf_cores_never_panic(
        flips in proptest::collection::vec((0usize..4096, any::<u8>()), 1..12),
        cut in 64usize..5000,
    ) {
        let mut bytes = ElfCoreBuilder::new(Machine::X86_64)
            .prstatus(2)
            .vmcoreinfo("OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(init_top_pgt)=ffffffff81000000\nNUMBER(phys_base)=0\nSYMBOL(prb)=ffffffff81000010\n")
            .load(0x100_0000, 0xffff_8880_0100_0000, vec![0x63; 4096])
            .build();
        for (at, byte) in flips {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
        bytes.truncate(cut);
        vmcore::fuzzing::check_elf(&bytes);
    }
}
