//! The upload parser's fuzz target body (fuzz/fuzz_targets/server_upload.rs), here so the
//! corpus replay test (tests/fuzz_corpus.rs) runs the same checks on stable Rust.

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
