//! ext2/3/4: the superblock at 1 KiB, magic 0xEF53. Which of the three it is follows from the
//! feature flags, as blkid decides: a journal makes ext3, any feature ext3 lacks makes ext4.

use crate::bytes::{array, le16, le32};
use crate::{Filesystem, ProbeError, label, uuid};

const SUPERBLOCK: usize = 1024;
const MAGIC: u16 = 0xEF53;

const COMPAT_HAS_JOURNAL: u32 = 0x4;
const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
/// What ext3 understands: filetype, recover, meta_bg.
const EXT3_INCOMPAT: u32 = 0x2 | 0x4 | 0x10;
/// sparse_super, large_file, btree_dir.
const EXT3_RO_COMPAT: u32 = 0x1 | 0x2 | 0x4;
/// ext2 has no journal recovery.
const EXT2_INCOMPAT: u32 = 0x2 | 0x10;

pub fn probe(bytes: &[u8]) -> Result<Option<Filesystem>, ProbeError> {
    if le16(bytes, SUPERBLOCK + 0x38) != Some(MAGIC) {
        return Ok(None);
    }
    let error = |what| ProbeError { kind: "ext", what };
    let field = |offset| le32(bytes, SUPERBLOCK + offset).ok_or(error("truncated"));
    let compat = field(0x5c)?;
    let incompat = field(0x60)?;
    let ro_compat = field(0x64)?;
    let raw_uuid: [u8; 16] = array(bytes, SUPERBLOCK + 0x68).ok_or(error("truncated"))?;
    let raw_label: [u8; 16] = array(bytes, SUPERBLOCK + 0x78).ok_or(error("truncated"))?;
    if incompat & INCOMPAT_JOURNAL_DEV != 0 {
        // An external journal: not a filesystem anything can be written to.
        return Ok(None);
    }
    let beyond_ext3 = incompat & !EXT3_INCOMPAT != 0 || ro_compat & !EXT3_RO_COMPAT != 0;
    let kind = if beyond_ext3 {
        "ext4"
    } else if compat & COMPAT_HAS_JOURNAL != 0 {
        "ext3"
    } else if incompat & !EXT2_INCOMPAT == 0 {
        "ext2"
    } else {
        "ext4"
    };
    Ok(Some(Filesystem {
        kind,
        uuid: uuid(&raw_uuid),
        label: label(&raw_label),
    }))
}
