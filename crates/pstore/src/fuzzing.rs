//! Entry points shared by the fuzz targets and the corpus replay test: each feeds arbitrary
//! bytes to the parsers and panics only if an invariant the crate promises is broken.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::{
    Decoding, Record, assemble, decode_dmesg, decompress, encode_efi_id, parse_record_name,
    split_header, strip_ecc_notice,
};

/// File names: parsing never panics and a parsed name formats back to the same name.
pub fn check_name(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(name) = parse_record_name(text) {
        assert_eq!(
            parse_record_name(&name.file_name()).as_ref(),
            Some(&name),
            "{text:?}"
        );
    }
}

/// One record's bytes: the first byte says whether it is a `.enc.z` record.
pub fn check_record(data: &[u8]) {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let (payload, _) = strip_ecc_notice(bytes);
    assert!(bytes.starts_with(payload));
    let framed = split_header(payload);
    assert!(payload.ends_with(framed.text));
    let encoded = flags & 1 == 1;
    let decoded = decode_dmesg(bytes, encoded);
    let cap = crate::decompress::output_cap(bytes.len());
    match decoded.decoding {
        Decoding::Plain => assert!(decoded.text.len() <= bytes.len()),
        Decoding::Decompressed { .. } => assert!(decoded.text.len() <= cap),
        Decoding::Raw { .. } => assert!(decoded.text.is_empty()),
    }
    if encoded && let Ok(d) = decompress(payload) {
        assert!(d.data.len() <= crate::decompress::output_cap(payload.len()));
    }
}

const KINDS: [&str; 9] = [
    "dmesg", "dmesg", "dmesg", "dmesg", "console", "pmsg", "ftrace", "mce", "opaque",
];
const BACKENDS: [&str; 6] = [
    "ramoops",
    "efi_pstore",
    "erst",
    "pstore_blk",
    "efi",
    "nvram",
];
const MAX_RECORDS: usize = 16;

/// A set of records carved out of the input; `assemble` must account for every one of them.
pub fn check_assemble(data: &[u8]) {
    let records = records_from_bytes(data);
    let count = records.len();
    let mut expected: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for r in &records {
        *expected.entry(r.path.clone()).or_default() += 1;
    }
    let crashes = assemble(records);
    let mut seen: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for crash in &crashes {
        assert_eq!(crash.partial, !crash.gaps.is_empty());
        assert!(!crash.records.is_empty());
        for dump in &crash.dumps {
            assert!(dump.missing_parts.iter().all(|m| !dump.parts.contains(m)));
        }
        for used in &crash.records {
            *seen.entry(used.path.clone()).or_default() += 1;
        }
    }
    assert_eq!(
        seen, expected,
        "{count} records in, not all used exactly once"
    );
}

/// Splits the input at `\0\0`; each chunk's first bytes choose the record's name and mtime.
pub fn records_from_bytes(data: &[u8]) -> Vec<Record> {
    let mut records = Vec::new();
    for (i, chunk) in data.split_sep().take(MAX_RECORDS).enumerate() {
        let [a, b, c, rest @ ..] = chunk else {
            continue;
        };
        let kind = KINDS[usize::from(*a) % KINDS.len()];
        let backend = BACKENDS[usize::from(*a / 16) % BACKENDS.len()];
        let id = match backend {
            "efi_pstore" | "efi" => encode_efi_id(
                1_700_000_000 + u64::from(*c % 4) * 40,
                u32::from(*b % 6) + 1,
                u32::from(*c % 3) + 1,
            ),
            "erst" => (1_700_000_000u64 << 32) + u64::from(*b),
            _ => u64::from(*b % 4),
        };
        let suffix = if *c & 0x80 != 0 { ".enc.z" } else { "" };
        let file_name = if kind == "opaque" {
            format!("stray-{i}")
        } else {
            format!("{kind}-{backend}-{id}{suffix}")
        };
        let mut record = Record::in_memory(&file_name, rest.to_vec());
        record.path = PathBuf::from(format!("{i}-{file_name}"));
        record.mtime = (*c & 0x40 != 0).then(|| 1_700_000_000 + i64::from(*b % 8));
        record.truncated = *c & 0x20 != 0;
        records.push(record);
    }
    records
}

trait SplitSep {
    fn split_sep(&self) -> impl Iterator<Item = &[u8]>;
}

impl SplitSep for [u8] {
    /// Splits at every `\0\0`.
    fn split_sep(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest = Some(self);
        std::iter::from_fn(move || {
            let current = rest?;
            match current.windows(2).position(|w| w == b"\0\0") {
                Some(at) => {
                    rest = current.get(at + 2..);
                    current.get(..at)
                }
                None => {
                    rest = None;
                    Some(current)
                }
            }
        })
    }
}
