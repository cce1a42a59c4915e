//! `modules.dep`: one line per loadable module, `path: dependency dependency ...`, the paths
//! relative to the kernel's module directory. depmod writes it; we only read it.

use std::collections::BTreeMap;

use super::{ParseError, module_name};

/// A loadable module: where its file is and which modules it needs first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepEntry {
    pub path: String,
    pub dependencies: Vec<String>,
}

/// Module name to entry; dependency names are module names too.
pub fn parse(text: &str) -> Result<BTreeMap<String, DepEntry>, ParseError> {
    let mut modules = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |what: &str| ParseError::new("modules.dep", index + 1, what, line);
        let (path, dependencies) = line
            .split_once(':')
            .ok_or_else(|| error("no ':' after the module path"))?;
        let name = module_name(path).ok_or_else(|| error("the path does not name a .ko file"))?;
        let dependencies = dependencies
            .split_whitespace()
            .map(|dep| module_name(dep).ok_or_else(|| error("a dependency is not a .ko file")))
            .collect::<Result<Vec<_>, _>>()?;
        modules.insert(
            name,
            DepEntry {
                path: path.to_string(),
                dependencies,
            },
        );
    }
    Ok(modules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_paths_and_dependencies() {
        let text = "kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz\n\
                    kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n\
                    kernel/lib/crc16.ko:\n";
        let modules = parse(text).unwrap();
        assert_eq!(modules.len(), 3);
        assert_eq!(modules["ext4"].dependencies, ["crc16", "mbcache", "jbd2"]);
        assert_eq!(
            modules["virtio_blk"].path,
            "kernel/drivers/block/virtio_blk.ko.xz"
        );
        assert!(modules["crc16"].dependencies.is_empty());
    }

    #[test]
    fn a_bad_line_names_its_number() {
        let error = parse("kernel/a.ko:\nkernel/b.ko kernel/a.ko\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "modules.dep line 2: no ':' after the module path: \"kernel/b.ko kernel/a.ko\""
        );
        assert!(parse("kernel/a.txt:\n").is_err());
    }
}
