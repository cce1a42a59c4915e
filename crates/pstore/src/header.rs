//! The lines wrapped around a dmesg record's log text: pstore's `<Reason>#<count> Part<n>` line,
//! pstore/blk's `<reason>: Total <n> times` line before it, ramoops' ECC notice after it, and
//! ramoops' in-memory `====<sec>.<usec>-<C|D>` line (stripped by the kernel, but present in
//! records carved out of a raw memory image).

use serde::{Deserialize, Serialize};

/// pstore's per-part header, `"%s#%d Part%u\n"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PartHeader {
    /// Dump reason as printed: `Panic`, `Oops`, `Emergency`, or any word older kernels used.
    pub reason: String,
    /// Per-boot dump counter.
    pub count: u32,
    /// Part number; Part1 holds the newest text.
    pub part: u32,
}

/// Longest reason word accepted; kernel reason strings are short.
const MAX_REASON_LEN: usize = 32;

/// Parses one header line (without its newline), e.g. `Panic#1 Part1`.
pub fn parse_part_header(line: &[u8]) -> Option<PartHeader> {
    let hash = line.iter().position(|&b| b == b'#')?;
    let (reason, rest) = line.split_at(hash);
    let rest = rest.get(1..)?;
    let space = rest.iter().position(|&b| b == b' ')?;
    let (count, part) = rest.split_at(space);
    let part = part.strip_prefix(b" Part")?;
    Some(PartHeader {
        reason: reason_word(reason)?,
        count: decimal(count)?,
        part: decimal(part)?,
    })
}

/// Parses pstore/blk's `<reason>: Total <n> times` line (without its newline).
pub fn parse_blk_total(line: &[u8]) -> Option<(String, u32)> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (reason, rest) = line.split_at(colon);
    let count = rest.strip_prefix(b": Total ")?.strip_suffix(b" times")?;
    Some((reason_word(reason)?, decimal(count)?))
}

fn reason_word(word: &[u8]) -> Option<String> {
    let ok = !word.is_empty()
        && word.len() <= MAX_REASON_LEN
        && word.iter().all(|&b| b.is_ascii_graphic() && b != b'#');
    ok.then(|| String::from_utf8_lossy(word).into_owned())
}

/// A decimal number of at most 10 digits that fits in u32.
fn decimal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Where a dmesg record's reason, count and part came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeaderSource {
    /// pstore's `Reason#n Partk` line.
    PartLine,
    /// Only pstore/blk's `Reason: Total n times` line (part taken as 1).
    TotalLine,
    /// Neither line was present.
    Missing,
}

/// A dmesg record split into its header and its log text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framed<'a> {
    pub header: Option<PartHeader>,
    pub source: HeaderSource,
    pub text: &'a [u8],
}

/// Splits the header lines off a (decompressed) dmesg record.
pub fn split_header(data: &[u8]) -> Framed<'_> {
    let (first, after_first) = split_line(data);
    let (total, rest) = match parse_blk_total(first) {
        Some(total) => (Some(total), after_first),
        None => (None, data),
    };
    let (line, after_line) = split_line(rest);
    if let Some(header) = parse_part_header(line) {
        return Framed {
            header: Some(header),
            source: HeaderSource::PartLine,
            text: after_line,
        };
    }
    match total {
        Some((reason, count)) => Framed {
            header: Some(PartHeader {
                reason,
                count,
                part: 1,
            }),
            source: HeaderSource::TotalLine,
            text: rest,
        },
        None => Framed {
            header: None,
            source: HeaderSource::Missing,
            text: data,
        },
    }
}

/// The first line (without newline) and what follows it.
fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(nl) => (
            data.get(..nl).unwrap_or_default(),
            data.get(nl + 1..).unwrap_or_default(),
        ),
        None => (data, &[]),
    }
}

/// ramoops' zone header line, `"====%lld.%06lu-%c\n"` (or the pre-4.4 form without `-%c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RamoopsHeader {
    /// Wall-clock seconds of the dump.
    pub time: i64,
    /// `C`: the payload after the line is compressed.
    pub compressed: bool,
}

/// Splits a leading ramoops zone header line off `data`.
pub fn split_ramoops_header(data: &[u8]) -> Option<(RamoopsHeader, &[u8])> {
    let rest = data.strip_prefix(b"====")?;
    if !rest.contains(&b'\n') {
        return None;
    }
    let (line, after) = split_line(rest);
    let line = std::str::from_utf8(line).ok()?;
    let (stamp, flag) = match line.rsplit_once('-') {
        // A leading '-' is the sign of a negative time, not the flag separator.
        Some((stamp, flag)) if !stamp.is_empty() => (stamp, Some(flag)),
        _ => (line, None),
    };
    let compressed = match flag {
        None | Some("D") => false,
        Some("C") => true,
        Some(_) => return None,
    };
    let (secs, usecs) = stamp.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = secs.strip_prefix('-').unwrap_or(secs);
    if !digits(unsigned) || !digits(usecs) {
        return None;
    }
    let time = secs.parse().ok()?;
    Some((RamoopsHeader { time, compressed }, after))
}

/// The notice ramoops appends when ECC is enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct EccNotice {
    pub corrected_bytes: u64,
    pub unrecoverable_blocks: u64,
}

const NO_ERRORS: &[u8] = b"\nNo errors detected\n";

/// Removes a trailing ECC notice (`\nNo errors detected\n` or
/// `\n%d Corrected bytes, %d unrecoverable blocks\n`) and returns what it said.
pub fn strip_ecc_notice(data: &[u8]) -> (&[u8], Option<EccNotice>) {
    if let Some(payload) = data.strip_suffix(NO_ERRORS) {
        let none = EccNotice {
            corrected_bytes: 0,
            unrecoverable_blocks: 0,
        };
        return (payload, Some(none));
    }
    let Some(body) = data.strip_suffix(b"\n") else {
        return (data, None);
    };
    let Some(nl) = body.iter().rposition(|&b| b == b'\n') else {
        return (data, None);
    };
    let (payload, line) = body.split_at(nl);
    match parse_ecc_counts(line.get(1..).unwrap_or_default()) {
        Some(notice) => (payload, Some(notice)),
        None => (data, None),
    }
}

fn parse_ecc_counts(line: &[u8]) -> Option<EccNotice> {
    let line = std::str::from_utf8(line).ok()?;
    let (corrected, rest) = line.split_once(" Corrected bytes, ")?;
    let blocks = rest.strip_suffix(" unrecoverable blocks")?;
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    Some(EccNotice {
        corrected_bytes: number(corrected)?,
        unrecoverable_blocks: number(blocks)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(reason: &str, count: u32, part: u32) -> Option<PartHeader> {
        Some(PartHeader {
            reason: reason.into(),
            count,
            part,
        })
    }

    #[test]
    fn part_headers() {
        assert_eq!(parse_part_header(b"Panic#1 Part1"), header("Panic", 1, 1));
        assert_eq!(parse_part_header(b"Oops#2 Part14"), header("Oops", 2, 14));
        assert_eq!(parse_part_header(b"Kexec#3 Part2"), header("Kexec", 3, 2));
        for bad in [
            &b""[..],
            b"Panic#1",
            b"Panic#1 Part",
            b"#1 Part1",
            b"Panic#-1 Part1",
            b"Panic#1 Part1 ",
            b"Panic#1  Part1",
            b"Pa nic#1 Part1",
            b"Panic#99999999999 Part1",
            b"Panic#1 Part4294967296",
        ] {
            assert_eq!(
                parse_part_header(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn blk_prefix_then_part_line() {
        let f = split_header(b"Panic: Total 2 times\nPanic#2 Part1\n<0>[ 1.0] x\n");
        assert_eq!(f.header, header("Panic", 2, 1));
        assert_eq!(f.source, HeaderSource::PartLine);
        assert_eq!(f.text, b"<0>[ 1.0] x\n");

        let f = split_header(b"Oops: Total 1 times\n<0>[ 1.0] x\n");
        assert_eq!(f.header, header("Oops", 1, 1));
        assert_eq!(f.source, HeaderSource::TotalLine);
        assert_eq!(f.text, b"<0>[ 1.0] x\n");

        let f = split_header(b"<0>[ 1.0] no header\n");
        assert_eq!(f.header, None);
        assert_eq!(f.text, b"<0>[ 1.0] no header\n");

        let f = split_header(b"Panic#1 Part1");
        assert_eq!(f.header, header("Panic", 1, 1));
        assert_eq!(f.text, b"");
    }

    #[test]
    fn ramoops_zone_header() {
        let (h, rest) = split_ramoops_header(b"====1700000000.123456-C\nxyz").unwrap();
        assert_eq!(
            (h.time, h.compressed, rest),
            (1_700_000_000, true, &b"xyz"[..])
        );
        let (h, rest) = split_ramoops_header(b"====1700000000.5\nPanic#1 Part1\n").unwrap();
        assert_eq!(
            (h.time, h.compressed, rest),
            (1_700_000_000, false, &b"Panic#1 Part1\n"[..])
        );
        let (h, _) = split_ramoops_header(b"====-5.000001-D\n").unwrap();
        assert_eq!(h.time, -5);
        for bad in [
            &b"====1.2-X\n"[..],
            b"====1.2-D",
            b"====abc.1-D\n",
            b"===1.2-D\n",
            b"====1-D\n",
        ] {
            assert_eq!(
                split_ramoops_header(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn ecc_notices() {
        let (p, n) = strip_ecc_notice(b"a\nb\n\nNo errors detected\n");
        assert_eq!(p, b"a\nb\n");
        assert_eq!(n.map(|n| n.unrecoverable_blocks), Some(0));

        let (p, n) = strip_ecc_notice(b"a\n\n3 Corrected bytes, 1 unrecoverable blocks\n");
        assert_eq!(p, b"a\n");
        assert_eq!(
            n,
            Some(EccNotice {
                corrected_bytes: 3,
                unrecoverable_blocks: 1
            })
        );

        let (p, n) = strip_ecc_notice(b"a\nsome 3 Corrected bytes text\n");
        assert_eq!(p, b"a\nsome 3 Corrected bytes text\n");
        assert_eq!(n, None);
        assert_eq!(strip_ecc_notice(b""), (&b""[..], None));
    }
}
