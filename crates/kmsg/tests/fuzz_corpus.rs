//! Replays the `kmsg_analyze` fuzz corpus (fuzz/corpus/kmsg_analyze) through the fuzz
//! target's checks, so every seed and every crash the fuzzer ever found stays fixed on stable.

use std::path::PathBuf;

#[test]
fn replay_fuzz_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/kmsg_analyze");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| kmsg::fuzzing::check_analyze(&data));
        assert!(outcome.is_ok(), "{} fails the fuzz checks", path.display());
        count += 1;
    }
    assert!(count >= 10, "only {count} seeds in {}", dir.display());
}
