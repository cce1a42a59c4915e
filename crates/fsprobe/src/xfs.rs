//! XFS: the superblock at offset 0, big-endian, magic "XFSB"; UUID at 32, name (12 bytes) at 108.

use crate::bytes::{array, be32};
use crate::{Filesystem, ProbeError, label, uuid};

const MAGIC: u32 = 0x5846_5342;

pub fn probe(bytes: &[u8]) -> Result<Option<Filesystem>, ProbeError> {
    if be32(bytes, 0) != Some(MAGIC) {
        return Ok(None);
    }
    let error = ProbeError {
        kind: "xfs",
        what: "truncated",
    };
    let raw_uuid: [u8; 16] = array(bytes, 32).ok_or(error.clone())?;
    let raw_label: [u8; 12] = array(bytes, 108).ok_or(error)?;
    Ok(Some(Filesystem {
        kind: "xfs",
        uuid: uuid(&raw_uuid),
        label: label(&raw_label),
    }))
}
