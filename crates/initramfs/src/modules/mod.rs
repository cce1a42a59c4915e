//! Kernel modules for a capture initramfs: depmod's index files parsed (pure, from text), and
//! a module name or a device's modalias resolved to the module files to load, dependencies
//! first. Built-in modules need no file and resolve to nothing.

mod alias;
mod builtin;
pub mod compression;
mod dep;
mod softdep;

use std::collections::{BTreeMap, BTreeSet};

pub use alias::{Alias, glob_matches};
pub use compression::Compression;
pub use dep::DepEntry;
pub use softdep::SoftDep;

/// A line of a depmod file that does not read as it should.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file} line {line}: {what}: {text:?}")]
pub struct ParseError {
    pub file: &'static str,
    pub line: usize,
    pub what: String,
    pub text: String,
}

impl ParseError {
    fn new(file: &'static str, line: usize, what: &str, text: &str) -> Self {
        let text: String = text.chars().take(120).collect();
        ParseError {
            file,
            line,
            what: what.to_string(),
            text,
        }
    }
}

/// The module name the kernel uses for a file path: the file name without `.ko` and its
/// compression suffix, `-` written `_`.
pub fn module_name(path: &str) -> Option<String> {
    let file = path.trim().rsplit('/').next()?;
    let stem = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .find_map(|suffix| file.strip_suffix(suffix))?;
    (!stem.is_empty()).then(|| normalize(stem))
}

/// Module names are compared with `-` and `_` as the same character, as the kernel does.
pub fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// What depmod knows about one kernel's modules.
#[derive(Debug, Clone, Default)]
pub struct Index {
    pub loadable: BTreeMap<String, DepEntry>,
    pub builtin: BTreeSet<String>,
    pub aliases: Vec<Alias>,
    pub builtin_aliases: Vec<Alias>,
    pub softdeps: BTreeMap<String, SoftDep>,
}

/// The depmod files' contents; `modules.builtin.modinfo` is missing on kernels before 5.2.
pub struct IndexFiles<'a> {
    pub dep: &'a str,
    pub alias: &'a str,
    pub softdep: &'a str,
    pub builtin: &'a str,
    pub builtin_modinfo: Option<&'a [u8]>,
}

/// How a module name resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Part of the kernel image: nothing to load.
    Builtin,
    /// Module names, dependencies first, the module itself last.
    Load(Vec<String>),
}

/// A name that neither modules.dep nor modules.builtin knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("module {0} is neither built in nor in modules.dep")]
pub struct UnknownModule(pub String);

impl Index {
    pub fn parse(files: &IndexFiles<'_>) -> Result<Self, ParseError> {
        Ok(Index {
            loadable: dep::parse(files.dep)?,
            builtin: builtin::parse_names(files.builtin)?.into_iter().collect(),
            aliases: alias::parse(files.alias)?,
            builtin_aliases: match files.builtin_modinfo {
                Some(bytes) => builtin::parse_modinfo(bytes)?,
                None => Vec::new(),
            },
            softdeps: softdep::parse(files.softdep)?,
        })
    }

    /// The modules to load for `name`, in load order.
    pub fn resolve(&self, name: &str) -> Result<Resolved, UnknownModule> {
        let name = normalize(name);
        if !self.loadable.contains_key(&name) {
            return if self.builtin.contains(&name) {
                Ok(Resolved::Builtin)
            } else {
                Err(UnknownModule(name))
            };
        }
        let mut order = Vec::new();
        let mut visiting = BTreeSet::new();
        self.visit(&name, &mut visiting, &mut order)?;
        Ok(Resolved::Load(order))
    }

    /// Depth-first, dependencies before dependents: a module's soft "pre" dependencies, its
    /// hard ones, the module, then its soft "post" ones. depmod refuses dependency cycles, but a
    /// hand-edited file could have one: a module on the current path is not entered twice.
    fn visit(
        &self,
        name: &str,
        visiting: &mut BTreeSet<String>,
        order: &mut Vec<String>,
    ) -> Result<(), UnknownModule> {
        if order.iter().any(|done| done == name) || !visiting.insert(name.to_string()) {
            return Ok(());
        }
        match self.loadable.get(name) {
            Some(entry) => {
                let soft = self.softdeps.get(name);
                for soft_name in soft.into_iter().flat_map(|s| &s.pre) {
                    self.visit_soft(soft_name, visiting, order);
                }
                for dependency in &entry.dependencies {
                    self.visit(dependency, visiting, order)?;
                }
                order.push(name.to_string());
                for soft_name in soft.into_iter().flat_map(|s| &s.post) {
                    self.visit_soft(soft_name, visiting, order);
                }
            }
            None if self.builtin.contains(name) => {}
            None => return Err(UnknownModule(name.to_string())),
        }
        visiting.remove(name);
        Ok(())
    }

    /// A soft dependency is a module name or an alias (`crypto-crc32c`), and optional: what
    /// this kernel does not have is left out, as modprobe does.
    fn visit_soft(&self, name: &str, visiting: &mut BTreeSet<String>, order: &mut Vec<String>) {
        let normalized = normalize(name);
        let names = if self.loadable.contains_key(&normalized) || self.builtin.contains(&normalized)
        {
            vec![normalized]
        } else {
            self.modules_for_alias(name)
        };
        for module in names {
            let _ = self.visit(&module, visiting, order);
        }
    }

    /// The modules whose aliases match `modalias` (a device's `modalias` file, or a name like
    /// `fs-ext4`), loadable ones and built-in ones, each once.
    pub fn modules_for_alias(&self, modalias: &str) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for alias in self.aliases.iter().chain(&self.builtin_aliases) {
            if !names.contains(&alias.module) && glob_matches(&alias.pattern, modalias) {
                names.push(alias.module.clone());
            }
        }
        names
    }

    pub fn path(&self, name: &str) -> Option<&str> {
        self.loadable.get(name).map(|entry| entry.path.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Index {
        Index::parse(&IndexFiles {
            dep: "kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz\n\
                  kernel/fs/jbd2/jbd2.ko.xz:\n\
                  kernel/fs/mbcache.ko.xz:\n\
                  kernel/lib/crc16.ko.xz:\n\
                  kernel/drivers/block/virtio_blk.ko.xz:\n\
                  kernel/drivers/scsi/sd_mod.ko.xz: kernel/drivers/scsi/scsi_mod.ko.xz kernel/lib/crc-t10dif.ko.xz\n\
                  kernel/drivers/scsi/scsi_mod.ko.xz: kernel/drivers/scsi/scsi_common.ko.xz\n\
                  kernel/drivers/scsi/scsi_common.ko.xz:\n\
                  kernel/lib/crc-t10dif.ko.xz: kernel/crypto/crct10dif_common.ko.xz\n\
                  kernel/crypto/crct10dif_common.ko.xz:\n\
                  kernel/crypto/crc32c_generic.ko.xz:\n\
                  kernel/arch/x86/crypto/crc32c-intel.ko.xz:\n",
            alias: "alias fs-ext4 ext4\nalias virtio:d00000002v* virtio_blk\nalias scsi:t-0x00* sd_mod\n\
                    alias crypto-crc32c crc32c_generic\nalias crypto-crc32c crc32c_intel\n",
            softdep: "softdep ext4 pre: crypto-crc32c\nsoftdep jbd2 pre: crypto-crc32c\n",
            builtin: "kernel/drivers/virtio/virtio_pci.ko\nkernel/fs/vfat/vfat.ko\n",
            builtin_modinfo: Some(b"virtio_pci.alias=pci:v00001AF4d*sv*sd*bc*sc*i*\0vfat.alias=fs-vfat\0"),
        })
        .unwrap()
    }

    #[test]
    fn dependencies_come_before_the_module() {
        let index = index();
        // ext4 and jbd2 want a crc32c implementation first (softdep pre: crypto-crc32c),
        // found through the alias: every module that provides it.
        assert_eq!(
            index.resolve("ext4").unwrap(),
            Resolved::Load(
                [
                    "crc32c_generic",
                    "crc32c_intel",
                    "crc16",
                    "mbcache",
                    "jbd2",
                    "ext4"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        let Resolved::Load(order) = index.resolve("sd_mod").unwrap() else {
            panic!("sd_mod is loadable");
        };
        let position = |n: &str| order.iter().position(|m| m == n).unwrap();
        assert!(position("scsi_common") < position("scsi_mod"));
        assert!(position("crct10dif_common") < position("crc_t10dif"));
        assert_eq!(order.last().unwrap(), "sd_mod");
        assert_eq!(order.len(), 5);
    }

    #[test]
    fn builtin_and_unknown_modules() {
        let index = index();
        assert_eq!(index.resolve("virtio-pci").unwrap(), Resolved::Builtin);
        assert_eq!(
            index.resolve("nvme").unwrap_err().to_string(),
            "module nvme is neither built in nor in modules.dep"
        );
    }

    #[test]
    fn modaliases_resolve_to_loadable_and_builtin_modules() {
        let index = index();
        assert_eq!(
            index.modules_for_alias("virtio:d00000002v00001AF4"),
            ["virtio_blk"]
        );
        assert_eq!(
            index.modules_for_alias("pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00"),
            ["virtio_pci"]
        );
        assert_eq!(index.modules_for_alias("fs-vfat"), ["vfat"]);
        assert!(index.modules_for_alias("platform:serial8250").is_empty());
    }

    #[test]
    fn a_dependency_cycle_ends() {
        let index = Index::parse(&IndexFiles {
            dep: "a.ko: b.ko\nb.ko: a.ko\n",
            alias: "",
            softdep: "",
            builtin: "",
            builtin_modinfo: None,
        })
        .unwrap();
        assert_eq!(
            index.resolve("a").unwrap(),
            Resolved::Load(vec!["b".into(), "a".into()])
        );
    }

    #[test]
    fn module_names_from_paths() {
        assert_eq!(
            module_name("kernel/lib/crc-t10dif.ko.zst").as_deref(),
            Some("crc_t10dif")
        );
        assert_eq!(
            module_name("/lib/modules/6.1/kernel/fs/xfs/xfs.ko").as_deref(),
            Some("xfs")
        );
        assert_eq!(module_name("kernel/fs/xfs/xfs.o"), None);
        assert_eq!(module_name(".ko"), None);
    }
}
