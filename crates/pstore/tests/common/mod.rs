//! Builders for synthetic pstore records that follow the kernel's documented formats.

#![allow(dead_code)]

use pstore::{Crash, Record, encode_efi_id};

/// Kernel log lines in pstore's syslog format with distinct, increasing timestamps.
pub fn log_lines(range: std::ops::Range<u32>) -> Vec<String> {
    range
        .map(|i| {
            format!(
                "<6>[{:5}.{:06}] kernel message number {i}\n",
                i / 10,
                (i % 10) * 1000
            )
        })
        .collect()
}

pub fn text(lines: &[String]) -> Vec<u8> {
    lines.concat().into_bytes()
}

/// A record file: the pstore header line followed by `body`.
pub fn with_header(reason: &str, count: u32, part: u32, body: &[u8]) -> Vec<u8> {
    let mut data = format!("{reason}#{count} Part{part}\n").into_bytes();
    data.extend_from_slice(body);
    data
}

pub fn record(file_name: &str, data: Vec<u8>, mtime: Option<i64>) -> Record {
    let mut r = Record::in_memory(file_name, data);
    r.mtime = mtime;
    r
}

/// Splits `lines` into `n` chunks of whole lines the way pstore does: Part1 holds the newest
/// chunk. Returns (part number, chunk) with part 1 first.
pub fn split_into_parts(lines: &[String], n: usize) -> Vec<(u32, Vec<u8>)> {
    let per = lines.len().div_ceil(n.max(1)).max(1);
    let chunks: Vec<Vec<u8>> = lines.chunks(per).map(|c| c.concat().into_bytes()).collect();
    chunks
        .into_iter()
        .rev()
        .enumerate()
        .map(|(i, c)| (u32::try_from(i).unwrap() + 1, c))
        .collect()
}

/// efi-pstore records for one dump split into `n` parts.
pub fn efi_dump(time: u64, reason: &str, count: u32, lines: &[String], n: usize) -> Vec<Record> {
    split_into_parts(lines, n)
        .into_iter()
        .map(|(part, chunk)| {
            let id = encode_efi_id(time, part, count);
            record(
                &format!("dmesg-efi_pstore-{id}"),
                with_header(reason, count, part, &chunk),
                Some(i64::try_from(time).unwrap()),
            )
        })
        .collect()
}

/// Every line of `text` (split at `\n`).
pub fn lines_of(text: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    if text.ends_with(b"\n") || text.is_empty() {
        lines.pop();
    }
    lines
}

/// Names of the records a set of crashes used, sorted.
pub fn used_names(crashes: &[Crash]) -> Vec<String> {
    let mut names: Vec<String> = crashes
        .iter()
        .flat_map(|c| c.records.iter().map(|r| r.file_name.clone()))
        .collect();
    names.sort();
    names
}
