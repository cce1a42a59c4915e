//! Finding a filesystem among the machine's block devices: every entry of /sys/class/block
//! (disks and partitions), its node /dev/<name> probed. All paths are taken under a root, so
//! tests point it at a tree of image files.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Filesystem, PROBE_SIZE, Spec, probe};

/// A block device and what is on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// Kernel name, e.g. vda1.
    pub name: String,
    /// The device node as on the running system, e.g. /dev/vda1.
    pub node: PathBuf,
    /// Its sysfs directory under the root, links resolved: the start of the walk up to the
    /// controllers that serve it.
    pub sysfs: PathBuf,
    pub filesystem: Option<Filesystem>,
    /// Why it could not be read (no medium, permissions, a bad superblock).
    pub unreadable: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("reading {path}: {source}")]
    Sysfs {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no block device holds {spec} ({scanned} devices looked at)")]
    NotFound { spec: String, scanned: usize },
    #[error("{spec} is on more than one device: {names}")]
    Ambiguous { spec: String, names: String },
}

const CLASS_BLOCK: &str = "sys/class/block";
/// A bound on a directory listing, should sysfs misbehave.
const MAX_DEVICES: usize = 4096;

/// Every block device under `root`, in name order, each probed.
pub fn list(root: &Path) -> Result<Vec<Device>, FindError> {
    let class = root.join(CLASS_BLOCK);
    let sysfs_error = |source| FindError::Sysfs {
        path: class.clone(),
        source,
    };
    let mut names: Vec<String> = std::fs::read_dir(&class)
        .map_err(sysfs_error)?
        .take(MAX_DEVICES)
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .map(|name| device(root, &class, name))
        .collect())
}

fn device(root: &Path, class: &Path, name: String) -> Device {
    let sysfs = std::fs::canonicalize(class.join(&name)).unwrap_or_else(|_| class.join(&name));
    let node = Path::new("/dev").join(&name);
    let (filesystem, unreadable) = match read_start(&root.join("dev").join(&name)) {
        Ok(bytes) => match probe(&bytes) {
            Ok(found) => (found, None),
            Err(e) => (None, Some(e.to_string())),
        },
        Err(e) => (None, Some(e.to_string())),
    };
    Device {
        name,
        node,
        sysfs,
        filesystem,
        unreadable,
    }
}

fn read_start(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(PROBE_SIZE);
    std::fs::File::open(path)?
        .take(PROBE_SIZE as u64)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The one device holding `spec`. A device path is followed through its links (as
/// /dev/disk/by-uuid/... are) to a kernel name.
pub fn find(root: &Path, spec: &Spec) -> Result<Device, FindError> {
    let devices = list(root)?;
    let scanned = devices.len();
    let matching: Vec<Device> = match spec {
        Spec::Path(path) => {
            let inside = root.join(path.strip_prefix("/").unwrap_or(path));
            let resolved = std::fs::canonicalize(&inside).unwrap_or(inside);
            let name = resolved
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            devices
                .into_iter()
                .filter(|d| Some(&d.name) == name.as_ref())
                .collect()
        }
        _ => devices
            .into_iter()
            .filter(|d| {
                d.filesystem
                    .as_ref()
                    .is_some_and(|fs| spec.matches(fs.uuid.as_deref(), fs.label.as_deref()))
            })
            .collect(),
    };
    match <[Device; 1]>::try_from(matching) {
        Ok([device]) => Ok(device),
        Err(matching) if matching.is_empty() => Err(FindError::NotFound {
            spec: spec.to_string(),
            scanned,
        }),
        Err(matching) => Err(FindError::Ambiguous {
            spec: spec.to_string(),
            names: matching
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}
