//! Btrfs: the primary superblock at 64 KiB, magic "_BHRfS_M" at its byte 64; the filesystem's
//! UUID (fsid) at 32 and the label (256 bytes) at 0x12b.

use crate::bytes::array;
use crate::{Filesystem, ProbeError, label, uuid};

const SUPERBLOCK: usize = 0x10000;
const MAGIC: &[u8; 8] = b"_BHRfS_M";

pub fn probe(bytes: &[u8]) -> Result<Option<Filesystem>, ProbeError> {
    if array::<8>(bytes, SUPERBLOCK + 64).as_ref() != Some(MAGIC) {
        return Ok(None);
    }
    let error = ProbeError {
        kind: "btrfs",
        what: "truncated",
    };
    let fsid: [u8; 16] = array(bytes, SUPERBLOCK + 32).ok_or(error.clone())?;
    let raw_label: [u8; 256] = array(bytes, SUPERBLOCK + 0x12b).ok_or(error)?;
    Ok(Some(Filesystem {
        kind: "btrfs",
        uuid: uuid(&fsid),
        label: label(&raw_label),
    }))
}
