//! Which filesystem a block device (or an image file) holds, with its UUID and label, read from
//! the superblock as blkid does: ext2/3/4, XFS, Btrfs and FAT (12/16/32, as vfat). Used to find
//! a capture target given as `UUID=...` or `LABEL=...` where no udev or blkid runs (inside a
//! capture initramfs) and to pick the modules that reach it. Parsing is pure (`probe` takes
//! bytes); `scan` reads devices listed in sysfs under a root that tests can redirect.

mod btrfs;
mod bytes;
mod ext;
mod fat;
/// The fuzz targets' entry points and invariants: for fuzz/ and the corpus replay in tests/
/// only (the `fuzzing` feature), not part of the API.
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod scan;
mod spec;
mod xfs;

use serde::Serialize;

pub use scan::{Device, find, list};
pub use spec::{Spec, SpecError};

/// How many bytes from the start of a device `probe` needs to see every superblock it knows
/// (Btrfs' primary copy sits at 64 KiB).
pub const PROBE_SIZE: usize = 0x11000;

/// What a superblock says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filesystem {
    /// The kernel's name for the type, as `mount -t` takes it: ext2, ext3, ext4, xfs, btrfs, vfat.
    pub kind: &'static str,
    /// As blkid prints it: 8-4-4-4-12 lower-case hex, or XXXX-XXXX for FAT's volume id.
    pub uuid: Option<String>,
    pub label: Option<String>,
}

/// A superblock that claims a type by its magic but cannot be read as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} superblock: {what}")]
pub struct ProbeError {
    pub kind: &'static str,
    pub what: &'static str,
}

/// Reads the first bytes of a device (ideally `PROBE_SIZE` of them). `Ok(None)` when no known
/// filesystem is there.
pub fn probe(bytes: &[u8]) -> Result<Option<Filesystem>, ProbeError> {
    for probe in [btrfs::probe, xfs::probe, ext::probe, fat::probe] {
        if let Some(found) = probe(bytes)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Formats 16 bytes as a UUID; an all-zero UUID is no UUID.
fn uuid(bytes: &[u8; 16]) -> Option<String> {
    if bytes.iter().all(|&b| b == 0) {
        return None;
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// A label field: up to the first NUL, trailing spaces dropped, empty means none.
fn label(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(bytes.get(..end)?);
    let text = text.trim_end_matches(' ');
    (!text.is_empty()).then(|| text.to_string())
}
