//! A fake system root for driving the `lastgasp` binary: pstore files, systemd's archive,
//! configuration, and helpers to inspect the reports it writes.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use assert_cmd::Command;

pub mod systemd_pstore;

pub struct FakeRoot {
    dir: tempfile::TempDir,
}

/// The lab's real records for one scenario (ramoops, efi, erst, blk).
pub fn lab_dir(scenario: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/lab/x86_64")
        .join(scenario)
        .join("pstore")
}

impl FakeRoot {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn pstore(&self) -> PathBuf {
        self.path().join("sys/fs/pstore")
    }

    pub fn reports(&self) -> PathBuf {
        self.path().join("var/lib/lastgasp/reports")
    }

    pub fn archive(&self) -> PathBuf {
        self.path().join("var/lib/systemd/pstore")
    }

    /// Writes a record into the fake /sys/fs/pstore; `mtime` is what pstore sets (dump time).
    pub fn record(&self, name: &str, data: &[u8], mtime: Option<u64>) -> PathBuf {
        write_with_mtime(&self.pstore().join(name), data, mtime)
    }

    /// Copies the lab's records of `scenario` into the fake /sys/fs/pstore.
    pub fn lab_records(&self, scenario: &str) -> Vec<String> {
        let mut names = Vec::new();
        for entry in fs::read_dir(lab_dir(scenario)).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            self.record(&name, &fs::read(entry.path()).unwrap(), None);
            names.push(name);
        }
        names.sort();
        names
    }

    pub fn archive_record(&self, relative: &str, data: &[u8]) -> PathBuf {
        write_with_mtime(&self.archive().join(relative), data, None)
    }

    pub fn file(&self, relative: &str, text: &str) -> PathBuf {
        write_with_mtime(&self.path().join(relative), text.as_bytes(), None)
    }

    /// `lastgasp --root <root>`, with a clean environment for the log filter, and log records on
    /// stderr even where a journal runs.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// `cmd` as a plain `std::process::Command`, for a run that is spawned and waited for later.
    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lastgasp"));
        cmd.env_remove("LASTGASP_LOG")
            .env("LASTGASP_LOG_TARGET", "stderr")
            .arg("--root")
            .arg(self.path());
        cmd
    }

    pub fn pstore_files(&self) -> Vec<String> {
        names_in(&self.pstore())
    }

    /// Report directories, sorted (hidden entries such as the lock file left out).
    pub fn report_ids(&self) -> Vec<String> {
        names_in(&self.reports())
            .into_iter()
            .filter(|n| !n.starts_with('.'))
            .collect()
    }

    pub fn manifest(&self, id: &str) -> serde_json::Value {
        let text = fs::read_to_string(self.reports().join(id).join("report.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

fn write_with_mtime(path: &Path, data: &[u8], mtime: Option<u64>) -> PathBuf {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
    if let Some(secs) = mtime {
        let file = fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    }
    path.to_path_buf()
}

fn names_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// A kernel log of `n` lines starting at second `start`, each line unique.
pub fn log_lines(start: u32, n: u32) -> Vec<String> {
    (start..start + n)
        .map(|i| {
            format!(
                "<6>[{:5}.{:06}] line {i} of the log\n",
                i / 10,
                (i % 10) * 1000
            )
        })
        .collect()
}

/// A dmesg record as pstore shows it: the part header, then the lines.
pub fn dmesg_record(reason: &str, count: u32, lines: &[String]) -> Vec<u8> {
    let mut data = format!("{reason}#{count} Part1\n").into_bytes();
    for line in lines {
        data.extend_from_slice(line.as_bytes());
    }
    data
}

/// Panics with every violation when a report's manifest does not match docs/report.schema.json.
pub fn assert_schema_valid(manifest: &serde_json::Value) {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(manifest)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

/// Compares `got` with the golden file tests/golden/`dir`/`name`; with `UPDATE_GOLDEN=1` it
/// rewrites the file instead, for the diff to be read.
pub fn golden(dir: &str, name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(dir)
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        fs::write(&path, got).unwrap();
        return;
    }
    let want = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(
        got,
        want,
        "{} differs (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

pub fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}
