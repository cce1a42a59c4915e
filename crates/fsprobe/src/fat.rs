//! FAT12/16/32, mounted as vfat. The boot sector has no magic number of its own, so the BIOS
//! parameter block must look sane (jump instruction, power-of-two sector and cluster sizes, one
//! or two FATs, the 0x55AA signature) before the volume id and label are believed. FAT32 keeps
//! them at 0x43/0x47, FAT12/16 at 0x27/0x2b, each only when the extended boot signature (0x29)
//! says they are there.

use crate::bytes::{array, le16, le32};
use crate::{Filesystem, ProbeError, label};

const NO_LABEL: &str = "NO NAME";

pub fn probe(bytes: &[u8]) -> Result<Option<Filesystem>, ProbeError> {
    let Some(sector) = bytes.get(..512) else {
        return Ok(None);
    };
    if sector.get(510..512) != Some([0x55, 0xaa].as_slice()) {
        return Ok(None);
    }
    if !matches!(sector.first(), Some(0xeb | 0xe9)) {
        return Ok(None);
    }
    let bytes_per_sector = le16(sector, 11).unwrap_or(0);
    let sectors_per_cluster = sector.get(13).copied().unwrap_or(0);
    let reserved = le16(sector, 14).unwrap_or(0);
    let fats = sector.get(16).copied().unwrap_or(0);
    let sane = matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096)
        && sectors_per_cluster.is_power_of_two()
        && reserved > 0
        && matches!(fats, 1 | 2);
    if !sane {
        return Ok(None);
    }
    // FAT32 keeps no 16-bit FAT size; its extended fields start later.
    let fat32 = le16(sector, 22) == Some(0);
    let (signature_at, id_at, label_at, type_at) = if fat32 {
        (0x42, 0x43, 0x47, 0x52)
    } else {
        (0x26, 0x27, 0x2b, 0x36)
    };
    let type_name: [u8; 8] = array(sector, type_at).ok_or(ProbeError {
        kind: "vfat",
        what: "truncated",
    })?;
    let typed = type_name.starts_with(b"FAT") || fat32 && sector.get(signature_at) == Some(&0x29);
    if !typed {
        return Ok(None);
    }
    let (uuid, label) = if sector.get(signature_at) == Some(&0x29) {
        let id = le32(sector, id_at).unwrap_or(0);
        let raw_label: [u8; 11] = array(sector, label_at).unwrap_or([0; 11]);
        let uuid = (id != 0).then(|| format!("{:04X}-{:04X}", id >> 16, id & 0xffff));
        (uuid, label(&raw_label).filter(|l| l != NO_LABEL))
    } else {
        (None, None)
    };
    Ok(Some(Filesystem {
        kind: "vfat",
        uuid,
        label,
    }))
}
