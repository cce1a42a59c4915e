//! Replays the kdumpfile_read fuzz corpus through the function the fuzz target calls, and
//! checks that the seeds are what they claim to be.

use std::fs;
use std::io::Cursor;

#[test]
fn kdumpfile_read_corpus() {
    let count = fuzz_corpus::replay("kdumpfile_read", kdumpfile::fuzzing::check_read);
    assert!(count >= 6, "{count} seeds");
}

#[test]
fn seeds_open_as_dumps_of_each_compression() {
    for (name, status) in [("zlib", 0x1), ("lzo", 0x2), ("zstd", 0x20), ("none", 0)] {
        let path = fuzz_corpus::dir("kdumpfile_read").join(format!("small-{name}"));
        let data = fs::read(path).unwrap();
        let mut dump = kdumpfile::KdumpFile::open(Cursor::new(&data[..])).unwrap();
        assert_eq!(dump.header().status, status, "{name}");
        assert!(dump.read_page(1).unwrap().is_some(), "{name}");
    }
}
