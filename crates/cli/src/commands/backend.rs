//! The pstore backend the running kernel has: which one registered
//! (`/sys/module/pstore/parameters/backend`) and, for ramoops, the region its module parameters
//! describe. Read under `--root`; shared by `status`, `selftest` and the selftest hook of `save`.

use std::path::Path;

use crate::paths::under_root;

pub const PSTORE_BACKEND: &str = "/sys/module/pstore/parameters/backend";
pub const RAMOOPS_PARAMETERS: &str = "/sys/module/ramoops/parameters";
const PROC_CMDLINE: &str = "/proc/cmdline";

/// The backend setup names (`ramoops`, `efi`, `erst`, `blk`) for a name the kernel registered.
/// efi-pstore registered as `efi` before Linux 6.2, `efi_pstore` since; pstore/blk's zone
/// layer names itself after the module.
pub fn setup_name(kernel_name: &str) -> Option<&'static str> {
    match kernel_name {
        "ramoops" => Some("ramoops"),
        "efi" | "efi_pstore" => Some("efi"),
        "erst" => Some("erst"),
        "pstore_blk" | "pstore-blk" | "blk" => Some("blk"),
        _ => None,
    }
}

/// The registered backend's name as the kernel spells it; `None` when none registered (the file
/// says `(null)` or is empty) or pstore is not in this kernel.
///
/// The file is pstore's `backend` parameter, which the kernel sets to the backend that
/// registers, but which `pstore.backend=NAME` on the command line sets to NAME from boot on,
/// before anything registered (the lab's systemd-boot guest, armed with ramoops beside
/// efi_pstore, read "ramoops" before ramoops was loaded, and load took it as armed). So a name
/// the command line asked for counts only once its backend shows it is there.
pub fn registered(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(under_root(root, Path::new(PSTORE_BACKEND))).ok()?;
    let name = text.trim();
    if name.is_empty() || name == "(null)" {
        return None;
    }
    let cmdline =
        std::fs::read_to_string(under_root(root, Path::new(PROC_CMDLINE))).unwrap_or_default();
    let requested = sys::cmdline::find(&cmdline, "pstore.backend")
        .and_then(|param| param.split_once('='))
        .is_some_and(|(_, value)| value.trim_matches('"') == name);
    if requested && !backend_present(root, name) {
        return None;
    }
    Some(name.to_string())
}

/// Whether the backend the kernel calls `name` is there to have registered: ramoops loaded with
/// a region, efi_pstore's or pstore_blk's module loaded (or built in). ERST is built in and
/// cannot be told apart; it counts as there.
fn backend_present(root: &Path, name: &str) -> bool {
    let module = match setup_name(name) {
        Some("ramoops") => return RamoopsParams::read(root).is_some(),
        Some("efi") => "efi_pstore",
        Some("blk") => "pstore_blk",
        _ => return true,
    };
    under_root(root, &Path::new("/sys/module").join(module)).is_dir()
}

/// ramoops' region and layout, as its module parameters show them once it has probed (the
/// driver writes the values it uses back into them, so a reserve_mem= region shows its address).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RamoopsParams {
    pub address: u64,
    pub size: u64,
    pub record_size: u64,
    pub console_size: u64,
    pub ftrace_size: u64,
    pub pmsg_size: u64,
    pub ecc: u64,
    /// 0 write-combined, 1 uncached, 2 cached (`mem_type=`).
    pub mem_type: u64,
    pub max_reason: i64,
    /// `mem_name=` (Linux 6.11+), when the region came from reserve_mem=.
    pub mem_name: Option<String>,
}

impl RamoopsParams {
    /// `None` when ramoops is not loaded (no parameters directory) or it has no region yet.
    pub fn read(root: &Path) -> Option<Self> {
        let dir = under_root(root, Path::new(RAMOOPS_PARAMETERS));
        let text = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .ok()
                .map(|t| t.trim().to_string())
        };
        let number = |name: &str| text(name).and_then(|t| parse_number(&t));
        let params = Self {
            address: number("mem_address")?,
            size: number("mem_size")?,
            record_size: number("record_size").unwrap_or(0),
            console_size: number("console_size").unwrap_or(0),
            ftrace_size: number("ftrace_size").unwrap_or(0),
            pmsg_size: number("pmsg_size").unwrap_or(0),
            ecc: number("ecc").unwrap_or(0),
            mem_type: number("mem_type").unwrap_or(0),
            max_reason: text("max_reason")
                .and_then(|t| t.parse().ok())
                .unwrap_or(-1),
            mem_name: text("mem_name").filter(|n| !n.is_empty() && n != "(null)"),
        };
        (params.size > 0).then_some(params)
    }

    /// The module parameters that load this same region and layout again, with `max_reason`.
    pub fn module_parameters(&self, max_reason: i64) -> String {
        let mut words = vec![
            format!("mem_address={:#x}", self.address),
            format!("mem_size={:#x}", self.size),
            format!("record_size={:#x}", self.record_size),
            format!("console_size={:#x}", self.console_size),
            format!("ftrace_size={:#x}", self.ftrace_size),
            format!("pmsg_size={:#x}", self.pmsg_size),
            format!("ecc={}", self.ecc),
            format!("mem_type={}", self.mem_type),
            format!("max_reason={max_reason}"),
        ];
        if let Some(name) = &self.mem_name {
            // With a named region the kernel finds the address itself.
            words.retain(|w| !w.starts_with("mem_address=") && !w.starts_with("mem_size="));
            words.insert(0, format!("mem_name={name}"));
        }
        words.join(" ")
    }
}

/// A module parameter's number: decimal as sysfs prints it, or 0x-prefixed hex.
pub fn parse_number(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let path = under_root(root, Path::new(path));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn kernel_names_map_to_setup_names() {
        assert_eq!(setup_name("efi_pstore"), Some("efi"));
        assert_eq!(setup_name("efi"), Some("efi"));
        assert_eq!(setup_name("pstore_blk"), Some("blk"));
        assert_eq!(setup_name("ramoops"), Some("ramoops"));
        assert_eq!(setup_name("mtdoops"), None);
    }

    #[test]
    fn no_backend_reads_as_none() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(registered(root.path()), None);
        write(root.path(), PSTORE_BACKEND, "(null)\n");
        assert_eq!(registered(root.path()), None);
        write(root.path(), PSTORE_BACKEND, "ramoops\n");
        assert_eq!(registered(root.path()).as_deref(), Some("ramoops"));
    }

    #[test]
    fn a_backend_the_command_line_names_counts_once_it_is_there() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(r, "/proc/cmdline", "ro pstore.backend=ramoops quiet\n");
        // pstore.backend= alone sets the parameter: ramoops is not loaded yet.
        write(r, PSTORE_BACKEND, "ramoops\n");
        assert_eq!(registered(r), None);
        write(
            r,
            "/sys/module/ramoops/parameters/mem_address",
            "805306368\n",
        );
        write(r, "/sys/module/ramoops/parameters/mem_size", "1048576\n");
        assert_eq!(registered(r).as_deref(), Some("ramoops"));
        write(r, "/proc/cmdline", "ro pstore.backend=efi_pstore\n");
        write(r, PSTORE_BACKEND, "efi_pstore\n");
        assert_eq!(registered(r), None);
        std::fs::create_dir_all(r.join("sys/module/efi_pstore")).unwrap();
        assert_eq!(registered(r).as_deref(), Some("efi_pstore"));
        // ERST is built in: the name is taken as it is.
        write(r, "/proc/cmdline", "ro pstore.backend=erst\n");
        write(r, PSTORE_BACKEND, "erst\n");
        assert_eq!(registered(r).as_deref(), Some("erst"));
    }

    #[test]
    fn ramoops_parameters_as_sysfs_prints_them() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(RamoopsParams::read(root.path()), None);
        for (name, value) in [
            ("mem_address", "1056964608"),
            ("mem_size", "1048576"),
            ("record_size", "65536"),
            ("console_size", "0"),
            ("ecc", "0"),
            ("max_reason", "2"),
        ] {
            write(
                root.path(),
                &format!("{RAMOOPS_PARAMETERS}/{name}"),
                &format!("{value}\n"),
            );
        }
        let params = RamoopsParams::read(root.path()).unwrap();
        assert_eq!(params.address, 0x3f00_0000);
        assert_eq!(params.size, 1 << 20);
        assert_eq!(params.max_reason, 2);
        assert_eq!(params.mem_name, None);
        assert_eq!(
            params.module_parameters(4),
            "mem_address=0x3f000000 mem_size=0x100000 record_size=0x10000 console_size=0x0 \
             ftrace_size=0x0 pmsg_size=0x0 ecc=0 mem_type=0 max_reason=4"
        );
        let named = RamoopsParams {
            mem_name: Some("oops".into()),
            ..params
        };
        assert!(
            named
                .module_parameters(4)
                .starts_with("mem_name=oops record_size=")
        );
    }
}
