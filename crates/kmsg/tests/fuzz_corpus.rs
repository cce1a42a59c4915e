//! Replays the `kmsg_analyze` fuzz corpus (fuzz/corpus/kmsg_analyze) through the fuzz
//! target's checks, so every seed and every crash the fuzzer ever found stays fixed on stable.

#[test]
fn replay_fuzz_corpus() {
    let count = fuzz_corpus::replay("kmsg_analyze", kmsg::fuzzing::check_analyze);
    assert!(
        count >= 10,
        "only {count} seeds in fuzz/corpus/kmsg_analyze"
    );
}
