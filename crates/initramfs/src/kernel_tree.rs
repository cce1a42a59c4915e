//! One kernel's modules on disk: `<root>/lib/modules/<release>` (or `/usr/lib/modules`, as on
//! merged-/usr systems), its depmod index and its configuration (`/boot/config-<release>` or the
//! module directory's `config`), and module files read ready for an image.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::modules::{Compression, Index, IndexFiles};

const MODULE_DIRS: [&str; 2] = ["lib/modules", "usr/lib/modules"];

/// A kernel's module directory and what depmod wrote there.
#[derive(Debug, Clone)]
pub struct KernelTree {
    pub release: String,
    pub dir: PathBuf,
    pub index: Index,
    /// The compression finit_module undoes itself on this kernel, if any.
    pub in_kernel: Option<Compression>,
    /// The kernel's `.config`, when one was found.
    pub config: Option<String>,
}

/// A module file as it goes into the image.
#[derive(Debug, Clone)]
pub struct ModuleFile {
    pub name: String,
    /// Path inside the image, relative to its root, e.g. `lib/modules/6.1/kernel/fs/ext4/ext4.ko`.
    pub image_path: String,
    pub compression: Compression,
    pub data: Vec<u8>,
}

impl KernelTree {
    /// Finds `release`'s module directory under `root`.
    pub fn open(root: &Path, release: &str) -> Result<Self, Error> {
        let candidates: Vec<PathBuf> = MODULE_DIRS
            .iter()
            .map(|dir| root.join(dir).join(release))
            .collect();
        let dir = candidates
            .iter()
            .find(|dir| dir.join("modules.dep").is_file())
            .ok_or_else(|| Error::NoModules {
                release: release.to_string(),
                looked: candidates
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let configs = [
            root.join("boot").join(format!("config-{release}")),
            dir.join("config"),
        ];
        Self::open_dir(dir, release, &configs)
    }

    /// A module directory given directly; `configs` are tried in order for the kernel config.
    pub fn open_dir(dir: &Path, release: &str, configs: &[PathBuf]) -> Result<Self, Error> {
        let dep = read_text(&dir.join("modules.dep"))?;
        let alias = read_optional(&dir.join("modules.alias"))?.unwrap_or_default();
        let softdep = read_optional(&dir.join("modules.softdep"))?.unwrap_or_default();
        let builtin = read_optional(&dir.join("modules.builtin"))?.unwrap_or_default();
        let modinfo = read_optional(&dir.join("modules.builtin.modinfo"))?;
        let index = Index::parse(&IndexFiles {
            dep: &String::from_utf8_lossy(&dep),
            alias: &String::from_utf8_lossy(&alias),
            softdep: &String::from_utf8_lossy(&softdep),
            builtin: &String::from_utf8_lossy(&builtin),
            builtin_modinfo: modinfo.as_deref(),
        })?;
        let mut config = None;
        for path in configs {
            if let Some(text) = read_optional(path)? {
                config = Some(String::from_utf8_lossy(&text).into_owned());
                break;
            }
        }
        let in_kernel = config.as_deref().and_then(Compression::in_kernel);
        Ok(KernelTree {
            release: release.to_string(),
            dir: dir.to_path_buf(),
            index,
            in_kernel,
            config,
        })
    }

    /// Reads a loadable module's file. It stays compressed when the kernel can decompress that
    /// method itself (a smaller image); otherwise it is decompressed here.
    pub fn module_file(&self, name: &str) -> Result<ModuleFile, Error> {
        let relative = self.index.path(name).ok_or_else(|| Error::Io {
            path: name.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not in modules.dep"),
        })?;
        let source = if Path::new(relative).is_absolute() {
            PathBuf::from(relative)
        } else {
            self.dir.join(relative)
        };
        let data = read_text(&source)?;
        let stored = Compression::of_path(relative);
        let relative = relative.trim_start_matches('/');
        let stem = relative.strip_suffix(stored.suffix()).unwrap_or(relative);
        let (data, compression, image_name) =
            if stored == Compression::None || self.in_kernel == Some(stored) {
                (data, stored, relative.to_string())
            } else {
                (
                    stored.decompress(&data)?,
                    Compression::None,
                    stem.to_string(),
                )
            };
        Ok(ModuleFile {
            name: name.to_string(),
            image_path: format!("lib/modules/{}/{}", self.release, image_name),
            compression,
            data,
        })
    }
}

fn read_text(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}
