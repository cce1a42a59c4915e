//! Line-level text surgery for kernel logs: joining chunks, and merging two dumps of the same
//! log that overlap (ramoops' Oops and Panic records) so that no line is lost or doubled.

use std::collections::HashMap;

/// Overlaps shorter than this (in non-blank bytes) are too weak to prove two texts are one log.
const MIN_OVERLAP_BYTES: usize = 16;

/// The lines of `text`, without their `\n`. A final line without `\n` is included.
pub fn split_lines(text: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    if text.ends_with(b"\n") || text.is_empty() {
        lines.pop();
    }
    lines
}

/// Appends `chunk` to `out`, first ending `out`'s last line if it was cut mid-line, so two lines
/// never run together.
pub fn append_chunk(out: &mut Vec<u8>, chunk: &[u8]) {
    if chunk.is_empty() {
        return;
    }
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.extend_from_slice(chunk);
}

fn join(lines: &[&[u8]]) -> Vec<u8> {
    let len = lines.iter().map(|l| l.len() + 1).sum();
    let mut out = Vec::with_capacity(len);
    for line in lines {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

/// How the later text relates to the earlier one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    /// The texts share lines; this is the merged log.
    Overlapping(Vec<u8>),
    /// No common lines strong enough to join them.
    Disjoint,
}

/// Merges `earlier` and `later`, two snapshots of one growing log: the longest run of lines that
/// ends `earlier` and starts `later` is kept once; `later` may also contain all of `earlier`; and
/// when either lost lines (a missing part) the two are interleaved on their common lines.
pub fn merge_overlapping(earlier: &[u8], later: &[u8]) -> Merge {
    if earlier.is_empty() {
        return Merge::Overlapping(later.to_vec());
    }
    if later.is_empty() {
        return Merge::Overlapping(earlier.to_vec());
    }
    let a = split_lines(earlier);
    let b = split_lines(later);
    if let Some(merged) = merge_lines(&a, &b) {
        return Merge::Overlapping(merged);
    }
    // A record cut mid-line ends with a partial line that `later` holds complete.
    if !earlier.ends_with(b"\n")
        && let Some((fragment, whole)) = a.split_last()
        && b.iter().any(|line| line.starts_with(fragment))
        && let Some(merged) = merge_lines(whole, &b)
    {
        return Merge::Overlapping(merged);
    }
    Merge::Disjoint
}

fn merge_lines(a: &[&[u8]], b: &[&[u8]]) -> Option<Vec<u8>> {
    let merged = candidate(a, b)?;
    (!doubles_a_line(&merged, a, b)).then(|| join(&merged))
}

/// The merged lines, if `a` and `b` provably overlap.
fn candidate<'t>(a: &[&'t [u8]], b: &[&'t [u8]]) -> Option<Vec<&'t [u8]>> {
    let k = suffix_prefix_overlap(a, b);
    if k > 0 && strong(b.get(..k)?) {
        let mut merged = a.to_vec();
        merged.extend_from_slice(b.get(k..)?);
        return Some(merged);
    }
    if find(b, a).is_some() && strong(a) {
        return Some(b.to_vec());
    }
    merge_with_holes(a, b)
}

/// Snapshots with holes (a dump with a missing part): walks both, keeping common lines once and
/// each side's own lines where they fall. Accepted only when the lines they share come in the
/// same order, are strong enough, and include `a`'s last line: `b` is the later snapshot and
/// goes on from where `a` ends. Two boots that only share early-boot lines fail the last test.
fn merge_with_holes<'t>(a: &[&'t [u8]], b: &[&'t [u8]]) -> Option<Vec<&'t [u8]>> {
    let in_a = positions(a);
    let in_b = positions(b);
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let mut common: Vec<&[u8]> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        if x == y {
            merged.push(x);
            common.push(x);
            i += 1;
            j += 1;
            continue;
        }
        let x_later_in_b = occurs_from(&in_b, x, j + 1);
        let y_later_in_a = occurs_from(&in_a, y, i + 1);
        let y_first = match (x_later_in_b, y_later_in_a) {
            // Each is further on in the other: the two do not share one order.
            (true, true) => return None,
            (true, false) => true,
            (false, true) => false,
            // Each side's own line: the printk clock decides, the older snapshot on a tie.
            (false, false) => {
                matches!((printk_time(x), printk_time(y)), (Some(t), Some(u)) if u < t)
            }
        };
        if y_first {
            merged.push(y);
            j += 1;
        } else {
            merged.push(x);
            i += 1;
        }
    }
    let a_ends_in_common = i == a.len() && common.last() == a.last();
    if !a_ends_in_common || !strong(&common) {
        return None;
    }
    merged.extend_from_slice(b.get(j..)?);
    Some(merged)
}

/// Where each line occurs, ascending.
fn positions<'t>(lines: &[&'t [u8]]) -> HashMap<&'t [u8], Vec<usize>> {
    let mut map: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (index, line) in lines.iter().enumerate() {
        map.entry(line).or_default().push(index);
    }
    map
}

/// Whether `line` occurs at `from` or later.
fn occurs_from(map: &HashMap<&[u8], Vec<usize>>, line: &[u8], from: usize) -> bool {
    map.get(line)
        .is_some_and(|at| at.last().is_some_and(|&last| last >= from))
}

/// Whether a timestamped line occurs in `merged` more often than in either input: the
/// alignment was wrong and would double it.
fn doubles_a_line(merged: &[&[u8]], a: &[&[u8]], b: &[&[u8]]) -> bool {
    let mut counts: HashMap<&[u8], [usize; 3]> = HashMap::new();
    for (slot, lines) in [a, b, merged].into_iter().enumerate() {
        for line in lines.iter().filter(|l| printk_time(l).is_some()) {
            if let Some(count) = counts.entry(line).or_default().get_mut(slot) {
                *count += 1;
            }
        }
    }
    counts
        .values()
        .any(|[in_a, in_b, out]| *out > (*in_a).max(*in_b))
}

fn strong(lines: &[&[u8]]) -> bool {
    let bytes: usize = lines
        .iter()
        .map(|l| l.iter().filter(|b| !b.is_ascii_whitespace()).count())
        .sum();
    bytes >= MIN_OVERLAP_BYTES
}

/// KMP failure function over lines.
fn failure(pattern: &[&[u8]]) -> Vec<usize> {
    let mut fail = vec![0usize; pattern.len()];
    let mut k = 0;
    for i in 1..pattern.len() {
        while k > 0 && pattern.get(i) != pattern.get(k) {
            k = fail.get(k - 1).copied().unwrap_or(0);
        }
        if pattern.get(i) == pattern.get(k) {
            k += 1;
        }
        if let Some(slot) = fail.get_mut(i) {
            *slot = k;
        }
    }
    fail
}

/// Length of the longest prefix of `b` that is also a suffix of `a`.
fn suffix_prefix_overlap(a: &[&[u8]], b: &[&[u8]]) -> usize {
    let fail = failure(b);
    let mut j = 0;
    for line in a {
        while j > 0 && (j == b.len() || b.get(j) != Some(line)) {
            j = fail.get(j - 1).copied().unwrap_or(0);
        }
        if b.get(j) == Some(line) {
            j += 1;
        }
    }
    j
}

/// Position of the first occurrence of `needle` in `haystack`.
fn find(haystack: &[&[u8]], needle: &[&[u8]]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    let fail = failure(needle);
    let mut j = 0;
    for (i, line) in haystack.iter().enumerate() {
        while j > 0 && needle.get(j) != Some(line) {
            j = fail.get(j - 1).copied().unwrap_or(0);
        }
        if needle.get(j) == Some(line) {
            j += 1;
        }
        if j == needle.len() {
            return Some(i + 1 - j);
        }
    }
    None
}

/// The printk timestamp of a log line in microseconds: `<6>[   12.345678] ...` (pstore) or
/// `[   12.345678] ...` (console, journal).
pub fn printk_time(line: &[u8]) -> Option<u64> {
    let mut rest = line;
    if let Some(after) = rest.strip_prefix(b"<") {
        let close = after.iter().position(|&b| b == b'>')?;
        if close == 0 || close > 4 || !after.get(..close)?.iter().all(u8::is_ascii_digit) {
            return None;
        }
        rest = after.get(close + 1..)?;
    }
    let rest = rest.strip_prefix(b"[")?;
    let close = rest.iter().position(|&b| b == b']')?;
    let stamp = std::str::from_utf8(rest.get(..close)?).ok()?.trim_start();
    let (secs, micros) = stamp.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(secs) || micros.len() != 6 || !digits(micros) {
        return None;
    }
    let secs: u64 = secs.parse().ok()?;
    let micros: u64 = micros.parse().ok()?;
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

/// Timestamps of the first and last timestamped lines of `text`.
pub fn time_span(text: &[u8]) -> Option<(u64, u64)> {
    let lines = split_lines(text);
    let first = lines.iter().find_map(|l| printk_time(l))?;
    let last = lines.iter().rev().find_map(|l| printk_time(l))?;
    Some((first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(range: std::ops::Range<u32>) -> Vec<u8> {
        range
            .flat_map(|i| format!("<6>[{i:5}.000000] message {i}\n").into_bytes())
            .collect()
    }

    #[test]
    fn later_extends_earlier() {
        assert_eq!(
            merge_overlapping(&log(0..10), &log(0..15)),
            Merge::Overlapping(log(0..15))
        );
        assert_eq!(
            merge_overlapping(&log(0..10), &log(4..15)),
            Merge::Overlapping(log(0..15))
        );
        assert_eq!(
            merge_overlapping(&log(0..10), &log(9..15)),
            Merge::Overlapping(log(0..15))
        );
        assert_eq!(
            merge_overlapping(&log(3..10), &log(0..15)),
            Merge::Overlapping(log(0..15))
        );
        assert_eq!(
            merge_overlapping(&log(0..10), &log(5..10)),
            Merge::Overlapping(log(0..10))
        );
        assert_eq!(
            merge_overlapping(&log(0..10), &log(10..15)),
            Merge::Disjoint
        );
        assert_eq!(
            merge_overlapping(&log(0..10), &log(20..25)),
            Merge::Disjoint
        );
    }

    #[test]
    fn holes_are_filled_from_the_other_snapshot() {
        let with_hole = |range: std::ops::Range<u32>, hole: std::ops::Range<u32>| -> Vec<u8> {
            range
                .filter(|i| !hole.contains(i))
                .flat_map(|i| format!("<6>[{i:5}.000000] message {i}\n").into_bytes())
                .collect()
        };
        // The earlier dump lost lines 4..8; the later one has them.
        assert_eq!(
            merge_overlapping(&with_hole(0..20, 4..8), &log(2..30)),
            Merge::Overlapping(log(0..30))
        );
        // The later dump lost lines 12..15; the earlier one has them.
        assert_eq!(
            merge_overlapping(&log(0..20), &with_hole(5..30, 12..15)),
            Merge::Overlapping(log(0..30))
        );
        // Both have holes, each filled by the other.
        assert_eq!(
            merge_overlapping(&with_hole(0..20, 4..8), &with_hole(2..30, 12..15)),
            Merge::Overlapping(log(0..30))
        );
        // Two boots sharing only early-boot lines are not one log.
        let mut other_boot = log(0..3);
        other_boot.extend(b"<6>[   50.000000] another boot's crash\n");
        assert_eq!(merge_overlapping(&log(0..20), &other_boot), Merge::Disjoint);
        // Lines the later snapshot does not have in order are never dropped.
        let mut shuffled = log(0..10);
        shuffled.extend(log(15..16));
        shuffled.extend(log(10..15));
        assert_eq!(merge_overlapping(&shuffled, &log(5..20)), Merge::Disjoint);
    }

    #[test]
    fn cut_last_line_is_replaced_by_the_whole_one() {
        let mut cut = log(0..10);
        cut.extend_from_slice(b"<6>[   10.000000] mess");
        assert_eq!(
            merge_overlapping(&cut, &log(5..15)),
            Merge::Overlapping(log(0..15))
        );
    }

    #[test]
    fn weak_overlaps_do_not_join() {
        assert_eq!(merge_overlapping(b"a\n\nok\n", b"ok\nb\n"), Merge::Disjoint);
    }

    #[test]
    fn chunks_never_run_together() {
        let mut out = b"abc".to_vec();
        append_chunk(&mut out, b"def\n");
        append_chunk(&mut out, b"");
        append_chunk(&mut out, b"ghi\n");
        assert_eq!(out, b"abc\ndef\nghi\n");
    }

    #[test]
    fn timestamps() {
        assert_eq!(printk_time(b"<6>[   12.345678] x"), Some(12_345_678));
        assert_eq!(printk_time(b"[    0.000001] x"), Some(1));
        assert_eq!(printk_time(b"<12>[ 1.5] x"), None);
        assert_eq!(printk_time(b"<6>no stamp"), None);
        assert_eq!(time_span(&log(3..7)), Some((3_000_000, 6_000_000)));
    }
}
