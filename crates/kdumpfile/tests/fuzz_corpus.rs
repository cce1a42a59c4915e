//! Replays the kdumpfile_read fuzz corpus through the function the fuzz target calls, and
//! checks that the seeds are what they claim to be.

use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/kdumpfile_read")
}

#[test]
fn kdumpfile_read_corpus() {
    let mut count = 0;
    for entry in fs::read_dir(corpus()).unwrap() {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| kdumpfile::fuzzing::check_read(&data));
        assert!(outcome.is_ok(), "{} fails kdumpfile_read", path.display());
        count += 1;
    }
    assert!(count >= 6, "{count} seeds");
}

#[test]
fn seeds_open_as_dumps_of_each_compression() {
    for (name, status) in [("zlib", 0x1), ("lzo", 0x2), ("zstd", 0x20), ("none", 0)] {
        let data = fs::read(corpus().join(format!("small-{name}"))).unwrap();
        let mut dump = kdumpfile::KdumpFile::open(Cursor::new(&data[..])).unwrap();
        assert_eq!(dump.header().status, status, "{name}");
        assert!(dump.read_page(1).unwrap().is_some(), "{name}");
    }
}
