//! Replays every file of the vmcore fuzz corpora through the functions the fuzz targets call,
//! so crashers found once stay fixed without needing a fuzzer.

use fuzz_corpus::replay;

#[test]
fn vmcore_elf_corpus() {
    assert!(replay("vmcore_elf", vmcore::fuzzing::check_elf) >= 8);
}

#[test]
fn vmcore_vmcoreinfo_corpus() {
    assert!(replay("vmcore_vmcoreinfo", vmcore::fuzzing::check_vmcoreinfo) >= 5);
}

#[test]
fn vmcore_printk_corpus() {
    assert!(replay("vmcore_printk", vmcore::fuzzing::check_printk) >= 7);
}
