//! Report ids. An id depends only on the records' content and the crash time they carry, so
//! collecting the same records twice (`save --keep`, systemd's archive read at every boot) finds
//! the report already there instead of making a second one.

use sha2::{Digest, Sha256};

/// Longest id `is_valid_id` accepts; real ids are 29 characters.
const MAX_ID_LEN: usize = 64;

/// `<crash time as YYYYMMDDTHHMMSSZ, or "undated">-<first 12 hex digits of the digest>`, where
/// the digest is SHA-256 over the records' SHA-256 hex strings, sorted, each followed by '\n'.
///
/// Sorting makes the id independent of directory order; the crash time makes ids sort by time.
pub fn report_id(crash_time: Option<i64>, record_sha256s: &[&str]) -> String {
    let mut hashes: Vec<String> = record_sha256s
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    hashes.sort_unstable();
    let mut digest = Sha256::new();
    for hash in &hashes {
        digest.update(hash.as_bytes());
        digest.update(b"\n");
    }
    let hex = hex::encode(digest.finalize());
    let short = hex.get(..12).unwrap_or(&hex);
    format!("{}-{short}", time_part(crash_time))
}

fn time_part(crash_time: Option<i64>) -> String {
    crash_time
        .and_then(|secs| jiff::Timestamp::from_second(secs).ok())
        .map_or_else(
            || "undated".to_string(),
            |ts| ts.strftime("%Y%m%dT%H%M%SZ").to_string(),
        )
}

/// Whether `id` (or an id prefix) is safe to use as a directory name under the reports dir: no
/// separators, no dots, nothing that could climb out of it.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !id.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const B: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

    #[test]
    fn dated_id_has_utc_time_and_12_hex() {
        let id = report_id(Some(1_700_000_000), &[A]);
        assert!(id.starts_with("20231114T221320Z-"), "{id}");
        assert_eq!(id.len(), "20231114T221320Z-".len() + 12);
        assert!(is_valid_id(&id));
    }

    #[test]
    fn undated_when_time_unknown_or_out_of_range() {
        assert!(report_id(None, &[A]).starts_with("undated-"));
        assert!(report_id(Some(i64::MAX), &[A]).starts_with("undated-"));
    }

    #[test]
    fn order_and_case_of_hashes_do_not_matter() {
        let upper = B.to_ascii_uppercase();
        assert_eq!(report_id(None, &[A, B]), report_id(None, &[&upper, A]));
    }

    #[test]
    fn different_records_give_different_ids() {
        assert_ne!(report_id(None, &[A]), report_id(None, &[B]));
        assert_ne!(report_id(None, &[A]), report_id(None, &[A, B]));
    }

    #[test]
    fn digest_is_the_documented_one() {
        // sha256("abc\n") = edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb
        assert_eq!(report_id(None, &["abc"]), "undated-edeaaff3f177");
    }

    proptest::proptest! {
        #[test]
        fn any_record_set_gives_a_valid_order_independent_id(
            hashes in proptest::collection::vec("[0-9a-f]{64}", 1..8),
            time in proptest::option::of(0i64..4_000_000_000),
            rotate in 0usize..8,
        ) {
            let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
            let mut rotated = refs.clone();
            rotated.rotate_left(rotate % refs.len());
            let id = report_id(time, &refs);
            proptest::prop_assert!(is_valid_id(&id));
            proptest::prop_assert_eq!(id, report_id(time, &rotated));
        }
    }

    #[test]
    fn ids_that_could_escape_are_rejected() {
        for bad in ["", "..", "../x", "a/b", ".hidden", "-x", "a b", "a\0"] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
        assert!(is_valid_id("2023"));
    }
}
