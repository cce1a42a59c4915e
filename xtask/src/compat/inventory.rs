//! The lab's vmcores (`target/lab/vmcores/<name>/`): in each directory the ELF `vmcore` (a copy
//! of a crashed guest's /proc/vmcore), with the kernel release its VMCOREINFO names. Other files
//! there (dumps made from it, QEMU's dumps) are left alone.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// One lab vmcore.
#[derive(Debug, Clone)]
pub struct LabVmcore {
    /// Its directory's name.
    pub name: String,
    pub path: PathBuf,
    pub release: String,
    pub bytes: u64,
}

/// The vmcores directory under the lab's cache.
pub fn default_dir(cache: &Path) -> PathBuf {
    cache.join("vmcores")
}

const ELF_MAGIC: &[u8; 4] = b"\x7fELF";
/// The file name of a /proc/vmcore copy in its directory.
const VMCORE: &str = "vmcore";

/// Every directory of `dir` holding an ELF vmcore, sorted by name; `names` (if any) keeps only
/// those, and each must exist.
pub fn find(dir: &Path, names: &[String]) -> Result<Vec<LabVmcore>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && names.is_empty() => {
            return Ok(found);
        }
        Err(err) => return Err(err).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !names.is_empty() && !names.contains(&name) {
            continue;
        }
        if let Some(path) = elf_file(&entry.path())? {
            found.push(describe(name, path)?);
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    for name in names {
        if !found.iter().any(|v| &v.name == name) {
            bail!("{}: no ELF vmcore named {name}", dir.display());
        }
    }
    Ok(found)
}

/// QEMU's `dump-guest-memory` ELF file in a lab directory.
const QEMU_ELF: &str = "vmcore.elf";

/// Every lab directory holding a QEMU ELF dump (`vmcore.elf`), sorted by name: only their logs
/// are compared (with vmcore-dmesg, the one peer that reads some of them).
pub fn find_qemu(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(err) => return Err(err).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path().join(QEMU_ELF);
        if path.is_file() {
            let name = path
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            found.push((name, path));
        }
    }
    found.sort();
    Ok(found)
}

/// The `vmcore` file of a vmcore directory, if it is an ELF core. Only the lab's copies of
/// /proc/vmcore are named so; QEMU's `dump-guest-memory` ELF files beside them are not
/// subjects, as neither makedumpfile 1.7.2 ("Can't get the number of PT_LOAD") nor
/// vmcore-dmesg (its PT_LOADs carry no virtual addresses) reads them, so there is no reference
/// log to compare with.
fn elf_file(dir: &Path) -> Result<Option<PathBuf>> {
    let path = dir.join(VMCORE);
    if !path.is_file() {
        return Ok(None);
    }
    let mut magic = [0u8; 4];
    File::open(&path)
        .and_then(|f| std::os::unix::fs::FileExt::read_exact_at(&f, &mut magic, 0))
        .with_context(|| format!("reading {}", path.display()))?;
    Ok((&magic == ELF_MAGIC).then_some(path))
}

fn describe(name: String, path: PathBuf) -> Result<LabVmcore> {
    let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let core =
        vmcore::ElfCore::read(&file).with_context(|| format!("reading {}", path.display()))?;
    let release = core
        .vmcoreinfo()
        .and_then(|info| info.osrelease().map(str::to_owned))
        .with_context(|| format!("{}: no OSRELEASE in VMCOREINFO", path.display()))?;
    Ok(LabVmcore {
        name,
        bytes: core.file_size,
        path,
        release,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmcore::Machine;
    use vmcore::synthetic::ElfCoreBuilder;

    #[test]
    fn vmcore_directories_are_found_with_their_release() {
        let dir = std::env::temp_dir().join(format!("compat-inventory-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let core = ElfCoreBuilder::new(Machine::X86_64)
            .vmcoreinfo("OSRELEASE=6.12.117+deb13-amd64\nPAGESIZE=4096\n")
            .load(0, 0, vec![0; 4096])
            .build();
        for name in ["kdump-b", "kdump-a"] {
            std::fs::create_dir_all(dir.join(name)).unwrap();
            std::fs::write(dir.join(name).join(VMCORE), &core).unwrap();
        }
        // A QEMU dump and a directory of something else are not subjects.
        std::fs::create_dir_all(dir.join("qemu")).unwrap();
        std::fs::write(dir.join("qemu/vmcore.elf"), &core).unwrap();
        std::fs::create_dir_all(dir.join("text")).unwrap();
        std::fs::write(dir.join("text").join(VMCORE), "not a core").unwrap();

        let found = find(&dir, &[]).unwrap();
        let names: Vec<&str> = found.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["kdump-a", "kdump-b"]);
        assert_eq!(found[0].release, "6.12.117+deb13-amd64");
        assert_eq!(found[0].bytes, core.len() as u64);

        assert_eq!(find(&dir, &["kdump-b".into()]).unwrap().len(), 1);
        assert!(find(&dir, &["qemu".into()]).is_err());
        assert!(find(&dir.join("none"), &[]).unwrap().is_empty());
        let qemu = find_qemu(&dir).unwrap();
        assert_eq!(qemu, [("qemu".to_owned(), dir.join("qemu").join(QEMU_ELF))]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
