//! pstore: the records a crashed Linux kernel left in persistent storage (ramoops, efi-pstore,
//! ACPI ERST, pstore/blk), read from /sys/fs/pstore or systemd-pstore's archive, decoded and
//! reassembled into one complete log per crash. Parsing is pure; `read` is the only I/O.

mod assemble;
mod crash;
mod crashes;
mod decode;
mod decompress;
mod dumps;
#[doc(hidden)]
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
    EccNotice, HeaderSource, PartHeader, parse_blk_total, parse_part_header, split_header,
    strip_ecc_notice,
};
pub use ids::{EfiId, decode_efi_id, encode_efi_id};
pub use lines::{Merge, merge_overlapping};
pub use name::{ENCODED_SUFFIX, RecordKind, RecordName, parse_record_name};
pub use read::{ReadError, read_pstore_dir, read_systemd_archive};
pub use record::{DEFAULT_MAX_RECORD_BYTES, Origin, ReadOptions, Record};
