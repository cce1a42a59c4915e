//! Writing the canary through the armed backend without crashing: a UEFI variable in
//! efi-pstore's own format, a pmsg record where the kernel has pmsg, or ramoops reloaded (or,
//! for ERST, printk.always_kmsg_dump switched on) so the kernel itself dumps its log, canary
//! line included, at the reboot. Under a root that is
//! not the running system, files are written under it and module reloads are only named.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use super::settle::SELFTEST_REASON;
use super::state::Method;
use crate::commands::backend::{self, RamoopsParams};
use crate::paths::under_root;

pub const EFIVARS: &str = "/sys/firmware/efi/efivars";
/// LINUX_EFI_CRASH_GUID, the vendor GUID of efi-pstore's variables.
pub const EFI_CRASH_GUID: &str = "cfc8fc79-be2e-4ddc-97f0-9f98bfe298a0";
/// EFI_VARIABLE_NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS, as efi-pstore writes them.
const EFI_ATTRIBUTES: u32 = 0x7;
pub const PMSG: &str = "/dev/pmsg0";
pub const KMSG: &str = "/dev/kmsg";
/// Writable at run time: makes the kernel dump its log at reboot through every dumper that set no
/// max_reason of its own (ERST's and efi-pstore's).
pub const ALWAYS_KMSG_DUMP: &str = "/sys/module/printk/parameters/always_kmsg_dump";
const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
/// KMSG_DUMP_SHUTDOWN in `enum kmsg_dump_reason` (Linux 5.8+): dumps at reboot and power-off.
pub const KMSG_DUMP_SHUTDOWN: i64 = 4;

/// What went out, for the user and for selftest.json.
#[derive(Debug)]
pub struct Written {
    pub method: Method,
    /// Where the canary went (the variable, /dev/pmsg0, the module reloaded).
    pub target: String,
    /// Actions on the running system that were not taken under a fake root.
    pub not_run: Vec<String>,
}

/// The UEFI variable's name in efivarfs: efi-pstore's `dump-type<type>-<part>-<count>-<time>-<C|D>`
/// then the vendor GUID. Type 0 is PSTORE_TYPE_DMESG; `D` means not compressed.
pub fn efi_variable_name(unix_seconds: i64) -> String {
    format!("dump-type0-1-1-{unix_seconds}-D-{EFI_CRASH_GUID}")
}

/// The variable's file contents: the attributes, then a dmesg record as pstore frames one.
pub fn efi_variable_contents(canary: &str) -> Vec<u8> {
    let mut bytes = EFI_ATTRIBUTES.to_le_bytes().to_vec();
    bytes.extend_from_slice(format!("{SELFTEST_REASON}#1 Part1\n{canary}\n").as_bytes());
    bytes
}

/// Writes the UEFI variable. ENOSPC is the firmware's variable store being full.
pub fn write_efi(root: &Path, canary: &str, unix_seconds: i64) -> Result<Written> {
    let dir = under_root(root, Path::new(EFIVARS));
    if !dir.is_dir() {
        bail!(
            "{} does not exist: this system did not boot through UEFI, or efivarfs is not mounted",
            dir.display()
        );
    }
    let path = dir.join(efi_variable_name(unix_seconds));
    let write = || -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)?;
        // efivarfs takes one write: the attributes and the data together.
        file.write_all(&efi_variable_contents(canary))
    };
    write().map_err(|e| match e.raw_os_error() {
        Some(code) if code == sys::errno::ENOSPC => anyhow!(
            "cannot write {}: the UEFI variable store is full, so efi-pstore could not keep a \
             crash either; free space by removing old dump-type* variables (lastgasp save does)",
            path.display()
        ),
        _ => anyhow!(
            "cannot write {}: {}",
            path.display(),
            crate::commands::os_cause(&e)
        ),
    })?;
    Ok(Written {
        method: Method::EfiVariable,
        target: path.display().to_string(),
        not_run: Vec::new(),
    })
}

/// Writes a line to a character device (or, under a fake root, a file) that exists already.
fn write_line(path: &Path, line: &str) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.write_all(format!("{line}\n").as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Logs `line` to the kernel log at notice level, so a dump of the log carries it.
pub fn log_to_kernel(root: &Path, line: &str) -> Result<()> {
    write_line(&under_root(root, Path::new(KMSG)), &format!("<5>{line}"))
}

/// A pmsg record (/dev/pmsg0) with the canary; `None` when the kernel has no pmsg.
fn write_pmsg(root: &Path, canary: &str) -> Result<Option<Written>> {
    let pmsg = under_root(root, Path::new(PMSG));
    if !pmsg.exists() {
        return Ok(None);
    }
    write_line(&pmsg, canary)?;
    Ok(Some(Written {
        method: Method::Pmsg,
        target: pmsg.display().to_string(),
        not_run: Vec::new(),
    }))
}

/// ramoops: a pmsg record where the kernel has pmsg, else ramoops reloaded with
/// max_reason=KMSG_DUMP_SHUTDOWN after logging the canary, so the reboot's dump carries it.
pub fn write_ramoops(root: &Path, canary: &str, live: bool) -> Result<Written> {
    if let Some(written) = write_pmsg(root, canary)? {
        return Ok(written);
    }
    let params = RamoopsParams::read(root).ok_or_else(|| {
        anyhow!(
            "ramoops is not loaded ({} has no region): run `lastgasp load` first",
            under_root(root, Path::new(backend::RAMOOPS_PARAMETERS)).display()
        )
    })?;
    log_to_kernel(root, canary)?;
    reload(
        root,
        "ramoops",
        &params.module_parameters(KMSG_DUMP_SHUTDOWN),
        live,
    )
}

/// pstore/blk: a pmsg record where the kernel has pmsg. A dump at the reboot cannot work: the
/// kernel dumps its log after it has shut the disk down (the lab's selftest-blk: pstore_blk
/// reloaded with max_reason=4 registered for Shutdown, and nothing reached the disk).
pub fn write_blk(root: &Path, canary: &str) -> Result<Written> {
    if let Some(written) = write_pmsg(root, canary)? {
        return Ok(written);
    }
    bail!(
        "pstore/blk keeps only what the kernel writes while it still runs (an Oops; pmsg, which \
         this kernel lacks): at a reboot the kernel dumps its log after the disk is shut down, \
         so no canary can reach it; `lastgasp selftest --crash` tests it for real (it crashes \
         the machine after asking)"
    )
}

/// ERST: its pstore backend sets no max_reason, so with printk.always_kmsg_dump on, the kernel
/// dumps its log (canary included) through ERST at the reboot, into the firmware's store.
pub fn write_erst(root: &Path, canary: &str) -> Result<Written> {
    let switch = under_root(root, Path::new(ALWAYS_KMSG_DUMP));
    if !switch.exists() {
        bail!(
            "{} does not exist, so this kernel cannot be asked to dump its log at the reboot: \
             `lastgasp selftest --crash` tests ERST for real (it crashes the machine after asking)",
            switch.display()
        );
    }
    log_to_kernel(root, canary)?;
    write_line(&switch, "Y")?;
    Ok(Written {
        method: Method::ShutdownDump,
        target: format!("{} = Y", switch.display()),
        not_run: Vec::new(),
    })
}

/// Unloads `module` and loads it again with `params`; under a fake root only names it.
fn reload(root: &Path, module: &str, params: &str, live: bool) -> Result<Written> {
    let target = format!("{module} reloaded with {params}");
    let method = Method::ShutdownDump;
    if !live {
        return Ok(Written {
            method,
            target,
            not_run: vec![
                format!("rmmod {module}"),
                format!("insmod {module} {params}"),
            ],
        });
    }
    let file = find_module(root, module)?;
    sys::delete_module(module).map_err(|e| {
        anyhow!("cannot unload {module} to reload it with max_reason={KMSG_DUMP_SHUTDOWN}: {e}")
    })?;
    let load = || -> Result<()> {
        let opened = File::open(&file).with_context(|| format!("opening {}", file.display()))?;
        sys::finit_module(&opened, params, compression_flag(&file))
            .map_err(|e| anyhow!("{}: {e}", file.display()))
    };
    if let Err(error) = load() {
        bail!(
            "{module} was unloaded but could not be loaded again ({error:#}): nothing is armed \
             now; run `lastgasp load` to arm it again"
        );
    }
    Ok(Written {
        method,
        target,
        not_run: Vec::new(),
    })
}

fn compression_flag(file: &Path) -> sys::ModuleInitFlags {
    let compressed = file
        .extension()
        .is_some_and(|e| e == "xz" || e == "zst" || e == "gz");
    if compressed {
        sys::ModuleInitFlags::COMPRESSED_FILE
    } else {
        sys::ModuleInitFlags::empty()
    }
}

/// `<module>.ko[.xz|.zst|.gz]` under `<root>/lib/modules/<release>` (or /usr/lib/modules).
pub fn find_module(root: &Path, module: &str) -> Result<PathBuf> {
    let release_file = under_root(root, Path::new(OSRELEASE));
    let release = std::fs::read_to_string(&release_file)
        .with_context(|| format!("reading {}", release_file.display()))?;
    let release = release.trim();
    let names: Vec<String> = ["ko", "ko.xz", "ko.zst", "ko.gz"]
        .iter()
        .flat_map(|ext| {
            [
                format!("{module}.{ext}"),
                format!("{}.{ext}", module.replace('_', "-")),
            ]
        })
        .collect();
    for base in ["/lib/modules", "/usr/lib/modules"] {
        let dir = under_root(root, Path::new(base)).join(release);
        if let Some(found) = search(&dir, &names, 6) {
            return Ok(found);
        }
    }
    bail!("no {module} module for Linux {release} under /lib/modules/{release}")
}

fn search(dir: &Path, names: &[String], depth: u32) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut subdirs = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if names.iter().any(|n| name == n.as_str()) && path.is_file() {
            return Some(path);
        }
        if depth > 0 && entry.file_type().is_ok_and(|t| t.is_dir()) {
            subdirs.push(path);
        }
    }
    subdirs.sort();
    subdirs.iter().find_map(|sub| search(sub, names, depth - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_efi_variable_is_what_efi_pstore_reads_back() {
        assert_eq!(
            efi_variable_name(1_764_576_000),
            "dump-type0-1-1-1764576000-D-cfc8fc79-be2e-4ddc-97f0-9f98bfe298a0"
        );
        let bytes = efi_variable_contents("lastgasp-selftest-canary X");
        assert_eq!(&bytes[..4], &[7, 0, 0, 0]);
        assert_eq!(
            &bytes[4..],
            b"Selftest#1 Part1\nlastgasp-selftest-canary X\n"
        );
        // What pstore will show as the record parses as a dmesg record with our reason.
        let decoded = pstore::decode_dmesg(&bytes[4..], false);
        assert_eq!(decoded.header.unwrap().reason, SELFTEST_REASON);
    }

    #[test]
    fn efi_without_efivarfs_says_so() {
        let root = tempfile::tempdir().unwrap();
        let error = write_efi(root.path(), "c", 1).unwrap_err().to_string();
        assert!(error.contains("did not boot through UEFI"), "{error}");
    }

    #[test]
    fn modules_are_found_under_the_release_compressed_or_not() {
        let root = tempfile::tempdir().unwrap();
        let release = under_root(root.path(), Path::new(OSRELEASE));
        std::fs::create_dir_all(release.parent().unwrap()).unwrap();
        std::fs::write(&release, "6.12.0-1-amd64\n").unwrap();
        assert!(find_module(root.path(), "ramoops").is_err());
        let dir = root
            .path()
            .join("usr/lib/modules/6.12.0-1-amd64/kernel/fs/pstore");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ramoops.ko.xz"), b"").unwrap();
        let found = find_module(root.path(), "ramoops").unwrap();
        assert!(found.ends_with("fs/pstore/ramoops.ko.xz"));
        assert_eq!(
            compression_flag(&found),
            sys::ModuleInitFlags::COMPRESSED_FILE
        );
    }
}
