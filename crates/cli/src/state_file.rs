//! The versioned JSON state files under /var/lib/lastgasp (setup.json, selftest.json,
//! boots.json), read and written one way: a missing file is no state yet, a damaged or foreign
//! one is a one-line error naming the file and what to do, and a write replaces the file whole
//! (setup's atomic write: temporary file, fsync, rename) so a crash leaves the old or the new.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A state file's contents: serde both ways, with the format version it carries.
pub trait Versioned: Serialize + DeserializeOwned {
    /// The version this build writes and reads.
    const VERSION: u32;
    /// What a good file is, for errors: "setup.json as lastgasp writes it".
    const WHAT: &'static str;
    /// What to do about a damaged or foreign one: "run `lastgasp setup` again".
    const REMEDY: &'static str;

    /// The version the file carried.
    fn version(&self) -> u32;
}

/// The state at `path`; `None` when there is no file.
pub fn read<T: Versioned>(path: &Path) -> Result<Option<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let state: T = serde_json::from_str(&text)
        .with_context(|| format!("{} is not {}; {}", path.display(), T::WHAT, T::REMEDY))?;
    if state.version() != T::VERSION {
        bail!(
            "{}: version {} is not the {} this lastgasp reads; {}",
            path.display(),
            state.version(),
            T::VERSION,
            T::REMEDY
        );
    }
    Ok(Some(state))
}

/// Writes `state` to `path` as pretty JSON, atomically.
pub fn write<T: Serialize>(path: &Path, state: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(state)?;
    text.push('\n');
    // setup's error names the file.
    setup::atomic::write_atomic(path, text.as_bytes(), 0o644)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        version: u32,
        words: Vec<String>,
    }

    impl Versioned for Sample {
        const VERSION: u32 = 2;
        const WHAT: &'static str = "sample.json as the test writes it";
        const REMEDY: &'static str = "remove it";
        fn version(&self) -> u32 {
            self.version
        }
    }

    #[test]
    fn missing_is_none_and_a_write_reads_back_with_nothing_left_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/sample.json");
        assert_eq!(read::<Sample>(&path).unwrap(), None);
        let sample = Sample {
            version: 2,
            words: vec!["one".into()],
        };
        write(&path, &sample).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"));
        assert_eq!(read::<Sample>(&path).unwrap(), Some(sample));
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["sample.json"]);
    }

    #[test]
    fn damaged_and_foreign_files_name_themselves_and_the_remedy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sample.json");
        std::fs::write(&path, "{\"version\": 2,").unwrap();
        let error = format!("{:#}", read::<Sample>(&path).unwrap_err());
        assert!(
            error.contains("sample.json is not sample.json as the test writes it"),
            "{error}"
        );
        assert!(error.contains("; remove it"), "{error}");
        std::fs::write(&path, "{\"version\": 7, \"words\": []}").unwrap();
        let error = format!("{:#}", read::<Sample>(&path).unwrap_err());
        assert!(
            error.contains("version 7 is not the 2 this lastgasp reads; remove it"),
            "{error}"
        );
        assert_eq!(error.lines().count(), 1, "{error}");
    }
}
