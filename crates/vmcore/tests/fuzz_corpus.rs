//! Replays every file of the vmcore fuzz corpora through the functions the fuzz targets call,
//! so crashers found once stay fixed without needing a fuzzer.

use std::fs;
use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{} fails {target}", path.display());
        count += 1;
    }
    count
}

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
