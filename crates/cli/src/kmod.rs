//! Loading a kernel module as modprobe would, without modprobe: the name resolved through the
//! release's modules.dep and modules.softdep (the initramfs crate's index), dependencies first,
//! each file handed to finit_module(2), compressed ones decompressed by the kernel when it can
//! (CONFIG_MODULE_DECOMPRESS) and here otherwise. `load` arms pstore backends with it.

use std::io::Write;
use std::path::Path;

use initramfs::{Compression, KernelTree, Resolved};
use sys::ModuleInitFlags;

use crate::paths::under_root;

/// What became of the module asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Loaded now, with the parameters given.
    Loaded,
    /// It was loaded before: the parameters given were not applied.
    AlreadyLoaded,
    /// Part of the kernel image: it takes its parameters from the kernel command line only.
    Builtin,
}

/// The module loaded, and the dependencies loaded for it first.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub outcome: Outcome,
    pub dependencies: Vec<String>,
}

#[derive(Debug)]
pub enum ModuleError {
    Tree(initramfs::Error),
    Missing { name: String, release: String },
    Syscall { name: String, source: sys::Error },
}

impl std::fmt::Display for ModuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModuleError::Tree(error) => write!(f, "{error}"),
            ModuleError::Missing { name, release } => write!(
                f,
                "module {name} is neither built into {release} nor in its modules.dep"
            ),
            ModuleError::Syscall { name, source } => write!(f, "{name}: {source}"),
        }
    }
}

impl std::error::Error for ModuleError {}

impl From<initramfs::Error> for ModuleError {
    fn from(error: initramfs::Error) -> Self {
        ModuleError::Tree(error)
    }
}

/// Whether module `name` is loaded (or built in with a sysfs directory) under `root`.
pub fn is_loaded(root: &Path, name: &str) -> bool {
    under_root(root, Path::new("/sys/module"))
        .join(initramfs::modules::normalize(name))
        .is_dir()
}

/// Loads `name` with `params` for kernel `release`, its dependencies first (without
/// parameters). A module already loaded is left as it is.
pub fn load(root: &Path, release: &str, name: &str, params: &str) -> Result<Loaded, ModuleError> {
    let name = initramfs::modules::normalize(name);
    let tree = KernelTree::open(root, release)?;
    let order = match tree.index.resolve(&name) {
        Ok(Resolved::Builtin) => {
            return Ok(Loaded {
                outcome: Outcome::Builtin,
                dependencies: Vec::new(),
            });
        }
        Ok(Resolved::Load(order)) => order,
        Err(_) => {
            return Err(ModuleError::Missing {
                name,
                release: release.to_string(),
            });
        }
    };
    let mut dependencies = Vec::new();
    let mut outcome = Outcome::AlreadyLoaded;
    for module in &order {
        let wanted = *module == name;
        if is_loaded(root, module) {
            continue;
        }
        match load_file(&tree, module, if wanted { params } else { "" }) {
            Ok(()) => {}
            // Loaded by someone else meanwhile (udev, a racing unit).
            Err(e) if e.errno() == Some(sys::errno::EEXIST) => continue,
            Err(e) => {
                return Err(ModuleError::Syscall {
                    name: module.clone(),
                    source: e,
                });
            }
        }
        tracing::info!(
            module,
            params = if wanted { params } else { "" },
            "module loaded"
        );
        if wanted {
            outcome = Outcome::Loaded;
        } else {
            dependencies.push(module.clone());
        }
    }
    Ok(Loaded {
        outcome,
        dependencies,
    })
}

/// finit_module on the module's bytes, through a memory file: compressed as stored when the
/// kernel decompresses that method itself, decompressed by `module_file` otherwise.
fn load_file(tree: &KernelTree, name: &str, params: &str) -> Result<(), sys::Error> {
    let file = tree.module_file(name).map_err(|e| sys::Error::File {
        path: tree.dir.join(name),
        source: std::io::Error::other(e.to_string()),
    })?;
    let mut memfd = sys::memfd(&format!("lastgasp-module-{name}"))?;
    memfd.write_all(&file.data).map_err(|e| sys::Error::File {
        path: "memfd".into(),
        source: e,
    })?;
    let flags = if file.compression == Compression::None {
        ModuleInitFlags::empty()
    } else {
        ModuleInitFlags::COMPRESSED_FILE
    };
    sys::finit_module(&memfd, params, flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(root: &Path, release: &str) {
        let dir = root.join(format!("lib/modules/{release}"));
        std::fs::create_dir_all(dir.join("kernel/fs/pstore")).unwrap();
        std::fs::write(
            dir.join("modules.dep"),
            "kernel/fs/pstore/ramoops.ko: kernel/lib/reed_solomon/reed_solomon.ko\n\
             kernel/lib/reed_solomon/reed_solomon.ko:\n",
        )
        .unwrap();
        std::fs::write(dir.join("modules.builtin"), "kernel/fs/pstore/pstore.ko\n").unwrap();
    }

    #[test]
    fn a_module_the_kernel_lacks_is_named() {
        let root = tempfile::tempdir().unwrap();
        tree(root.path(), "6.1.0-test");
        let error = load(root.path(), "6.1.0-test", "efi-pstore", "").unwrap_err();
        assert_eq!(
            error.to_string(),
            "module efi_pstore is neither built into 6.1.0-test nor in its modules.dep"
        );
        let error = load(root.path(), "9.9", "ramoops", "").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("no module directory for kernel 9.9")
        );
    }

    #[test]
    fn built_in_and_loaded_modules_are_not_loaded_again() {
        let root = tempfile::tempdir().unwrap();
        tree(root.path(), "6.1.0-test");
        let loaded = load(root.path(), "6.1.0-test", "pstore", "").unwrap();
        assert_eq!(loaded.outcome, Outcome::Builtin);
        for module in ["ramoops", "reed_solomon"] {
            std::fs::create_dir_all(root.path().join("sys/module").join(module)).unwrap();
        }
        assert!(is_loaded(root.path(), "ramoops"));
        let loaded = load(root.path(), "6.1.0-test", "ramoops", "mem_size=1").unwrap();
        assert_eq!(loaded.outcome, Outcome::AlreadyLoaded);
        assert!(loaded.dependencies.is_empty());
    }

    /// A file that is no module reaches the kernel, which refuses it (ENOEXEC as root, EPERM
    /// without CAP_SYS_MODULE, ENOSYS in a sandbox that filters the call): the error names the
    /// module and carries the errno.
    #[test]
    fn the_kernel_s_refusal_names_the_module() {
        let root = tempfile::tempdir().unwrap();
        tree(root.path(), "6.1.0-test");
        let dir = root.path().join("lib/modules/6.1.0-test/kernel");
        std::fs::create_dir_all(dir.join("lib/reed_solomon")).unwrap();
        std::fs::write(
            dir.join("lib/reed_solomon/reed_solomon.ko"),
            b"not a module",
        )
        .unwrap();
        let error = load(root.path(), "6.1.0-test", "ramoops", "").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("reed_solomon: finit_module: "),
            "{error}"
        );
        let ModuleError::Syscall { source, .. } = &error else {
            panic!("{error}");
        };
        assert!(
            [
                sys::errno::ENOEXEC,
                sys::errno::EPERM,
                sys::errno::EINVAL,
                sys::errno::ENOSYS
            ]
            .contains(&source.errno().unwrap()),
            "{error}"
        );
    }
}
