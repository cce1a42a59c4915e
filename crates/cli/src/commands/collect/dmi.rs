//! DMI identification of the machine: vendor, product and BIOS version from
//! `/sys/class/dmi/id`. Serial numbers, UUIDs and asset tags are never read.

use std::collections::BTreeMap;
use std::path::Path;

use report::{ContextItem, ContextKind, Describes};

use super::read_small;
use crate::paths::under_root;

const DIR: &str = "/sys/class/dmi/id";

/// The attributes a report keeps; everything else in the directory is left alone on purpose.
const ATTRIBUTES: [&str; 10] = [
    "sys_vendor",
    "product_name",
    "product_version",
    "product_family",
    "board_vendor",
    "board_name",
    "bios_vendor",
    "bios_version",
    "bios_date",
    "bios_release",
];

pub fn collect(root: &Path) -> ContextItem {
    let dir = under_root(root, Path::new(DIR));
    if !dir.is_dir() {
        return ContextItem::missing(
            ContextKind::Dmi,
            Describes::ThisBoot,
            format!("no DMI table ({} absent)", dir.display()),
        );
    }
    let facts: BTreeMap<String, String> = ATTRIBUTES
        .iter()
        .filter_map(|name| {
            let value = read_small(&dir.join(name)).ok()?;
            let value = value.trim();
            (!value.is_empty()).then(|| (name.to_string(), value.to_string()))
        })
        .collect();
    if facts.is_empty() {
        return ContextItem::missing(
            ContextKind::Dmi,
            Describes::ThisBoot,
            format!("{} has no readable product or BIOS fields", dir.display()),
        );
    }
    ContextItem::collected(ContextKind::Dmi, Describes::ThisBoot, facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_and_bios_but_never_serials() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sys/class/dmi/id");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, value) in [
            ("sys_vendor", "QEMU\n"),
            ("product_name", "Standard PC (i440FX + PIIX, 1996)\n"),
            ("bios_version", "1.16.2-debian-1.16.2-1\n"),
            ("product_version", "\n"),
            ("product_serial", "SN-123\n"),
            ("product_uuid", "0f1e2d3c-aaaa-bbbb-cccc-000000000000\n"),
            ("board_serial", "B-9\n"),
            ("chassis_asset_tag", "tag\n"),
        ] {
            std::fs::write(dir.join(name), value).unwrap();
        }
        let item = collect(root.path());
        let names: Vec<&str> = item.facts.keys().map(String::as_str).collect();
        assert_eq!(names, ["bios_version", "product_name", "sys_vendor"]);
        assert_eq!(item.facts["bios_version"], "1.16.2-debian-1.16.2-1");
        let json = serde_json::to_string(&item).unwrap();
        for secret in ["SN-123", "0f1e2d3c", "B-9", "tag"] {
            assert!(!json.contains(secret), "{json}");
        }
    }

    #[test]
    fn machines_without_dmi_say_so() {
        let root = tempfile::tempdir().unwrap();
        let item = collect(root.path());
        assert!(item.missing.unwrap().starts_with("no DMI table ("));
        std::fs::create_dir_all(root.path().join("sys/class/dmi/id")).unwrap();
        let item = collect(root.path());
        assert!(
            item.missing
                .unwrap()
                .ends_with("has no readable product or BIOS fields")
        );
    }
}
