//! A report before it is written: the facts for the manifest plus the file contents, built from
//! one assembled pstore crash. Decides the file names inside the report directory.

use crate::id::report_id;
use std::path::PathBuf;

use crate::context::{CONTEXT_DIR, ContextItem};
use crate::manifest::{DumpEntry, KdumpEntry, RecordEntry};

/// Everything `Store::write` needs to make one report.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReport {
    pub source: String,
    pub backend: Option<String>,
    pub dump_reason: Option<String>,
    /// Unix seconds of the crash, when a record carried it.
    pub crash_time: Option<i64>,
    pub partial: bool,
    pub gaps: Vec<String>,
    pub dumps: Vec<DumpEntry>,
    pub records: Vec<RecordEntry>,
    /// The files besides `report.json`, in the order they are written.
    pub files: Vec<ReportFile>,
    /// Large files already on disk (a kdump dump), moved into the report rather than read.
    pub attached: Vec<AttachedFile>,
    pub kdump: Option<KdumpEntry>,
    pub analysis: Option<kmsg::Analysis>,
    /// Facts about the machine read at save time; their files (under `context/`) are in `files`.
    pub context: Vec<ContextItem>,
}

/// A file that goes into the report directory from where it lies: hard-linked when it is on the
/// same filesystem, copied otherwise; the original is left for the caller to remove once the
/// report is durable. Marked as a dump in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedFile {
    /// Relative name inside the report, as for `ReportFile`.
    pub name: String,
    pub source: PathBuf,
}

/// One file of a report directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFile {
    /// Relative, '/'-separated, made only of safe characters (see `extra_file_name`).
    pub name: String,
    pub data: Vec<u8>,
}

/// Where records kept byte for byte go inside the report directory.
const EXTRA_DIR: &str = "extra";

impl NewReport {
    /// Builds a report of one crash. `analysis` is the kmsg analysis of the crash's text, if any.
    pub fn from_crash(crash: pstore::Crash, analysis: Option<kmsg::Analysis>) -> Self {
        let mut files = vec![ReportFile {
            name: "dmesg.txt".to_string(),
            data: crash.dmesg,
        }];
        let optional = [
            ("console.txt", crash.console),
            ("pmsg.bin", crash.pmsg),
            ("ftrace.txt", crash.ftrace),
        ];
        for (name, data) in optional {
            if let Some(data) = data {
                files.push(ReportFile {
                    name: name.to_string(),
                    data,
                });
            }
        }
        for (record_name, data) in crash.extra_files {
            let name = unique_name(&files, &extra_file_name(&record_name));
            files.push(ReportFile { name, data });
        }
        let backend = Some(crash.backend).filter(|b| !b.is_empty());
        Self {
            source: "pstore".to_string(),
            backend,
            dump_reason: crash.dump_reason,
            crash_time: crash.crash_time,
            partial: crash.partial,
            gaps: crash.gaps,
            dumps: crash.dumps.clone(),
            records: crash.records.iter().map(RecordEntry::from).collect(),
            files,
            attached: Vec::new(),
            kdump: None,
            analysis,
            context: Vec::new(),
        }
    }

    /// A report of a kdump capture: the log the capture kernel pulled out of /proc/vmcore and,
    /// when it wrote one, the dump.
    pub fn from_kdump(
        dmesg: Vec<u8>,
        crash_time: Option<i64>,
        kdump: KdumpEntry,
        dump: Option<AttachedFile>,
        analysis: Option<kmsg::Analysis>,
    ) -> Self {
        let partial = !kdump.log_complete || kdump.dump.as_ref().is_some_and(|d| !d.complete);
        let dump_reason = analysis
            .as_ref()
            .filter(|a| a.panic_message.is_some())
            .map(|_| "Panic".to_string());
        Self {
            source: "kdump".to_string(),
            backend: None,
            dump_reason,
            crash_time,
            partial,
            gaps: kdump.warnings.clone(),
            dumps: Vec::new(),
            records: Vec::new(),
            files: vec![ReportFile {
                name: "dmesg.txt".to_string(),
                data: dmesg,
            }],
            attached: dump.into_iter().collect(),
            kdump: Some(kdump),
            analysis,
            context: Vec::new(),
        }
    }

    /// Adds a context item kept as a file: `file_name` goes into the report under `context/`,
    /// and the item names it.
    pub fn add_context_file(&mut self, mut item: ContextItem, file_name: &str, data: Vec<u8>) {
        let name = format!("{CONTEXT_DIR}/{file_name}");
        item.file = Some(name.clone());
        self.files.push(ReportFile { name, data });
        self.context.push(item);
    }

    /// The content-derived id this report gets (see `report_id`). Without records (never the case
    /// for pstore crashes) the files' content stands in for them, the context files left out:
    /// they change from one save to the next, the crash does not.
    pub fn id(&self) -> String {
        let hashes: Vec<String> = if self.records.is_empty() {
            self.files
                .iter()
                .filter(|f| !is_context_file(&f.name))
                .map(|f| crate::store::sha256_hex(&f.data))
                .collect()
        } else {
            self.records.iter().map(|r| r.sha256.clone()).collect()
        };
        let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
        report_id(self.crash_time, &refs)
    }
}

/// Whether a report file is context (under `context/`) rather than crash data.
fn is_context_file(name: &str) -> bool {
    name.strip_prefix(CONTEXT_DIR)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// `extra/<record file name>`, with anything but `[A-Za-z0-9._-]` replaced by '_' and no leading
/// dot, so a hostile or odd record name can neither climb out of the report nor hide.
fn extra_file_name(record_name: &str) -> String {
    let mut safe: String = record_name
        .chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        safe.insert(0, '_');
    }
    format!("{EXTRA_DIR}/{safe}")
}

/// Appends `.1`, `.2`, ... when sanitising made two record names equal.
fn unique_name(files: &[ReportFile], wanted: &str) -> String {
    let taken = |name: &str| files.iter().any(|f| f.name == name);
    if !taken(wanted) {
        return wanted.to_string();
    }
    (1u32..)
        .map(|n| format!("{wanted}.{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| wanted.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_names_are_flat_and_visible() {
        assert_eq!(
            extra_file_name("dmesg-efi_pstore-1.enc.z"),
            "extra/dmesg-efi_pstore-1.enc.z"
        );
        assert_eq!(extra_file_name("../../etc/x"), "extra/_.._.._etc_x");
        assert_eq!(extra_file_name(".hidden"), "extra/_.hidden");
        assert_eq!(extra_file_name(""), "extra/_");
        assert_eq!(extra_file_name("ä b"), "extra/__b");
    }

    #[test]
    fn clashing_names_get_a_suffix() {
        let files = vec![
            ReportFile {
                name: "extra/a_b".into(),
                data: vec![],
            },
            ReportFile {
                name: "extra/a_b.1".into(),
                data: vec![],
            },
        ];
        assert_eq!(unique_name(&files, "extra/a_b"), "extra/a_b.2");
        assert_eq!(unique_name(&files, "extra/c"), "extra/c");
    }
}
