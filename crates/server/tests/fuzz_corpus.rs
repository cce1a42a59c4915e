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

/// Replays the `netconsole_datagram` fuzz corpus (fuzz/corpus/netconsole_datagram).
#[test]
fn replay_netconsole_fuzz_corpus() {
    let count = fuzz_corpus::replay("netconsole_datagram", server::fuzzing::check_netconsole);
    assert!(
        count >= 7,
        "only {count} seeds in fuzz/corpus/netconsole_datagram"
    );
}

/// The corpus's two crash seeds (a real lab panic, plain and extended with fragments sent last
/// first) are each reported once, under the same signature.
#[test]
fn netconsole_crash_seeds_are_reported() {
    use std::time::{Duration, Instant};
    let mut signatures = Vec::new();
    for name in ["plain-null-panic", "extended-null-panic-fragments"] {
        let path = fuzz_corpus::dir("netconsole_datagram").join(name);
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut receiver = server::netconsole::Receiver::new(Default::default());
        let from = std::net::SocketAddr::from(([10, 0, 2, 15], 6665));
        let t0 = Instant::now();
        let mut reports: Vec<_> = data
            .split(|&b| b == 0xff)
            .filter_map(|d| receiver.receive(from, d, t0))
            .collect();
        reports.extend(
            receiver
                .tick(t0 + Duration::from_secs(60))
                .into_iter()
                .map(|(_, c)| c),
        );
        assert_eq!(reports.len(), 1, "{name}");
        signatures.push(reports[0].analysis.signature.clone());
    }
    assert_eq!(signatures[0], signatures[1]);
    assert!(signatures[0].starts_with("null-pointer-dereference-lastgasp_null_write-"));
}
