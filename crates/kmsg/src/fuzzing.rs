//! Checks shared by the `kmsg_analyze` fuzz target and the test that replays its corpus:
//! `analyze` never panics and its result keeps its promises on any input.

use crate::{Analysis, analyze};

/// Analyses `data` (lossily decoded) and asserts the invariants of an `Analysis`.
pub fn check_analyze(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let a = analyze(&text);
    check_invariants(&a);
    // Pure: the same text gives the same analysis.
    assert_eq!(analyze(&text), a, "analysis is not deterministic");
    assert!(!a.render_text().is_empty(), "empty summary");
}

fn check_invariants(a: &Analysis) {
    let prefix = format!("{}-", a.class);
    assert!(
        a.signature.starts_with(&prefix),
        "signature {:?} does not start with class {:?}",
        a.signature,
        a.class
    );
    let (_, hash) = a.signature.rsplit_once('-').unwrap_or_default();
    assert!(
        hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "signature {:?} does not end in 8 hex digits",
        a.signature
    );
    assert!(
        !a.signature.contains(char::is_whitespace),
        "signature {:?} has whitespace",
        a.signature
    );
    assert!(a.signature_frames.len() <= crate::signature::SIGNATURE_FRAMES);
    let json = serde_json::to_string(a).unwrap_or_default();
    let back: Option<Analysis> = serde_json::from_str(&json).ok();
    assert_eq!(
        back.as_ref(),
        Some(a),
        "JSON round trip changed the analysis"
    );
}
