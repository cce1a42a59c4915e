//! The fuzz target bodies of the server's parsers of untrusted bytes, the upload parser
//! (fuzz/fuzz_targets/server_upload.rs) and the netconsole receiver
//! (fuzz/fuzz_targets/netconsole_datagram.rs), here so the corpus replay tests
//! (tests/fuzz_corpus.rs) run the same checks on stable Rust.

use crate::ingest::{self, Limits};

/// Parses `data` as an upload with small limits; whatever it is, the parser must answer
/// without panicking, and an accepted upload must be self-consistent.
pub fn check_upload(data: &[u8]) {
    let limits = Limits {
        max_upload: 1 << 20,
        max_unpacked: 4 << 20,
        max_entries: 64,
    };
    if let Ok(upload) = ingest::parse(data, &limits) {
        assert!(report::is_valid_id(upload.id()));
        assert_eq!(upload.sha256.len(), 64);
        assert_eq!(upload.bytes, data.len() as u64);
        assert!(!upload.analysis.signature.is_empty());
    }
}

/// The netconsole receiver's fuzz target body (fuzz/fuzz_targets/netconsole_datagram.rs):
/// `data` cut at 0xff bytes into datagrams, all from one sender, each parsed on its own and fed
/// to the receiver with small limits; then its clock runs past every wait. Nothing may panic,
/// the window stays within its limits, and every crash reported analyses as what it holds.
pub fn check_netconsole(data: &[u8]) {
    use crate::netconsole::{Receiver, datagram, window::Limits};
    use std::time::{Duration, Instant};

    let limits = Limits {
        max_lines: 64,
        max_bytes: 8 << 10,
        max_senders: 2,
        quiet: Duration::from_secs(1),
        max_wait: Duration::from_secs(2),
    };
    let from = std::net::SocketAddr::from(([127, 0, 0, 1], 6665));
    let mut receiver = Receiver::new(limits);
    let start = Instant::now();
    let mut captured = Vec::new();
    for (i, piece) in data.split(|&b| b == 0xff).enumerate() {
        match datagram::parse(piece) {
            Ok(datagram::Datagram::Record { header, body }) => {
                assert!(body.len() <= datagram::MAX_RECORD);
                assert_eq!(
                    datagram::render(&header, body).len(),
                    datagram::record_text(body).len()
                );
            }
            Ok(datagram::Datagram::Piece { fragment, body, .. }) => {
                assert!(fragment.offset + body.len() <= fragment.total);
                assert!(fragment.total <= datagram::MAX_RECORD);
            }
            Ok(datagram::Datagram::Plain(text)) => assert_eq!(text, piece),
            Err(_) => {}
        }
        let now = start + Duration::from_millis(100 * i as u64);
        captured.extend(receiver.receive(from, piece, now));
    }
    captured.extend(
        receiver
            .tick(start + Duration::from_secs(3600))
            .into_iter()
            .map(|(_, c)| c),
    );
    assert!(receiver.senders() <= 1);
    for c in captured {
        assert_ne!(c.analysis.class, "unknown");
        assert_eq!(c.analysis.signature, kmsg::analyze(&c.log).signature);
        assert!(c.log.lines().count() <= limits.max_lines + 1);
    }
}
