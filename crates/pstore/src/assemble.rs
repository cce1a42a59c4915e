//! `assemble`: from the records of a pstore directory to crashes. Every record ends up in exactly
//! one crash's `records`, so the caller can delete each one once the report holding it is saved.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::crash::{Crash, Decoding, Dump, UsedRecord};
use crate::crashes::{BuiltCrash, join_dumps};
use crate::decode::decode_dmesg;
use crate::dumps::{Part, build_dumps};
use crate::header::strip_ecc_notice;
use crate::ids::{decode_efi_id, efi_id_time, erst_id_time, is_efi_backend};
use crate::name::RecordKind;
use crate::record::Record;

/// Groups records into crashes and rebuilds each crash's log. Never panics.
pub fn assemble(records: Vec<Record>) -> Vec<Crash> {
    let mut decodings: Vec<Decoding> = vec![Decoding::Plain; records.len()];
    // Records whose decoded text is incomplete: their bytes also go into the report as is.
    let mut keep_raw: Vec<bool> = vec![false; records.len()];
    let mut parts = Vec::new();
    let mut leftovers = Vec::new();
    let mut record_gaps: Vec<Vec<String>> = vec![Vec::new(); records.len()];
    for (index, record) in records.iter().enumerate() {
        if record.truncated {
            record_gaps[index].push(format!(
                "{}: only the first {} bytes were read; the file is larger",
                record.file_name,
                record.data.len()
            ));
        }
        match classify(index, record) {
            Class::Dmesg(part, decoding, damaged) => {
                keep_raw[index] = damaged && matches!(decoding, Decoding::Decompressed { .. });
                decodings[index] = decoding;
                parts.push(*part);
            }
            Class::Other(kind, decoding, notes) => {
                decodings[index] = decoding;
                record_gaps[index].extend(notes);
                leftovers.push((index, kind));
            }
        }
    }
    let built = join_dumps(build_dumps(parts));
    // Record indices per crash, beside `crashes`.
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut crashes: Vec<Crash> = Vec::new();
    for b in built {
        let (crash, indices) = into_crash(b, &records, &decodings, &keep_raw);
        crashes.push(crash);
        members.push(indices);
    }
    let mut dirs: Vec<Option<PathBuf>> = crashes
        .iter()
        .map(|c| c.records.first().and_then(|r| parent(&r.path)))
        .collect();
    for (index, kind) in leftovers {
        let Some(record) = records.get(index) else {
            continue;
        };
        let dir = parent(&record.path);
        let backend = record.name.as_ref().map(|n| n.backend.as_str());
        let target = match pick_crash(&crashes, &dirs, dir.as_deref(), backend) {
            Some(target) => target,
            None => {
                crashes.push(empty_crash(record));
                dirs.push(dir);
                members.push(Vec::new());
                crashes.len() - 1
            }
        };
        if let (Some(crash), Some(indices)) = (crashes.get_mut(target), members.get_mut(target)) {
            attach(crash, record, kind, &decodings[index]);
            indices.push(index);
        }
    }
    for (crash, indices) in crashes.iter_mut().zip(&members) {
        for &index in indices {
            if let Some(gaps) = record_gaps.get_mut(index) {
                crash.gaps.append(gaps);
            }
        }
        crash.partial = !crash.gaps.is_empty();
    }
    crashes.sort_by(|a, b| {
        let first = |c: &Crash| c.records.first().map(|r| r.file_name.clone());
        (a.crash_time, first(a)).cmp(&(b.crash_time, first(b)))
    });
    crashes
}

enum Class {
    /// A dmesg record, how it was decoded, and whether its text is damaged.
    Dmesg(Box<Part>, Decoding, bool),
    /// Not part of a dump: attached to a crash as console/pmsg/ftrace or an extra file.
    Other(Option<RecordKind>, Decoding, Vec<String>),
}

fn classify(index: usize, record: &Record) -> Class {
    let Some(name) = &record.name else {
        let reason = "not a pstore record name".to_owned();
        return Class::Other(None, Decoding::Raw { reason }, Vec::new());
    };
    match name.kind {
        RecordKind::Dmesg => {}
        RecordKind::Console | RecordKind::Pmsg | RecordKind::Ftrace if !name.encoded => {
            return Class::Other(Some(name.kind), Decoding::Plain, Vec::new());
        }
        kind => {
            let reason = format!("{kind} records are kept as they are");
            return Class::Other(None, Decoding::Raw { reason }, Vec::new());
        }
    }
    let decoded = decode_dmesg(&record.data, name.encoded);
    let notes: Vec<String> = decoded
        .notes
        .iter()
        .map(|n| format!("{}: {n}", record.file_name))
        .collect();
    if let Decoding::Raw { .. } = decoded.decoding {
        return Class::Other(None, decoded.decoding, notes);
    }
    let efi = is_efi_backend(&name.backend).then(|| decode_efi_id(name.id));
    let time = if efi.is_some() {
        efi_id_time(name.id).or(record.mtime)
    } else if name.backend == "erst" {
        record.mtime.or_else(|| erst_id_time(name.id))
    } else {
        decoded.ramoops_time.or(record.mtime)
    };
    // Without a header line, an efi-pstore id still tells the part and count.
    let (header, part) = match (decoded.header, efi) {
        (Some(h), _) => (Some((h.reason, h.count)), h.part),
        (None, Some(id)) => (Some(("Unknown".to_owned(), id.count)), id.part.max(1)),
        (None, None) => (None, 1),
    };
    let part = Part {
        record: index,
        file_name: record.file_name.clone(),
        backend: name.backend.clone(),
        id: name.id,
        header,
        part,
        text: decoded.text,
        time,
        notes,
    };
    Class::Dmesg(Box::new(part), decoded.decoding, decoded.damaged)
}

/// A crash from its dumps, with the indices of the records it used.
fn into_crash(
    built: BuiltCrash,
    records: &[Record],
    decodings: &[Decoding],
    keep_raw: &[bool],
) -> (Crash, Vec<usize>) {
    let mut used = Vec::new();
    let mut indices = Vec::new();
    let mut extra_files = Vec::new();
    for dump in &built.dumps {
        for &index in dump.records.iter().chain(&dump.conflicting) {
            if let Some(record) = records.get(index) {
                used.push(used_record(record, decodings.get(index)));
                indices.push(index);
                let raw = keep_raw.get(index).copied().unwrap_or(false);
                if raw || dump.conflicting.contains(&index) {
                    extra_files.push((record.file_name.clone(), record.data.clone()));
                }
            }
        }
    }
    let last = built.dumps.last();
    let crash = Crash {
        backend: built.backend.clone(),
        dump_reason: last.map(|d| d.dump.reason.clone()),
        crash_time: last.and_then(|d| d.time),
        dumps: built
            .dumps
            .iter()
            .map(|d| d.dump.clone())
            .collect::<Vec<Dump>>(),
        dmesg: built.text,
        console: None,
        pmsg: None,
        ftrace: None,
        extra_files,
        records: used,
        gaps: built.gaps,
        partial: false,
    };
    (crash, indices)
}

/// The crash a leftover record joins: the newest one, preferring crashes from the same
/// directory (one systemd-pstore collection) and then from the same backend.
fn pick_crash(
    crashes: &[Crash],
    dirs: &[Option<PathBuf>],
    dir: Option<&Path>,
    backend: Option<&str>,
) -> Option<usize> {
    crashes
        .iter()
        .enumerate()
        .max_by_key(|(i, c)| {
            let same_dir = dirs.get(*i).and_then(|d| d.as_deref()) == dir;
            let same_backend = backend == Some(c.backend.as_str());
            (same_dir, same_backend, c.crash_time, *i)
        })
        .map(|(i, _)| i)
}

/// A crash for records that came without any dmesg dump (e.g. only the console of a hang).
fn empty_crash(record: &Record) -> Crash {
    Crash {
        backend: record
            .name
            .as_ref()
            .map_or_else(|| "unknown".to_owned(), |n| n.backend.clone()),
        dump_reason: None,
        crash_time: None,
        dumps: Vec::new(),
        dmesg: Vec::new(),
        console: None,
        pmsg: None,
        ftrace: None,
        extra_files: Vec::new(),
        records: Vec::new(),
        gaps: Vec::new(),
        partial: false,
    }
}

fn attach(crash: &mut Crash, record: &Record, kind: Option<RecordKind>, decoding: &Decoding) {
    crash.records.push(used_record(record, Some(decoding)));
    let ramoops = record.name.as_ref().is_some_and(|n| n.backend == "ramoops");
    let slot = match kind {
        Some(RecordKind::Console) => Some((&mut crash.console, true)),
        Some(RecordKind::Ftrace) => Some((&mut crash.ftrace, true)),
        // pmsg is user bytes: only ramoops appends an ECC notice to it.
        Some(RecordKind::Pmsg) => Some((&mut crash.pmsg, ramoops)),
        _ => None,
    };
    match slot {
        Some((slot @ None, strip)) => {
            let (data, ecc) = if strip {
                strip_ecc_notice(&record.data)
            } else {
                (record.data.as_slice(), None)
            };
            if let Some(n) = ecc.filter(|n| n.unrecoverable_blocks > 0) {
                crash.gaps.push(format!(
                    "{}: ECC reports {} unrecoverable blocks",
                    record.file_name, n.unrecoverable_blocks
                ));
            }
            *slot = Some(data.to_vec());
        }
        _ => crash
            .extra_files
            .push((record.file_name.clone(), record.data.clone())),
    }
}

fn used_record(record: &Record, decoding: Option<&Decoding>) -> UsedRecord {
    UsedRecord {
        file_name: record.file_name.clone(),
        path: record.path.clone(),
        origin: record.origin,
        size: u64::try_from(record.data.len()).unwrap_or(u64::MAX),
        truncated: record.truncated,
        sha256: hex::encode(Sha256::digest(&record.data)),
        decoding: decoding.cloned().unwrap_or(Decoding::Plain),
    }
}

fn parent(path: &Path) -> Option<PathBuf> {
    path.parent().map(Path::to_path_buf)
}
