//! pstore file names: `<type>-<backend>-<id>[.enc.z]` as the kernel's pstore filesystem creates them.
//!
//! Type names contain hyphens (`powerpc-ofw`) and backends may too (`pstore-blk` in the kernel
//! docs), so the type is matched against the kernel's list first and the id is split off the right.

use serde::{Deserialize, Serialize};

/// The pstore frontend that produced a record (`enum pstore_type_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordKind {
    Dmesg,
    Mce,
    Console,
    Ftrace,
    Rtas,
    PowerpcOfw,
    PowerpcCommon,
    Pmsg,
    PowerpcOpal,
    /// The kernel's name for a type id it has no name for (`PSTORE_TYPE_MAX` and above).
    Unknown,
}

/// Every kind with its file-name spelling. Longer names sharing a prefix come first so that the
/// first match is the right one.
const KINDS: [(RecordKind, &str); 10] = [
    (RecordKind::PowerpcCommon, "powerpc-common"),
    (RecordKind::PowerpcOpal, "powerpc-opal"),
    (RecordKind::PowerpcOfw, "powerpc-ofw"),
    (RecordKind::Console, "console"),
    (RecordKind::Unknown, "unknown"),
    (RecordKind::Ftrace, "ftrace"),
    (RecordKind::Dmesg, "dmesg"),
    (RecordKind::Rtas, "rtas"),
    (RecordKind::Pmsg, "pmsg"),
    (RecordKind::Mce, "mce"),
];

/// Suffix the kernel adds when it could not decompress a record.
pub const ENCODED_SUFFIX: &str = ".enc.z";

impl RecordKind {
    /// The spelling used in file names.
    pub fn as_str(self) -> &'static str {
        KINDS
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("unknown", |(_, name)| name)
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed pstore file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RecordName {
    pub kind: RecordKind,
    /// Backend name exactly as written in the file name (`efi_pstore`, `pstore-blk`, ...).
    pub backend: String,
    /// Backend-assigned record id (0 for the old `console-ramoops` name that had none).
    pub id: u64,
    /// The name ends in `.enc.z`: compressed bytes the kernel could not decompress.
    pub encoded: bool,
}

impl RecordName {
    /// The file name the kernel would give this record.
    pub fn file_name(&self) -> String {
        let suffix = if self.encoded { ENCODED_SUFFIX } else { "" };
        format!("{}-{}-{}{}", self.kind, self.backend, self.id, suffix)
    }
}

/// Parses a pstore file name. `None` means it is not a record name this crate understands; such
/// files are still collected, as opaque records.
pub fn parse_record_name(file_name: &str) -> Option<RecordName> {
    let (stem, encoded) = match file_name.strip_suffix(ENCODED_SUFFIX) {
        Some(stem) => (stem, true),
        None => (file_name, false),
    };
    let (kind, rest) = KINDS.iter().find_map(|(kind, name)| {
        stem.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('-'))
            .map(|rest| (*kind, rest))
    })?;
    // Kernels before ~3.19 named the ramoops console record without an id.
    if kind == RecordKind::Console && rest == "ramoops" && !encoded {
        return Some(RecordName {
            kind,
            backend: rest.to_owned(),
            id: 0,
            encoded,
        });
    }
    let (backend, id) = rest.rsplit_once('-')?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || !valid_backend(backend) {
        return None;
    }
    Some(RecordName {
        kind,
        backend: backend.to_owned(),
        id: id.parse().ok()?,
        encoded,
    })
}

/// Backend names are kernel module or driver names: letters, digits, `_` and `-`.
fn valid_backend(backend: &str) -> bool {
    !backend.is_empty()
        && !backend.starts_with('-')
        && !backend.ends_with('-')
        && backend
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(name: &str) -> (RecordKind, String, u64, bool) {
        let n = parse_record_name(name).unwrap_or_else(|| panic!("{name} should parse"));
        (n.kind, n.backend, n.id, n.encoded)
    }

    #[test]
    fn kernel_names_parse() {
        assert_eq!(
            parsed("dmesg-ramoops-0"),
            (RecordKind::Dmesg, "ramoops".into(), 0, false)
        );
        assert_eq!(
            parsed("dmesg-efi_pstore-170000000001001"),
            (
                RecordKind::Dmesg,
                "efi_pstore".into(),
                170000000001001,
                false
            )
        );
        assert_eq!(
            parsed("dmesg-efi-12"),
            (RecordKind::Dmesg, "efi".into(), 12, false)
        );
        assert_eq!(
            parsed("mce-erst-7301960581958418433"),
            (RecordKind::Mce, "erst".into(), 7301960581958418433, false)
        );
        assert_eq!(
            parsed("dmesg-pstore-blk-0"),
            (RecordKind::Dmesg, "pstore-blk".into(), 0, false)
        );
        assert_eq!(
            parsed("powerpc-ofw-nvram-3"),
            (RecordKind::PowerpcOfw, "nvram".into(), 3, false)
        );
        assert_eq!(
            parsed("powerpc-common-nvram-4"),
            (RecordKind::PowerpcCommon, "nvram".into(), 4, false)
        );
        assert_eq!(
            parsed("dmesg-ramoops-1.enc.z"),
            (RecordKind::Dmesg, "ramoops".into(), 1, true)
        );
        assert_eq!(
            parsed("console-ramoops"),
            (RecordKind::Console, "ramoops".into(), 0, false)
        );
        assert_eq!(
            parsed("pmsg-newbackend-9"),
            (RecordKind::Pmsg, "newbackend".into(), 9, false)
        );
        assert_eq!(
            parsed("unknown-ramoops-0"),
            (RecordKind::Unknown, "ramoops".into(), 0, false)
        );
    }

    #[test]
    fn non_records_are_rejected() {
        for name in [
            "",
            "dmesg.txt",
            "dmesg",
            "dmesg-",
            "dmesg-ramoops",
            "dmesg-ramoops-",
            "dmesg--0",
            "dmesg-ramoops-x1",
            "dmesg-ramoops-1.enc",
            "console-ramoops.enc.z",
            "dmesgx-ramoops-0",
            "dmesg-ram/oops-0",
            "dmesg-ramoops-99999999999999999999999",
            "DMESG-ramoops-0",
        ] {
            assert_eq!(parse_record_name(name), None, "{name:?}");
        }
    }

    #[test]
    fn file_name_round_trips() {
        for name in [
            "dmesg-ramoops-0",
            "dmesg-efi_pstore-170000000001001.enc.z",
            "powerpc-opal-nvram-2",
        ] {
            assert_eq!(
                parse_record_name(name).map(|n| n.file_name()).as_deref(),
                Some(name)
            );
        }
    }
}
