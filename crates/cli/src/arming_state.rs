//! setup.json: what `lastgasp setup` armed, kept under /var/lib/lastgasp so that `load` arms the
//! same thing at every boot, `status` and `selftest` can say what is wanted, and `unsetup` can
//! undo exactly what setup did. `lastgasp setup` writes it, `unsetup` removes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::state_file::{self, Versioned};

pub use setup::model::{Backend, Blk, Bootloader, Mode, Placement, Ramoops};
pub use setup::record::{FileAction, FileRecord};

/// Where setup.json lives on a running system.
pub const STATE_FILE: &str = "/var/lib/lastgasp/setup.json";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;

/// The contents of setup.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArmingState {
    pub version: u32,
    pub mode: Mode,
    /// The pstore backend; `None` in kdump mode.
    pub backend: Option<Backend>,
    pub bootloader: Bootloader,
    /// The kernel parameters setup added, exactly as written (for unsetup and for status to check
    /// against /proc/cmdline).
    pub kernel_params: Vec<String>,
    /// The ramoops region, when the backend is ramoops.
    pub ramoops: Option<Ramoops>,
    /// The pstore_blk device, when the backend is blk.
    pub blk: Option<Blk>,
    /// The `crashkernel=` value, when kdump is armed.
    pub crashkernel: Option<String>,
    /// The sysctls the drop-in sets, name to value.
    pub sysctl: BTreeMap<String, String>,
    /// Every file setup created or edited.
    pub files: Vec<FileRecord>,
    /// Commands that must still run on the machine (setup under `--root` does not run them).
    pub pending_commands: Vec<String>,
}

impl ArmingState {
    /// setup.json's path under `root`.
    pub fn path(root: &Path) -> PathBuf {
        setup::root::under_root(root, Path::new(STATE_FILE))
    }

    /// The state under `root`; `None` when setup has not run (or unsetup removed it).
    pub fn read(root: &Path) -> Result<Option<Self>> {
        state_file::read(&Self::path(root))
    }

    /// Writes the state under `root` atomically (temporary file, fsync, rename).
    pub fn write(&self, root: &Path) -> Result<()> {
        state_file::write(&Self::path(root), self)
    }

    /// Removes setup.json under `root`; already gone is fine.
    pub fn remove(root: &Path) -> Result<()> {
        setup::atomic::remove_durably(&Self::path(root))?;
        Ok(())
    }
}

impl Versioned for ArmingState {
    const VERSION: u32 = VERSION;
    const WHAT: &'static str = "setup.json as lastgasp writes it";
    const REMEDY: &'static str = "run `lastgasp setup` again";

    fn version(&self) -> u32 {
        self.version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ArmingState {
        ArmingState {
            version: VERSION,
            mode: Mode::Both,
            backend: Some(Backend::Ramoops),
            bootloader: Bootloader::Grub,
            kernel_params: vec![
                "memmap=1M$0x30000000".into(),
                "crashkernel=256M".into(),
                "crash_kexec_post_notifiers".into(),
            ],
            ramoops: Some(Ramoops {
                placement: Placement::Memmap,
                address: Some(0x3000_0000),
                size: 1 << 20,
                record_size: 64 << 10,
                mem_name: None,
            }),
            blk: None,
            crashkernel: Some("256M".into()),
            sysctl: BTreeMap::from([("kernel.panic_on_oops".into(), "1".into())]),
            files: vec![FileRecord {
                path: "/etc/default/grub.d/lastgasp.cfg".into(),
                action: FileAction::Created,
                backup: None,
                sha256: None,
            }],
            pending_commands: vec!["update-grub".into()],
        }
    }

    #[test]
    fn round_trips_through_the_root() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(ArmingState::read(root.path()).unwrap(), None);
        let state = sample();
        state.write(root.path()).unwrap();
        assert_eq!(ArmingState::read(root.path()).unwrap(), Some(state));
        ArmingState::remove(root.path()).unwrap();
        assert_eq!(ArmingState::read(root.path()).unwrap(), None);
    }

    #[test]
    fn the_json_has_the_shared_field_names() {
        let json = serde_json::to_value(sample()).unwrap();
        assert_eq!(json["mode"], "both");
        assert_eq!(json["backend"], "ramoops");
        assert_eq!(json["bootloader"], "grub");
        assert_eq!(json["ramoops"]["placement"], "memmap");
        assert_eq!(json["ramoops"]["address"], 0x3000_0000u64);
        assert_eq!(json["files"][0]["action"], "created");
        assert_eq!(json["sysctl"]["kernel.panic_on_oops"], "1");
    }

    #[test]
    fn a_damaged_file_says_so() {
        let root = tempfile::tempdir().unwrap();
        let path = ArmingState::path(root.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{\"version\":1").unwrap();
        let error = format!("{:#}", ArmingState::read(root.path()).unwrap_err());
        assert!(error.contains("setup.json"), "{error}");
        std::fs::write(
            &path,
            serde_json::to_string(&ArmingState {
                version: 9,
                ..sample()
            })
            .unwrap(),
        )
        .unwrap();
        let error = format!("{:#}", ArmingState::read(root.path()).unwrap_err());
        assert!(error.contains("version 9"), "{error}");
    }
}
