//! Replays every file of the pstore fuzz corpora through the functions the fuzz targets call,
//! so crashers found once stay fixed without needing a fuzzer.

use std::fs;

use fuzz_corpus::replay;

#[test]
fn pstore_name_corpus() {
    assert!(replay("pstore_name", pstore::fuzzing::check_name) >= 10);
}

#[test]
fn pstore_record_corpus() {
    assert!(replay("pstore_record", pstore::fuzzing::check_record) >= 10);
}

#[test]
fn pstore_assemble_corpus() {
    assert!(replay("pstore_assemble", pstore::fuzzing::check_assemble) >= 10);
}

#[test]
fn assemble_seeds_mean_what_they_say() {
    let read = |name: &str| {
        let path = fuzz_corpus::dir("pstore_assemble").join(name);
        pstore::assemble(pstore::fuzzing::records_from_bytes(
            &fs::read(path).unwrap(),
        ))
    };
    let pair = read("ramoops-oops-panic");
    assert_eq!(pair.len(), 1);
    assert_eq!(pair[0].dumps.len(), 2);
    let efi = read("efi-three-parts");
    assert_eq!(efi[0].dumps[0].parts, [1, 2, 3]);
    assert_eq!(read("efi-missing-part")[0].dumps[0].missing_parts, [2]);
    assert!(read("console-only")[0].console.is_some());
    assert_eq!(read("two-crashes").len(), 2);
}
