//! Reads the facts `decide` needs from the machine under a root: the running kernel, its config
//! and module lists, the firmware's pstore options, `/proc/iomem`, a device-tree ramoops node.
//! Missing files are facts (an unknown), not errors.

use std::fs;
use std::path::{Path, PathBuf};

use crate::decide::Facts;
use crate::iomem;
use crate::kernel::{self, Presence};
use crate::root::under_root;

const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
pub const PROC_CMDLINE: &str = "/proc/cmdline";
const IOMEM: &str = "/proc/iomem";
const ERST_TABLE: &str = "/sys/firmware/acpi/tables/ERST";
const PSTORE_BACKEND: &str = "/sys/module/pstore/parameters/backend";
const EFI: &str = "/sys/firmware/efi";
const DT_RESERVED: &str = "/proc/device-tree/reserved-memory";

fn read(root: &Path, path: &Path) -> Option<String> {
    fs::read_to_string(under_root(root, path)).ok()
}

/// The running kernel's command line under `root` (empty when unreadable).
pub fn proc_cmdline(root: &Path) -> String {
    read(root, Path::new(PROC_CMDLINE)).unwrap_or_default()
}

/// Everything setup decides from, read under `root`.
pub fn facts(root: &Path) -> Facts {
    let release = read(root, Path::new(OSRELEASE)).map(|s| s.trim().to_string());
    let config = release.as_deref().and_then(|r| {
        read(root, &PathBuf::from(format!("/boot/config-{r}")))
            .map(|text| kernel::parse_config(&text))
    });
    let lists = |name: &str| {
        let r = release.as_deref()?;
        ["/usr/lib/modules", "/lib/modules"]
            .iter()
            .find_map(|dir| read(root, &Path::new(dir).join(r).join(name)))
    };
    let (builtin, dep) = (lists("modules.builtin"), lists("modules.dep"));
    let presence = |option: &str, module: &str| match &config {
        Some(config) => kernel::option(config, option),
        None => kernel::module(builtin.as_deref(), dep.as_deref(), module),
    };
    let erst = under_root(root, Path::new(ERST_TABLE)).exists()
        || read(root, Path::new(PSTORE_BACKEND)).is_some_and(|b| b.trim() == "erst");
    Facts {
        erst,
        efi_booted: under_root(root, Path::new(EFI)).is_dir(),
        efi_pstore: presence("CONFIG_EFI_VARS_PSTORE", "efi_pstore"),
        efi_pstore_default_disabled: config.as_ref().is_some_and(|c| {
            kernel::option(c, "CONFIG_EFI_VARS_PSTORE_DEFAULT_DISABLE") == Presence::BuiltIn
        }),
        ramoops: presence("CONFIG_PSTORE_RAM", "ramoops"),
        pstore_blk: presence("CONFIG_PSTORE_BLK", "pstore_blk"),
        iomem: read(root, Path::new(IOMEM)).map(|text| (PathBuf::from(IOMEM), text)),
        devicetree_ramoops: devicetree_ramoops(root),
        release,
    }
}

fn devicetree_ramoops(root: &Path) -> Option<Option<(u64, u64)>> {
    let dir = fs::read_dir(under_root(root, Path::new(DT_RESERVED))).ok()?;
    let node = dir
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("ramoops"))?;
    Some(
        fs::read(node.path().join("reg"))
            .ok()
            .and_then(|reg| iomem::devicetree_reg(&reg)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(root: &Path, path: &str, text: &[u8]) {
        let full = under_root(root, Path::new(path));
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, text).unwrap();
    }

    #[test]
    fn facts_come_from_under_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let empty = facts(root);
        assert_eq!(
            (empty.release, empty.ramoops, empty.erst),
            (None, Presence::Unknown, false)
        );
        put(root, OSRELEASE, b"6.1.0-57-amd64\n");
        put(root, "/boot/config-6.1.0-57-amd64", b"CONFIG_PSTORE_RAM=m\nCONFIG_EFI_VARS_PSTORE=m\nCONFIG_EFI_VARS_PSTORE_DEFAULT_DISABLE=y\n");
        put(root, "/sys/firmware/efi/systab", b"");
        put(root, ERST_TABLE, b"ERST");
        let mut reg = 0x8f00_0000u64.to_be_bytes().to_vec();
        reg.extend(0x10_0000u64.to_be_bytes());
        put(
            root,
            "/proc/device-tree/reserved-memory/ramoops@8f000000/reg",
            &reg,
        );
        let f = facts(root);
        assert_eq!(f.release.as_deref(), Some("6.1.0-57-amd64"));
        assert_eq!(
            (f.ramoops, f.efi_pstore, f.pstore_blk),
            (Presence::Module, Presence::Module, Presence::Missing)
        );
        assert!(f.efi_booted && f.erst && f.efi_pstore_default_disabled);
        assert_eq!(f.devicetree_ramoops, Some(Some((0x8f00_0000, 0x10_0000))));
    }
}
