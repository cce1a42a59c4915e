//! The record sets both tools are timed on, built from the real records the lab committed under
//! tests/fixtures/lab/x86_64: the ramoops pair, the efi-pstore set, and many crashes made from the
//! efi set by moving each copy to another day (see `rewrite`).

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};

use super::rewrite::{efi_name_earlier, efi_time, shift_printk_times};

/// Where the lab's x86_64 records live, relative to the workspace.
const FIXTURES: &str = "tests/fixtures/lab/x86_64";

/// The kernel stamps each pstore file with the record's time; git does not keep mtimes, so the
/// ramoops records get this fixed time (the efi records' time comes from their ids).
const RAMOOPS_TIME: u64 = 1_795_663_600;

/// Copies of the efi crash sit one day apart: far beyond any "same boot" window, and a multiple
/// of ten seconds, so systemd-pstore's grouping (id without its last six digits) splits them the
/// same way it splits the original.
const COPY_SPACING_SECONDS: u64 = 86_400;

/// One pstore file as the kernel would expose it.
#[derive(Debug, Clone)]
pub struct SetFile {
    pub name: String,
    pub data: Vec<u8>,
    pub mtime: SystemTime,
}

/// A directory's worth of records and how many crashes they hold.
#[derive(Debug, Clone)]
pub struct RecordSet {
    pub key: String,
    pub title: String,
    /// Where the records come from and how they were derived, for the doc.
    pub origin: String,
    pub files: Vec<SetFile>,
    pub crashes: usize,
}

impl RecordSet {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.data.len() as u64).sum()
    }
}

/// The three sets of the benchmark; `copies` is the crash count of the generated one.
pub fn standard(workspace: &Path, copies: usize) -> Result<Vec<RecordSet>> {
    let fixtures = workspace.join(FIXTURES);
    let ramoops_dir = fixtures.join("ramoops/pstore");
    let ramoops_time = SystemTime::UNIX_EPOCH + Duration::from_secs(RAMOOPS_TIME);
    let ramoops = read_dir_files(&ramoops_dir, |_| Some(ramoops_time))?;
    if ramoops.len() != 2 {
        bail!(
            "{}: expected the Oops and Panic records, found {} files",
            ramoops_dir.display(),
            ramoops.len()
        );
    }
    let efi_dir = fixtures.join("efi/pstore");
    let efi = read_dir_files(&efi_dir, efi_mtime)?;
    if efi.is_empty() {
        bail!("{}: no efi-pstore records", efi_dir.display());
    }
    let many = efi_copies(&efi, copies)?;
    Ok(vec![
        RecordSet {
            key: "ramoops".into(),
            title: "ramoops Oops+Panic pair".into(),
            origin: format!("{FIXTURES}/ramoops/pstore (real records, one part each)"),
            files: ramoops,
            crashes: 1,
        },
        RecordSet {
            key: "efi".into(),
            title: format!("UEFI set: Oops#1 and Panic#2, {} parts", efi.len()),
            origin: format!("{FIXTURES}/efi/pstore (real records, both dumps of one crash)"),
            files: efi,
            crashes: 1,
        },
        RecordSet {
            key: format!("efi-x{copies}"),
            title: format!("{copies} UEFI crashes"),
            origin: format!(
                "the efi set copied {copies} times, each copy {COPY_SPACING_SECONDS} s earlier \
                 (ids and mtimes) with its printk times moved by the copy's index in µs"
            ),
            files: many,
            crashes: copies,
        },
    ])
}

/// `copies` separate crashes from one efi crash: copy `k` is `k` days older and its log lines
/// carry timestamps `k` µs later, so neither tool can take two copies for one crash.
fn efi_copies(efi: &[SetFile], copies: usize) -> Result<Vec<SetFile>> {
    let mut files = Vec::with_capacity(efi.len().saturating_mul(copies));
    for k in 0..copies as u64 {
        for file in efi {
            let name = efi_name_earlier(&file.name, k * COPY_SPACING_SECONDS)
                .with_context(|| format!("{}: cannot move this efi id {k} days", file.name))?;
            let mtime = efi_mtime(&name)
                .with_context(|| format!("{name}: the moved id carries no time"))?;
            files.push(SetFile {
                data: shift_printk_times(&file.data, k),
                name,
                mtime,
            });
        }
    }
    Ok(files)
}

fn efi_mtime(name: &str) -> Option<SystemTime> {
    let secs = u64::try_from(efi_time(name)?).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Every regular file of `dir`, sorted by name, with the mtime `mtime_of` gives its name.
fn read_dir_files(
    dir: &Path,
    mtime_of: impl Fn(&str) -> Option<SystemTime>,
) -> Result<Vec<SetFile>> {
    let entries = fs::read_dir(dir).with_context(|| {
        format!(
            "cannot read {} (the lab's committed records; `cargo xtask lab --save-fixtures` makes them)",
            dir.display()
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let path = entry.path();
        let Ok(name) = entry.file_name().into_string() else {
            bail!("{}: file name is not UTF-8", path.display());
        };
        let mtime = mtime_of(&name)
            .with_context(|| format!("{}: not a record name this set expects", path.display()))?;
        let data = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        files.push(SetFile { name, data, mtime });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn workspace() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask sits in the workspace")
    }

    #[test]
    fn sets_come_from_the_lab_records() {
        let sets = standard(workspace(), 3).unwrap();
        let keys: Vec<&str> = sets.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["ramoops", "efi", "efi-x3"]);
        let efi = &sets[1];
        assert!(efi.files.iter().all(|f| f.name.starts_with("dmesg-efi")));
        assert_eq!(sets[2].files.len(), 3 * efi.files.len());
        assert_eq!(sets[2].crashes, 3);
    }

    #[test]
    fn copies_are_distinct_days_with_distinct_lines() {
        let sets = standard(workspace(), 3).unwrap();
        let (efi, many) = (&sets[1], &sets[2]);
        let names: HashSet<&str> = many.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names.len(), many.files.len(), "file names collide");
        let n = efi.files.len();
        for k in 0..3 {
            let copy = &many.files[k * n..(k + 1) * n];
            for (orig, moved) in efi.files.iter().zip(copy) {
                let back = Duration::from_secs(k as u64 * COPY_SPACING_SECONDS);
                assert_eq!(moved.mtime + back, orig.mtime, "{}", moved.name);
                assert_eq!(moved.data.len(), orig.data.len(), "{}", moved.name);
                assert_eq!(moved.data == orig.data, k == 0, "{}", moved.name);
            }
        }
        // The first timestamped line of copy 1 appears nowhere in copy 0.
        let first_line = |data: &[u8]| -> Vec<u8> {
            data.split(|&b| b == b'\n')
                .find(|l| l.starts_with(b"<"))
                .unwrap()
                .to_vec()
        };
        let line = first_line(&many.files[n].data);
        assert!(
            many.files[..n]
                .iter()
                .all(|f| !f.data.windows(line.len()).any(|w| w == line))
        );
    }
}
