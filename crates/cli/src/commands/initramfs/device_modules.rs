//! The kernel modules a block device needs: walking from its sysfs directory up through its
//! parents (partition, disk, controller, bus bridge), every `modalias` names what serves that
//! piece of hardware and every `driver/module` link the module that does so now.

use std::path::Path;

/// sysfs is a tree of a few dozen levels; a deeper walk means a loop.
const MAX_DEPTH: usize = 64;

/// What a device's chain of parents asks for, nearest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    pub modaliases: Vec<String>,
    /// Modules bound to the devices now, by name.
    pub drivers: Vec<String>,
}

/// Walks from `sysfs` (a device directory, links resolved) up to `<root>/sys/devices`.
pub fn wanted(root: &Path, sysfs: &Path) -> Wanted {
    let top = root.join("sys/devices");
    let mut wanted = Wanted::default();
    let mut dir = Some(sysfs);
    for _ in 0..MAX_DEPTH {
        let Some(current) = dir.filter(|d| d.starts_with(&top) && *d != top) else {
            break;
        };
        if let Ok(text) = std::fs::read_to_string(current.join("modalias")) {
            let alias = text.trim().to_string();
            if !alias.is_empty() && !wanted.modaliases.contains(&alias) {
                wanted.modaliases.push(alias);
            }
        }
        if let Ok(link) = std::fs::read_link(current.join("driver/module"))
            && let Some(name) = link.file_name()
        {
            let name = name.to_string_lossy().into_owned();
            if !wanted.drivers.contains(&name) {
                wanted.drivers.push(name);
            }
        }
        dir = current.parent();
    }
    wanted
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn collects_modaliases_and_drivers_up_to_the_top() {
        let root = tempfile::tempdir().unwrap();
        let pci = root.path().join("sys/devices/pci0000:00/0000:00:04.0");
        let virtio = pci.join("virtio2");
        let partition = virtio.join("block/vda/vda1");
        std::fs::create_dir_all(&partition).unwrap();
        std::fs::create_dir_all(root.path().join("sys/module/virtio_blk")).unwrap();
        std::fs::write(virtio.join("modalias"), "virtio:d00000002v00001AF4\n").unwrap();
        std::fs::write(
            pci.join("modalias"),
            "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00\n",
        )
        .unwrap();
        std::fs::create_dir_all(virtio.join("driver")).unwrap();
        symlink(
            "../../../../module/virtio_blk",
            virtio.join("driver/module"),
        )
        .unwrap();
        // Above sys/devices nothing counts.
        std::fs::write(root.path().join("sys/modalias"), "never:read").unwrap();
        let wanted = wanted(root.path(), &partition);
        assert_eq!(
            wanted.modaliases,
            [
                "virtio:d00000002v00001AF4",
                "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00"
            ]
        );
        assert_eq!(wanted.drivers, ["virtio_blk"]);
    }
}
