//! Replays the `server_upload` fuzz corpus (fuzz/corpus/server_upload) through the fuzz
//! target's checks, so every seed and every crash the fuzzer ever found stays fixed on stable.

#[test]
fn replay_fuzz_corpus() {
    let count = fuzz_corpus::replay("server_upload", server::fuzzing::check_upload);
    assert!(
        count >= 10,
        "only {count} seeds in fuzz/corpus/server_upload"
    );
}

#[test]
fn valid_seeds_are_accepted_and_the_rest_refused() {
    let limits = server::ingest::Limits::default();
    for (path, data) in fuzz_corpus::seeds("server_upload") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let parsed = server::ingest::parse(&data, &limits);
        assert_eq!(
            parsed.is_ok(),
            name.starts_with("valid"),
            "{name}: {:?}",
            parsed.err()
        );
    }
}
