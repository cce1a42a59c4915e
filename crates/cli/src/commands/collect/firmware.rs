//! The pstore set-up of the running system: which backend pstore uses now, that backend's
//! parameters (the ramoops region, pstore/blk's sizes), whether UEFI and ACPI ERST are there, and
//! how many crash dumps the UEFI variable store holds. It describes this boot; the crashed boot's
//! set-up was the same unless the machine was reconfigured in between. How full the UEFI variable
//! store is comes from efivarfs' statfs, where the kernel has it.

use std::collections::BTreeMap;
use std::path::Path;

use report::{ContextItem, ContextKind, Describes};

use super::read_small;
use crate::paths::under_root;

/// Module parameters worth a report, by module (`blkdev` of pstore_blk is left out: it may name a
/// partition by its UUID).
const PARAMETERS: [(&str, &[&str]); 4] = [
    (
        "pstore",
        &["backend", "compress", "kmsg_bytes", "update_ms"],
    ),
    (
        "ramoops",
        &[
            "mem_address",
            "mem_size",
            "mem_type",
            "mem_name",
            "record_size",
            "console_size",
            "ftrace_size",
            "pmsg_size",
            "ecc",
            "max_reason",
            "dump_oops",
        ],
    ),
    ("efi_pstore", &["pstore_disable"]),
    (
        "pstore_blk",
        &[
            "kmsg_size",
            "pmsg_size",
            "console_size",
            "ftrace_size",
            "best_effort",
            "max_reason",
        ],
    ),
];

const EFI_DIR: &str = "/sys/firmware/efi";
const EFIVARS_DIR: &str = "/sys/firmware/efi/efivars";
const ERST_TABLE: &str = "/sys/firmware/acpi/tables/ERST";
/// efi-pstore names its variables `dump-type0-<part>-<count>-<time>-<C|D>-<GUID>`.
const EFI_DUMP_PREFIX: &str = "dump-type";

pub fn collect(root: &Path) -> ContextItem {
    let mut facts = BTreeMap::new();
    for (module, names) in PARAMETERS {
        let dir = under_root(root, Path::new(&format!("/sys/module/{module}/parameters")));
        for name in names {
            if let Ok(value) = read_small(&dir.join(name)) {
                facts.insert(format!("{module}.{name}"), value.trim().to_string());
            }
        }
    }
    if under_root(root, Path::new(EFI_DIR)).is_dir() {
        facts.insert("efi".to_string(), "present".to_string());
        let vars = under_root(root, Path::new(EFIVARS_DIR));
        if let Some((count, bytes)) = efi_dumps(&vars) {
            facts.insert("efi.dump-variables".to_string(), count.to_string());
            facts.insert("efi.dump-variable-bytes".to_string(), bytes.to_string());
        }
        // efivarfs answers statfs with the store's own account (QueryVariableInfo); kernels
        // before that answer zero, and a plain directory (a fake root) is not efivarfs.
        if let Ok(usage) = sys::fs_usage(&vars)
            && usage.magic == sys::EFIVARFS_MAGIC
            && usage.total_bytes > 0
        {
            facts.insert("efi.store-bytes".to_string(), usage.total_bytes.to_string());
            facts.insert(
                "efi.store-free-bytes".to_string(),
                usage.free_bytes.to_string(),
            );
        }
    }
    if under_root(root, Path::new(ERST_TABLE)).exists() {
        facts.insert("acpi.erst".to_string(), "present".to_string());
    }
    if facts.is_empty() {
        let sys = under_root(root, Path::new("/sys/module/pstore"));
        return ContextItem::missing(
            ContextKind::Firmware,
            Describes::ThisBoot,
            format!(
                "no pstore in the running kernel ({} absent) and no UEFI or ERST",
                sys.display()
            ),
        );
    }
    ContextItem::collected(ContextKind::Firmware, Describes::ThisBoot, facts)
}

/// The number and total size of efi-pstore's variables: a directory listing and one stat each,
/// cheap even on a full store; `None` when efivarfs is not mounted there.
fn efi_dumps(dir: &Path) -> Option<(u64, u64)> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut count = 0;
    let mut bytes = 0;
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(EFI_DUMP_PREFIX)
        {
            count += 1;
            bytes += entry.metadata().map_or(0, |m| m.len());
        }
    }
    Some((count, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn ramoops_region_and_backend() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(r, "sys/module/pstore/parameters/backend", "ramoops\n");
        write(r, "sys/module/pstore/parameters/compress", "deflate\n");
        write(
            r,
            "sys/module/ramoops/parameters/mem_address",
            "1056964608\n",
        );
        write(r, "sys/module/ramoops/parameters/mem_size", "1048576\n");
        write(r, "sys/module/ramoops/parameters/record_size", "65536\n");
        write(
            r,
            "sys/module/pstore_blk/parameters/blkdev",
            "PARTUUID=1234\n",
        );
        let item = collect(r);
        assert!(item.is_collected());
        assert_eq!(item.facts["pstore.backend"], "ramoops");
        assert_eq!(item.facts["ramoops.mem_address"], "1056964608");
        assert_eq!(item.facts.len(), 5, "{:?}", item.facts);
        assert!(!serde_json::to_string(&item).unwrap().contains("PARTUUID"));
    }

    #[test]
    fn efi_dump_variables_are_counted() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let vars = "sys/firmware/efi/efivars";
        write(
            r,
            &format!("{vars}/dump-type0-1-1-1700000000-C-cfc8fc79"),
            "abcd",
        );
        write(
            r,
            &format!("{vars}/dump-type0-2-1-1700000000-C-cfc8fc79"),
            "ab",
        );
        write(r, &format!("{vars}/Boot0000-8be4df61"), "boot entry");
        write(r, "sys/firmware/acpi/tables/ERST", "");
        let item = collect(r);
        assert_eq!(item.facts["efi"], "present");
        assert_eq!(item.facts["efi.dump-variables"], "2");
        assert_eq!(item.facts["efi.dump-variable-bytes"], "6");
        assert_eq!(item.facts["acpi.erst"], "present");
        // A plain directory is not efivarfs: no store size is made up from its filesystem.
        assert!(
            !item.facts.contains_key("efi.store-bytes"),
            "{:?}",
            item.facts
        );
    }

    #[test]
    fn a_kernel_without_pstore_is_a_reason() {
        let root = tempfile::tempdir().unwrap();
        let item = collect(root.path());
        assert!(
            item.missing
                .unwrap()
                .starts_with("no pstore in the running kernel ("),
        );
    }
}
