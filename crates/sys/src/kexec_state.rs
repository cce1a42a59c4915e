//! What the kernel says about kexec before and after a load: the crash reservation's size,
//! whether a crash kernel is loaded, whether loading is disabled, the lockdown mode. Parsing is
//! separate from reading, and every file is read under a root that tests can point elsewhere.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::Error;

pub const CRASH_SIZE: &str = "sys/kernel/kexec_crash_size";
pub const CRASH_LOADED: &str = "sys/kernel/kexec_crash_loaded";
pub const LOAD_DISABLED: &str = "proc/sys/kernel/kexec_load_disabled";
pub const LOCKDOWN: &str = "sys/kernel/security/lockdown";

/// The kernel lockdown LSM's mode. Under either of the restricting modes, kexec_file_load
/// accepts only images whose signature the kernel can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lockdown {
    None,
    Integrity,
    Confidentiality,
}

impl Lockdown {
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Integrity => "integrity",
            Self::Confidentiality => "confidentiality",
        }
    }
}

/// Each field is `None` when the kernel does not have the file (no CONFIG_CRASH_DUMP, no
/// securityfs, no lockdown LSM), which callers must not confuse with "0".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KexecState {
    /// Bytes reserved by `crashkernel=` (0: no reservation).
    pub crash_size: Option<u64>,
    /// A crash kernel is loaded.
    pub crash_loaded: Option<bool>,
    /// `kernel.kexec_load_disabled`: once 1, no load until the next boot.
    pub load_disabled: Option<bool>,
    pub lockdown: Option<Lockdown>,
}

impl KexecState {
    pub fn read(root: &Path) -> Result<Self, Error> {
        Ok(Self {
            crash_size: read_parsed(root, CRASH_SIZE, parse_size)?,
            crash_loaded: read_crash_loaded(root)?,
            load_disabled: read_parsed(root, LOAD_DISABLED, parse_flag)?,
            lockdown: read_parsed(root, LOCKDOWN, parse_lockdown)?,
        })
    }
}

/// `/sys/kernel/kexec_crash_loaded`, read on its own to confirm a load or an unload.
pub fn read_crash_loaded(root: &Path) -> Result<Option<bool>, Error> {
    read_parsed(root, CRASH_LOADED, parse_flag)
}

fn read_parsed<T>(
    root: &Path,
    relative: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, Error> {
    let path: PathBuf = root.join(relative);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::file(path, e)),
    };
    match parse(&text) {
        Some(value) => Ok(Some(value)),
        None => Err(Error::file(
            path,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected content {:?}", text.trim_end()),
            ),
        )),
    }
}

/// A decimal byte count, as kexec_crash_size prints it.
pub fn parse_size(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// "0" or "1".
pub fn parse_flag(text: &str) -> Option<bool> {
    match text.trim() {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

/// The bracketed word of `none [integrity] confidentiality`.
pub fn parse_lockdown(text: &str) -> Option<Lockdown> {
    let selected = text
        .split_whitespace()
        .find_map(|word| word.strip_prefix('[')?.strip_suffix(']'))?;
    match selected {
        "none" => Some(Lockdown::None),
        "integrity" => Some(Lockdown::Integrity),
        "confidentiality" => Some(Lockdown::Confidentiality),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fake_root(files: &[(&str, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let path = root.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
        root
    }

    #[test]
    fn lockdown_mode_is_the_bracketed_word() {
        assert_eq!(
            parse_lockdown("[none] integrity confidentiality\n"),
            Some(Lockdown::None)
        );
        assert_eq!(
            parse_lockdown("none [integrity] confidentiality\n"),
            Some(Lockdown::Integrity)
        );
        assert_eq!(
            parse_lockdown("none integrity [confidentiality]\n"),
            Some(Lockdown::Confidentiality)
        );
        assert_eq!(parse_lockdown("none integrity confidentiality\n"), None);
        assert_eq!(parse_lockdown("[paranoid]"), None);
    }

    #[test]
    fn state_of_a_machine_with_a_reservation_and_nothing_loaded() {
        let root = fake_root(&[
            (CRASH_SIZE, "268435456\n"),
            (CRASH_LOADED, "0\n"),
            (LOAD_DISABLED, "0\n"),
            (LOCKDOWN, "[none] integrity confidentiality\n"),
        ]);
        let state = KexecState::read(root.path()).unwrap();
        assert_eq!(
            state,
            KexecState {
                crash_size: Some(256 << 20),
                crash_loaded: Some(false),
                load_disabled: Some(false),
                lockdown: Some(Lockdown::None),
            }
        );
    }

    #[test]
    fn missing_files_are_unknown_not_zero() {
        let root = fake_root(&[(CRASH_LOADED, "1\n")]);
        let state = KexecState::read(root.path()).unwrap();
        assert_eq!(state.crash_size, None);
        assert_eq!(state.crash_loaded, Some(true));
        assert_eq!(state.lockdown, None);
    }

    #[test]
    fn garbage_is_an_error_naming_the_file() {
        let root = fake_root(&[(CRASH_SIZE, "lots\n")]);
        let error = KexecState::read(root.path()).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("sys/kernel/kexec_crash_size"), "{text}");
        assert!(text.contains("\"lots\""), "{text}");
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC{0,64}") {
            let _ = parse_size(&text);
            let _ = parse_flag(&text);
            let _ = parse_lockdown(&text);
        }

        #[test]
        fn sizes_round_trip(size: u64) {
            prop_assert_eq!(parse_size(&format!("{size}\n")), Some(size));
        }
    }
}
