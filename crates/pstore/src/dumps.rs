//! Grouping decoded dmesg records into dumps (`Reason#count`) and joining each dump's parts,
//! highest part first since Part1 holds the newest text.

use std::collections::BTreeMap;

use crate::crash::Dump;
use crate::ids::{decode_efi_id, is_efi_backend, is_single_part_backend};
use crate::lines::append_chunk;

/// One decoded dmesg record.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    /// Index of the record in `assemble`'s input.
    pub record: usize,
    pub file_name: String,
    pub backend: String,
    pub id: u64,
    /// Reason and count from the header; `None` when the record had no header line.
    pub header: Option<(String, u32)>,
    pub part: u32,
    pub text: Vec<u8>,
    /// Unix seconds of the dump, when known.
    pub time: Option<i64>,
    /// Problems found decoding this record, already prefixed with its file name.
    pub notes: Vec<String>,
}

/// A dump rebuilt from its parts.
#[derive(Debug, Clone)]
pub(crate) struct BuiltDump {
    pub backend: String,
    pub dump: Dump,
    pub text: Vec<u8>,
    pub time: Option<i64>,
    /// Records whose text is in `text` (or identical to one that is).
    pub records: Vec<usize>,
    /// Records that conflict with another copy of the same part: kept as extra files.
    pub conflicting: Vec<usize>,
    pub gaps: Vec<String>,
    pub first_file: String,
}

/// Parts of one dump are written within moments of each other; a new dump of the same
/// `Reason#count` (which restarts every boot) is at least a reboot away.
const SAME_DUMP_SECONDS: i64 = 30;
/// ERST ids count up by one per record within a dump; a later boot reseeds them from the clock.
const SAME_DUMP_ERST_IDS: u64 = 1000;
/// Missing part numbers listed one by one; hostile headers may claim Part4294967295.
const MAX_LISTED_MISSING: usize = 1024;

/// Backend and `(reason, count)`: parts of one dump share it (across boots, others may too).
type DumpKey = (String, Option<(String, u32)>);

/// Groups parts into dumps, oldest first.
pub(crate) fn build_dumps(parts: Vec<Part>) -> Vec<BuiltDump> {
    let mut groups: BTreeMap<DumpKey, Vec<Part>> = BTreeMap::new();
    for part in parts {
        groups
            .entry((part.backend.clone(), part.header.clone()))
            .or_default()
            .push(part);
    }
    let mut dumps = Vec::new();
    for ((backend, header), mut group) in groups {
        group.sort_by(|a, b| {
            (coordinate(a), a.part, a.id, &a.file_name).cmp(&(
                coordinate(b),
                b.part,
                b.id,
                &b.file_name,
            ))
        });
        let alone = header.is_none() || is_single_part_backend(&backend);
        let mut cluster: Vec<Part> = Vec::new();
        for part in group {
            let joins = cluster
                .last()
                .is_some_and(|last| !alone && same_dump(&backend, last, &part));
            if !joins && !cluster.is_empty() {
                dumps.push(join_parts(std::mem::take(&mut cluster)));
            }
            cluster.push(part);
        }
        if !cluster.is_empty() {
            dumps.push(join_parts(cluster));
        }
    }
    dumps.sort_by(|a, b| {
        (a.time, a.dump.count, &a.first_file).cmp(&(b.time, b.dump.count, &b.first_file))
    });
    dumps
}

/// The value parts of one dump are close in, per backend.
fn coordinate(part: &Part) -> (Option<i64>, u64) {
    if is_efi_backend(&part.backend) {
        (Some(decode_efi_id(part.id).time), 0)
    } else if part.backend == "erst" {
        (None, part.id)
    } else {
        (part.time, 0)
    }
}

fn same_dump(backend: &str, a: &Part, b: &Part) -> bool {
    if backend == "erst" {
        return b.id.abs_diff(a.id) <= SAME_DUMP_ERST_IDS;
    }
    match (coordinate(a).0, coordinate(b).0) {
        (Some(x), Some(y)) => y.abs_diff(x) <= SAME_DUMP_SECONDS.unsigned_abs(),
        (None, None) => true,
        _ => false,
    }
}

/// Joins the parts of one dump.
fn join_parts(mut parts: Vec<Part>) -> BuiltDump {
    parts.sort_by(|a, b| (a.part, a.id, &a.file_name).cmp(&(b.part, b.id, &b.file_name)));
    let (reason, count) = parts
        .first()
        .and_then(|p| p.header.clone())
        .unwrap_or_else(|| ("Unknown".to_owned(), 0));
    let label = format!("{reason}#{count}");
    let mut gaps: Vec<String> = parts.iter().flat_map(|p| p.notes.clone()).collect();
    let mut kept: Vec<&Part> = Vec::new();
    let mut records = Vec::new();
    let mut conflicting = Vec::new();
    for part in &parts {
        match kept.last() {
            Some(prev) if prev.part == part.part => {
                if prev.text == part.text {
                    records.push(part.record);
                } else {
                    gaps.push(format!(
                        "{label}: part {} recorded twice with different text; {} kept as an extra file",
                        part.part, part.file_name
                    ));
                    conflicting.push(part.record);
                }
            }
            _ => {
                records.push(part.record);
                kept.push(part);
            }
        }
    }
    let mut text = Vec::with_capacity(kept.iter().map(|p| p.text.len() + 1).sum());
    for part in kept.iter().rev() {
        append_chunk(&mut text, &part.text);
    }
    let present: Vec<u32> = kept.iter().map(|p| p.part).collect();
    let missing_parts = missing(&present, &label, &mut gaps);
    BuiltDump {
        backend: parts.first().map(|p| p.backend.clone()).unwrap_or_default(),
        time: parts.iter().filter_map(|p| p.time).max(),
        first_file: parts
            .first()
            .map(|p| p.file_name.clone())
            .unwrap_or_default(),
        dump: Dump {
            reason,
            count,
            parts: present,
            missing_parts,
        },
        text,
        records,
        conflicting,
        gaps,
    }
}

/// Part numbers from 1 to the highest present that are absent, with one gap line per run.
fn missing(present: &[u32], label: &str, gaps: &mut Vec<String>) -> Vec<u32> {
    let Some(&highest) = present.last() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut expected = 1u32;
    let mut unlisted = 0u64;
    for &p in present
        .iter()
        .chain(std::iter::once(&highest.saturating_add(1)))
    {
        if p > expected {
            let last = p - 1;
            gaps.push(if last == expected {
                format!("{label}: part {expected} of {highest} missing")
            } else {
                format!("{label}: parts {expected}-{last} of {highest} missing")
            });
            for n in expected..=last {
                if out.len() >= MAX_LISTED_MISSING {
                    unlisted += u64::from(last - n) + 1;
                    break;
                }
                out.push(n);
            }
        }
        expected = expected.max(p.saturating_add(1));
    }
    if unlisted > 0 {
        gaps.push(format!("{label}: {unlisted} more missing parts not listed"));
    }
    out
}
