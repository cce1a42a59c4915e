//! pstore: the records a crashed Linux kernel left in persistent storage (ramoops, efi-pstore,
//! ACPI ERST, pstore/blk), read from /sys/fs/pstore or systemd-pstore's archive, decoded and
//! reassembled into one complete log per crash. Parsing is pure; `read` is the only I/O.
//!
//! ```
//! use pstore::{Record, assemble};
//!
//! // efi-pstore split one panic into two parts; Part1 holds the newest text.
//! let records = vec![
//!     Record::in_memory("dmesg-efi_pstore-170000000001001", b"Panic#1 Part1\nnewer\n".to_vec()),
//!     Record::in_memory("dmesg-efi_pstore-170000000002001", b"Panic#1 Part2\nolder\n".to_vec()),
//! ];
//! let crashes = assemble(records);
//! assert_eq!(crashes.len(), 1);
//! assert_eq!(crashes[0].dmesg, b"older\nnewer\n");
//! assert_eq!(crashes[0].crash_time, Some(1_700_000_000));
//! assert_eq!(crashes[0].records.len(), 2); // both may be deleted once the report is saved
//! ```

mod assemble;
mod crash;
mod crashes;
mod decode;
mod decompress;
mod dumps;
/// The fuzz targets' entry points and invariants: for fuzz/ and the corpus replay in tests/
/// only (the `fuzzing` feature), not part of the API.
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod header;
mod ids;
mod lines;
mod name;
mod read;
mod record;

pub use assemble::assemble;
pub use crash::{Crash, Decoding, Dump, UsedRecord};
pub use decode::{DecodedDmesg, decode_dmesg};
pub use decompress::{Decompressed, decompress};
pub use header::{
    EccNotice, HeaderSource, PartHeader, RamoopsHeader, parse_blk_total, parse_part_header,
    split_header, split_ramoops_header, strip_ecc_notice,
};
pub use ids::{EfiId, decode_efi_id, encode_efi_id};
pub use lines::{Merge, merge_overlapping};
pub use name::{ENCODED_SUFFIX, RecordKind, RecordName, parse_record_name};
pub use read::{ReadError, has_records, read_pstore_dir, read_systemd_archive};
pub use record::{DEFAULT_MAX_RECORD_BYTES, Origin, ReadOptions, Record};
