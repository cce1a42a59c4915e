//! The contenders and how each is run and checked: lastgasp's `save`, systemd-pstore, and the
//! namespace wrapper alone (the cost both pay before their own work starts).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::sandbox::{Sandbox, Trial};
use super::sets::RecordSet;

/// Retention must not prune during the run, or the report count would not say what was saved.
const LASTGASP_CONFIG: &str = "[reports]\nmax_reports = 100000\nmax_bytes = \"100GiB\"\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `unshare -m`, the two bind mounts and `true`: the floor under both tools' times.
    Namespace,
    Lastgasp,
    SystemdPstore,
}

impl Tool {
    pub const ALL: [Tool; 3] = [Tool::Namespace, Tool::Lastgasp, Tool::SystemdPstore];

    pub fn key(self) -> &'static str {
        match self {
            Tool::Namespace => "namespace",
            Tool::Lastgasp => "lastgasp",
            Tool::SystemdPstore => "systemd-pstore",
        }
    }
}

/// The binaries under test.
pub struct Programs {
    pub lastgasp: PathBuf,
    pub systemd_pstore: PathBuf,
}

/// What a run left behind, counted after the timing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Produced {
    /// Reports (lastgasp) or dmesg.txt files (systemd-pstore).
    pub units: usize,
    pub files: usize,
    pub bytes: u64,
    /// Reports whose report.json carries an analysis with a signature.
    pub signatures: usize,
    /// Distinct signatures among them.
    pub distinct_signatures: usize,
}

impl Programs {
    /// The command that runs `tool` on `trial`, ready to time.
    pub fn command(&self, sandbox: &Sandbox, tool: Tool, trial: &Trial) -> Command {
        match tool {
            Tool::Namespace => sandbox.in_namespace(trial, Path::new("/bin/true"), &[]),
            Tool::SystemdPstore => sandbox.in_namespace(trial, &self.systemd_pstore, &[]),
            Tool::Lastgasp => {
                let mut cmd = sandbox.in_namespace(trial, &self.lastgasp, &[]);
                cmd.arg("save")
                    .arg("--pstore-dir")
                    .arg(&trial.pstore)
                    .arg("--reports-dir")
                    .arg(&trial.reports)
                    .arg("--root")
                    .arg(&trial.root);
                cmd
            }
        }
    }
}

/// Setup a tool needs in a fresh trial, before the timing starts.
pub fn prepare(tool: Tool, trial: &Trial) -> Result<()> {
    if tool == Tool::Lastgasp {
        let dir = trial.root.join("etc/lastgasp");
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let file = dir.join("lastgasp.toml");
        fs::write(&file, LASTGASP_CONFIG)
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(())
}

/// Checks that `tool` really did its work on `set` and counts what it produced.
pub fn check(tool: Tool, trial: &Trial, set: &RecordSet) -> Result<Produced> {
    if tool == Tool::Namespace {
        return Ok(Produced::default());
    }
    let left = count_files(&trial.pstore)?;
    if left.0 != 0 {
        bail!(
            "{} left {} of {} records in {}",
            tool.key(),
            left.0,
            set.files.len(),
            trial.pstore.display()
        );
    }
    match tool {
        Tool::Lastgasp => check_lastgasp(&trial.reports, set),
        Tool::SystemdPstore => check_systemd(&trial.archive, set),
        Tool::Namespace => Ok(Produced::default()),
    }
}

fn check_lastgasp(reports: &Path, set: &RecordSet) -> Result<Produced> {
    let mut produced = Produced::default();
    let mut signatures = std::collections::BTreeSet::new();
    for entry in read_dir(reports)? {
        let path = entry.path();
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let manifest = path.join("report.json");
        let text = fs::read_to_string(&manifest)
            .with_context(|| format!("lastgasp made {} without report.json", path.display()))?;
        if !path.join("dmesg.txt").is_file() {
            bail!("lastgasp made {} without dmesg.txt", path.display());
        }
        let json: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not JSON", manifest.display()))?;
        if let Some(sig) = json.pointer("/analysis/signature").and_then(|s| s.as_str()) {
            produced.signatures += 1;
            signatures.insert(sig.to_owned());
        }
        let (files, bytes) = count_files(&path)?;
        produced.units += 1;
        produced.files += files;
        produced.bytes += bytes;
    }
    produced.distinct_signatures = signatures.len();
    if produced.units != set.crashes {
        bail!(
            "lastgasp made {} reports from the {} set in {}, expected {}",
            produced.units,
            set.key,
            reports.display(),
            set.crashes
        );
    }
    Ok(produced)
}

fn check_systemd(archive: &Path, set: &RecordSet) -> Result<Produced> {
    let mut produced = Produced::default();
    walk(archive, &mut |path, size| {
        produced.files += 1;
        produced.bytes += size;
        if path.file_name().is_some_and(|n| n == "dmesg.txt") {
            produced.units += 1;
        }
    })?;
    // Its grouping is its own business; fewer logs than crashes means it merged or skipped some.
    if produced.units < set.crashes {
        bail!(
            "systemd-pstore wrote {} dmesg.txt for the {} crashes of the {} set in {} \
             (is Storage=external set in /etc/systemd/pstore.conf?)",
            produced.units,
            set.crashes,
            set.key,
            archive.display()
        );
    }
    Ok(produced)
}

/// Regular files and total bytes directly in `dir`.
fn count_files(dir: &Path) -> Result<(usize, u64)> {
    let mut count = (0, 0);
    for entry in read_dir(dir)? {
        let meta = entry.metadata()?;
        if meta.is_file() {
            count.0 += 1;
            count.1 += meta.len();
        }
    }
    Ok(count)
}

fn walk(dir: &Path, visit: &mut impl FnMut(&Path, u64)) -> Result<()> {
    for entry in read_dir(dir)? {
        let path = entry.path();
        let meta = entry.metadata()?;
        if meta.is_dir() {
            walk(&path, visit)?;
        } else if meta.is_file() {
            visit(&path, meta.len());
        }
    }
    Ok(())
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::sets::SetFile;
    use std::time::SystemTime;

    fn one_crash_set() -> RecordSet {
        RecordSet {
            key: "t".into(),
            title: "t".into(),
            origin: "test".into(),
            files: vec![SetFile {
                name: "dmesg-ramoops-0".into(),
                data: b"x".to_vec(),
                mtime: SystemTime::UNIX_EPOCH,
            }],
            crashes: 1,
        }
    }

    fn trial(dir: &Path) -> Trial {
        let t = Trial {
            dir: dir.to_path_buf(),
            pstore: dir.join("pstore"),
            archive: dir.join("archive"),
            reports: dir.join("reports"),
            root: dir.join("root"),
        };
        for d in [&t.pstore, &t.archive, &t.reports, &t.root] {
            fs::create_dir_all(d).unwrap();
        }
        t
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bench-tools-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn lastgasp_report_is_counted_with_its_signature() {
        let dir = scratch("lg");
        let t = trial(&dir);
        let report = t.reports.join("20261126T032804Z-807288c4eac2");
        fs::create_dir_all(&report).unwrap();
        fs::write(
            report.join("report.json"),
            r#"{"analysis":{"signature":"s-f-0"}}"#,
        )
        .unwrap();
        fs::write(report.join("dmesg.txt"), "log").unwrap();
        fs::write(t.reports.join(".lock"), "").unwrap();
        let got = check(Tool::Lastgasp, &t, &one_crash_set()).unwrap();
        assert_eq!((got.units, got.files, got.signatures), (1, 2, 1));
        assert_eq!(got.bytes, 34 + 3);

        // A second report for one crash is a failure, not a bigger number.
        let second = t.reports.join("other");
        fs::create_dir_all(&second).unwrap();
        fs::write(second.join("report.json"), "{}").unwrap();
        fs::write(second.join("dmesg.txt"), "").unwrap();
        assert!(check(Tool::Lastgasp, &t, &one_crash_set()).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn records_left_in_pstore_fail_the_run() {
        let dir = scratch("left");
        let t = trial(&dir);
        fs::write(t.pstore.join("dmesg-ramoops-0"), "x").unwrap();
        let err = check(Tool::SystemdPstore, &t, &one_crash_set()).unwrap_err();
        assert!(err.to_string().contains("left 1 of 1"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn systemd_needs_a_dmesg_txt_per_crash() {
        let dir = scratch("sd");
        let t = trial(&dir);
        fs::write(t.archive.join("dmesg-ramoops-0"), "x").unwrap();
        assert!(check(Tool::SystemdPstore, &t, &one_crash_set()).is_err());
        let sub = t.archive.join("179566368");
        fs::create_dir_all(&sub).unwrap();
        fs::write(sub.join("dmesg.txt"), "xy").unwrap();
        let got = check(Tool::SystemdPstore, &t, &one_crash_set()).unwrap();
        assert_eq!((got.units, got.files, got.bytes), (1, 2, 3));
        fs::remove_dir_all(&dir).unwrap();
    }
}
