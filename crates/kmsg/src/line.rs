//! Splits any kernel log text into message lines with their prefixes removed.
//!
//! One reader for every source: pstore/dmesg syslog lines (`<4>[  12.3] [  T1] text`),
//! `/dev/kmsg` records (`4,12,345,-;text`), serial captures (no level, `\r`, shell noise before
//! the timestamp) and journalctl (`Nov 26 03:12:01 host kernel: text`, short-monotonic,
//! short-iso). Work per line is capped so that hostile input stays linear.

use crate::frame::{TraceLine, parse_trace_line};
use crate::numbering::Numbering;

/// Longer lines are cut here: the kernel never prints more than about 1 KiB per line, and the
/// cap bounds the work any later step does per line.
pub(crate) const MAX_LINE: usize = 4096;

/// One message line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    /// The message text. Leading spaces are kept (frame lines start with one); trailing
    /// whitespace is removed.
    pub text: &'a str,
    /// Seconds since boot from the line's timestamp.
    pub ts: Option<f64>,
    /// The printk caller id (`T123` or `C0`) when the kernel printed one.
    pub caller: Option<&'a str>,
    /// The text's last line, not ended by a newline: a paste or a record cut off there may
    /// have lost the rest of it.
    pub cut: bool,
}

impl<'a> Line<'a> {
    /// The text without leading whitespace, which is how most markers are matched.
    pub fn trimmed(&self) -> &'a str {
        self.text.trim_start()
    }
}

/// The message lines of `input`; lines that are not kernel messages (pstore part headers,
/// other processes' journal lines) are left out.
pub(crate) fn split_lines(input: &str) -> Vec<Line<'_>> {
    let raws: Vec<&str> = input.split('\n').map(|raw| unquote(cap(raw))).collect();
    // Line numbers are the outermost prefix a viewer adds, and whether there are any is
    // decided for the whole text.
    let numbering = Numbering::detect(raws.iter().copied());
    // Only a text that ends without a newline can have lost the end of its last line.
    let last = raws.len() - 1;
    let unterminated = !input.trim_end_matches([' ', '\t', '\r']).ends_with('\n');
    let mut first_is_text_start = false;
    let mut lines: Vec<Line<'_>> = raws
        .into_iter()
        .enumerate()
        .filter_map(|(i, raw)| {
            let mut line = normalize(numbering.strip(raw))?;
            line.cut = unterminated && i == last;
            first_is_text_start |= i == 0;
            Some(line)
        })
        // Empty lines carry nothing; a paste often adds one after every line.
        .filter(|l| !l.text.trim().is_empty())
        .collect();
    if first_is_text_start && begins_mid_line(&lines) {
        lines.remove(0);
    }
    lines
}

/// Whether the text's first line is the end of a line whose head was cut off: its timestamp is
/// gone while nearly every other line has one, and what is left reads as a trace frame
/// (`ite+0x2ad/0x3f0` of `vfs_write+0x2ad/0x3f0`) that would name a function that is not there.
fn begins_mid_line(lines: &[Line<'_>]) -> bool {
    let Some((first, rest)) = lines.split_first() else {
        return false;
    };
    let stamped = rest.iter().filter(|l| l.ts.is_some()).count();
    first.ts.is_none()
        && rest.len() >= 2
        && stamped * 5 >= rest.len() * 4
        && matches!(parse_trace_line(first.text), Some(TraceLine::Frame(_)))
}

/// `raw` cut to at most `MAX_LINE` bytes on a character boundary.
fn cap(raw: &str) -> &str {
    if raw.len() <= MAX_LINE {
        return raw;
    }
    let mut end = MAX_LINE;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    &raw[..end]
}

/// `raw` without trailing whitespace, leading carriage returns (a serial console sometimes
/// repeats one or starts a line with it) and the markdown or mail quoting of a pasted log
/// (`> `, `> > `).
fn unquote(raw: &str) -> &str {
    let mut rest = raw.trim_end().trim_start_matches('\r');
    while let Some(after) = rest.strip_prefix('>') {
        rest = after.strip_prefix(' ').unwrap_or(after);
    }
    rest
}

fn normalize(raw: &str) -> Option<Line<'_>> {
    // Quoting may also sit inside a line number (`12 | > text`).
    let mut rest = unquote(raw);
    let mut ts = None;
    let mut prefixed = false;
    // A capturing tool's own clock (Go's log package, syzkaller's fuzzer log):
    // `2018/01/09 14:28:48 BUG: memory leak`.
    if let Some(after) = strip_slash_date(rest) {
        rest = after;
        prefixed = true;
    }

    if let Some(after) = strip_level(rest).or_else(|| strip_decoded_level(rest)) {
        rest = after;
        prefixed = true;
    } else if let Some((after, t)) = strip_devkmsg(rest) {
        rest = after;
        ts = Some(t);
        prefixed = true;
    }
    if ts.is_none() {
        if let Some(after) = strip_ctime(rest) {
            rest = after;
            prefixed = true;
        } else if let Some((after, t)) = strip_timestamp(rest) {
            rest = after;
            ts = Some(t);
            prefixed = true;
        } else if !prefixed {
            // Serial captures: shell output may precede the kernel's line on the same row.
            if let Some((after, t)) = find_timestamp(rest) {
                rest = after;
                ts = Some(t);
                prefixed = true;
            }
        }
    }
    let mut caller = None;
    if let Some((after, c)) = strip_caller(rest) {
        rest = after;
        caller = Some(c);
        prefixed = true;
    }
    if prefixed {
        rest = rest.strip_prefix(' ').unwrap_or(rest);
    }
    match strip_journal(rest, ts.is_some()) {
        Journal::Kernel(after) => {
            rest = after;
            // journalctl --output=short-monotonic keeps no caller id, but a kernel line quoted
            // inside it may still carry one.
            if caller.is_none()
                && let Some((after, c)) = strip_caller(rest)
            {
                rest = after.strip_prefix(' ').unwrap_or(after);
                caller = Some(c);
            }
        }
        Journal::Other => return None,
        Journal::Plain => {}
    }
    if is_pstore_header(rest) {
        return None;
    }
    Some(Line {
        text: rest,
        ts,
        caller,
        cut: false,
    })
}

/// `<N>` syslog level/facility prefix.
fn strip_level(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('<')?;
    let close = find_byte(inner, b'>')?;
    let digits = &inner[..close];
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(&inner[close + 1..])
}

/// `dmesg -x`'s `kern  :warn  : ` facility and level words.
fn strip_decoded_level(s: &str) -> Option<&str> {
    const FACILITIES: [&str; 8] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
    ];
    const LEVELS: [&str; 8] = [
        "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
    ];
    let (facility, rest) = split_once_byte(s, b':')?;
    let (level, rest) = split_once_byte(rest, b':')?;
    (FACILITIES.contains(&facility.trim_end()) && LEVELS.contains(&level.trim()))
        .then(|| rest.strip_prefix(' ').unwrap_or(rest))
}

/// `dmesg -T`'s `[Thu Nov 26 03:12:01 2026]`.
fn strip_ctime(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('[')?;
    // A weekday's capital, where a printk timestamp has blanks and digits.
    if !inner
        .trim_start()
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_uppercase)
    {
        return None;
    }
    let close = find_byte(inner.get(..32).unwrap_or(inner), b']')?;
    let mut words = inner[..close].split_whitespace();
    let weekday = words.next()?;
    let rest = inner[..close]
        .trim_start()
        .get(weekday.len()..)?
        .trim_start();
    let ok = WEEKDAYS.contains(&weekday)
        && strip_syslog_date(&format!("{rest} "))
            .is_some_and(|year| year.trim().bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| &inner[close + 1..])
}

/// `/dev/kmsg` record prefix `level,seq,usec,flags[,...];`.
fn strip_devkmsg(s: &str) -> Option<(&str, f64)> {
    let semi = find_byte(s.get(..64).unwrap_or(s), b';')?;
    let head = &s[..semi];
    let mut fields = head.split(',');
    let level = fields.next()?;
    let seq = fields.next()?;
    let usec = fields.next()?;
    let _flags = fields.next()?;
    let numeric = |f: &str| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit());
    if !(numeric(level) && numeric(seq) && numeric(usec)) {
        return None;
    }
    let micros: u64 = usec.parse().ok()?;
    Some((&s[semi + 1..], micros as f64 / 1e6))
}

/// `[ 1234.567890]` at the start of `s`.
fn strip_timestamp(s: &str) -> Option<(&str, f64)> {
    let inner = s.strip_prefix('[')?;
    let close = find_byte(inner.get(..32).unwrap_or(inner), b']')?;
    let value = parse_seconds(inner[..close].trim_start())?;
    Some((&inner[close + 1..], value))
}

/// The first `[ seconds.micros]` anywhere in `s`, for serial lines with leading noise.
fn find_timestamp(s: &str) -> Option<(&str, f64)> {
    memchr::memchr_iter(b'[', s.as_bytes()).find_map(|at| strip_timestamp(&s[at..]))
}

/// `digits.digits`, the printk clock format.
fn parse_seconds(s: &str) -> Option<f64> {
    let (whole, frac) = split_once_byte(s, b'.')?;
    let digits = |p: &str| !p.is_empty() && p.len() <= 12 && p.bytes().all(|b| b.is_ascii_digit());
    if !(digits(whole) && digits(frac)) {
        return None;
    }
    // Every line has one, so the usual case skips the general parser: an integer below 2^53
    // and a power of ten up to 10^12 are both exact in an f64, and one division of exact
    // operands is correctly rounded, which is what `parse` returns too.
    let mantissa = whole.bytes().chain(frac.bytes()).try_fold(0u64, |n, b| {
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    });
    match mantissa {
        Some(n) if n < 1 << 53 => Some(n as f64 / POWERS_OF_TEN[frac.len()]),
        _ => s.parse().ok(),
    }
}

/// 10^0 to 10^12, all exact in an f64.
const POWERS_OF_TEN: [f64; 13] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
];

/// `[  T123]` or `[C0]` printk caller id, optionally after one space.
fn strip_caller(s: &str) -> Option<(&str, &str)> {
    let body = s.strip_prefix(' ').unwrap_or(s);
    let inner = body.strip_prefix('[')?;
    let close = find_byte(inner.get(..16).unwrap_or(inner), b']')?;
    let id = inner[..close].trim_start();
    let mut chars = id.chars();
    let kind = chars.next()?;
    let number = chars.as_str();
    if !matches!(kind, 'T' | 'C')
        || number.is_empty()
        || !number.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((&inner[close + 1..], id))
}

enum Journal<'a> {
    Kernel(&'a str),
    Other,
    Plain,
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// journalctl's `<date> <host> <ident>: ` prefix; with `monotonic`, the date was the
/// `[ seconds]` already removed and only `<host> <ident>: ` is left.
fn strip_journal(s: &str, monotonic: bool) -> Journal<'_> {
    let mut rest = s;
    if !monotonic {
        if let Some(after) = strip_syslog_date(rest)
            .or_else(|| strip_iso_date(rest))
            .or_else(|| strip_full_date(rest))
            .or_else(|| strip_unix_date(rest))
        {
            rest = after;
        } else {
            return Journal::Plain;
        }
    }
    let Some((host, after_host)) = split_once_byte(rest, b' ') else {
        return Journal::Plain;
    };
    if host.is_empty() || host.len() > 64 || host.contains(':') {
        return Journal::Plain;
    }
    let Some((ident, message)) = split_at_colon_space(after_host) else {
        // `host kernel:` with an empty message.
        return if after_host == "kernel:" {
            Journal::Kernel("")
        } else if monotonic {
            Journal::Plain
        } else {
            Journal::Other
        };
    };
    if ident == "kernel" {
        return Journal::Kernel(message);
    }
    let ident_like = !ident.is_empty()
        && ident.len() <= 64
        && !ident.contains(' ')
        && ident.bytes().all(|b| b.is_ascii_graphic());
    if monotonic {
        // After a bare timestamp, `word word: text` is also what plain kernel lines look like
        // ("usb 1-1: new device"), so only an ident with a pid marks another process.
        if ident_like && ident.ends_with(']') && ident.contains('[') {
            Journal::Other
        } else {
            Journal::Plain
        }
    } else if ident_like {
        Journal::Other
    } else {
        Journal::Plain
    }
}

/// `s.find(byte)` for an ASCII byte: memchr's search, where `str::find` of a char costs several
/// times more on the short texts these run on for every line.
fn find_byte(s: &str, byte: u8) -> Option<usize> {
    memchr::memchr(byte, s.as_bytes())
}

/// `s.split_once(byte)` for an ASCII byte, through `find_byte`.
fn split_once_byte(s: &str, byte: u8) -> Option<(&str, &str)> {
    find_byte(s, byte).map(|at| (&s[..at], &s[at + 1..]))
}

/// `s.split_once(": ")`, several times faster on the short lines this runs on for every line.
fn split_at_colon_space(s: &str) -> Option<(&str, &str)> {
    let bytes = s.as_bytes();
    memchr::memchr_iter(b':', bytes)
        .find(|&at| bytes.get(at + 1) == Some(&b' '))
        .map(|at| (&s[..at], &s[at + 2..]))
}

/// `2018/01/09 14:28:48 ` (optionally with a fraction of a second).
fn strip_slash_date(s: &str) -> Option<&str> {
    // Most lines fail here, before any search: the date is ten bytes and a space.
    if !matches!(
        s.as_bytes().get(..11),
        Some([_, _, _, _, b'/', _, _, b'/', _, _, b' '])
    ) {
        return None;
    }
    let (date, rest) = s.split_once(' ')?;
    let (time, rest) = rest.split_once(' ')?;
    let b = date.as_bytes();
    let date_ok = b.len() == 10
        && b[4] == b'/'
        && b[7] == b'/'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    (date_ok && is_clock(time)).then_some(rest)
}

/// `Nov 26 03:12:01 ` or `Nov  6 03:12:01.123456 `.
fn strip_syslog_date(s: &str) -> Option<&str> {
    let month = s.get(..3)?;
    if !MONTHS.contains(&month) {
        return None;
    }
    let rest = s[3..].strip_prefix(' ')?.trim_start_matches(' ');
    let (day, rest) = rest.split_once(' ')?;
    if day.is_empty() || day.len() > 2 || !day.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (time, rest) = rest.split_once(' ')?;
    is_clock(time).then_some(rest)
}

/// `2026-11-26T03:12:01+0000 `.
fn strip_iso_date(s: &str) -> Option<&str> {
    let (stamp, rest) = s.split_once(' ')?;
    let b = stamp.as_bytes();
    let date_ok = b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T';
    (date_ok && is_clock(stamp.get(11..19)?)).then_some(rest)
}

/// journalctl short-full: `Thu 2026-11-26 03:12:01 UTC `.
fn strip_full_date(s: &str) -> Option<&str> {
    let (weekday, rest) = s.split_once(' ')?;
    let (date, rest) = rest.split_once(' ')?;
    let (time, rest) = rest.split_once(' ')?;
    let (zone, rest) = rest.split_once(' ')?;
    let b = date.as_bytes();
    let date_ok = b.len() == 10 && b[4] == b'-' && b[7] == b'-';
    let zone_ok = !zone.is_empty()
        && zone
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'-');
    (WEEKDAYS.contains(&weekday) && date_ok && is_clock(time) && zone_ok).then_some(rest)
}

/// journalctl short-unix: `1732590721.123456 `.
fn strip_unix_date(s: &str) -> Option<&str> {
    let (stamp, rest) = s.split_once(' ')?;
    let (whole, frac) = stamp.split_once('.')?;
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    (whole.len() >= 9 && digits(whole) && digits(frac)).then_some(rest)
}

/// `HH:MM:SS` optionally followed by `.fraction`.
fn is_clock(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8
        && b[2] == b':'
        && b[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit())
        && (b.len() == 8 || (b[8] == b'.' && b[9..].iter().all(u8::is_ascii_digit)))
}

/// pstore's `Panic#1 Part1` and ramoops' `====1234.567890-C` header lines.
fn is_pstore_header(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("====") {
        return rest.bytes().next().is_some_and(|b| b.is_ascii_digit());
    }
    let Some((reason, rest)) = split_once_byte(s, b'#') else {
        return false;
    };
    let Some((count, part)) = rest.split_once(" Part") else {
        return false;
    };
    !reason.is_empty()
        && reason.bytes().all(|b| b.is_ascii_alphabetic())
        && !count.is_empty()
        && count.bytes().all(|b| b.is_ascii_digit())
        && !part.is_empty()
        && part.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Option<(String, Option<f64>, Option<String>)> {
        let lines = split_lines(s);
        lines
            .first()
            .map(|l| (l.text.to_owned(), l.ts, l.caller.map(str::to_owned)))
    }

    #[test]
    fn syslog_prefix_with_caller() {
        let (text, ts, caller) = one("<4>[  812.123493][  T123]  ? __die+0x23/0x70").unwrap();
        assert_eq!(text, " ? __die+0x23/0x70");
        assert_eq!(ts, Some(812.123493));
        assert_eq!(caller.as_deref(), Some("T123"));
    }

    #[test]
    fn syslog_prefix_without_time() {
        let (text, ts, _) = one("<0>Kernel panic - not syncing: boom").unwrap();
        assert_eq!(text, "Kernel panic - not syncing: boom");
        assert_eq!(ts, None);
    }

    #[test]
    fn serial_with_noise_and_cr() {
        let (text, ts, _) =
            one("# echo c > /proc/sysrq-trigger[   33.000001] sysrq: Trigger a crash\r").unwrap();
        assert_eq!(text, "sysrq: Trigger a crash");
        assert_eq!(ts, Some(33.000001));
    }

    #[test]
    fn journal_short_and_other_idents() {
        let (text, ts, _) =
            one("Nov 26 03:12:01 host kernel: Oops: 0002 [#1] PREEMPT SMP PTI").unwrap();
        assert_eq!(text, "Oops: 0002 [#1] PREEMPT SMP PTI");
        assert_eq!(ts, None);
        assert!(one("Nov  6 03:12:01 host systemd[1]: Started foo.").is_none());
        let (text, ts, _) = one("[   12.345678] host kernel:  ? __die+0x23/0x70").unwrap();
        assert_eq!(text, " ? __die+0x23/0x70");
        assert_eq!(ts, Some(12.345678));
        let (text, _, _) =
            one("2026-11-26T03:12:01+0000 host kernel: RIP: 0010:f+0x1/0x2").unwrap();
        assert_eq!(text, "RIP: 0010:f+0x1/0x2");
    }

    #[test]
    fn more_journal_and_dmesg_formats() {
        let (text, _, _) =
            one("Thu 2026-11-26 03:12:01 UTC host kernel: Oops: 0002 [#1] SMP").unwrap();
        assert_eq!(text, "Oops: 0002 [#1] SMP");
        let (text, _, _) = one("1732590721.123456 host kernel: Oops: 0002 [#1] SMP").unwrap();
        assert_eq!(text, "Oops: 0002 [#1] SMP");
        let (text, ts, _) = one("kern  :warn  : [   12.345678] Oops: 0002 [#1] SMP").unwrap();
        assert_eq!(text, "Oops: 0002 [#1] SMP");
        assert_eq!(ts, Some(12.345678));
        let (text, ts, _) = one("[Thu Nov 26 03:12:01 2026]  ? __die+0x23/0x70").unwrap();
        assert_eq!(text, " ? __die+0x23/0x70");
        assert_eq!(ts, None);
        let (text, _, _) = one("[Thu Nov 26 03:12] x").unwrap();
        assert_eq!(text, "[Thu Nov 26 03:12] x");
    }

    #[test]
    fn pasted_lines() {
        let (text, ts, _) = one("> > [   12.5] BUG: kernel NULL pointer dereference\r").unwrap();
        assert_eq!(text, "BUG: kernel NULL pointer dereference");
        assert_eq!(ts, Some(12.5));
        assert_eq!(split_lines("a\n\n   \n[ 1.0] \nb\n").len(), 2);
    }

    #[test]
    fn capturing_tools_clock() {
        let (text, ts, _) = one("2018/01/09 14:28:48 BUG: memory leak").unwrap();
        assert_eq!(text, "BUG: memory leak");
        assert_eq!(ts, None);
        let (text, _, _) = one("2018/1/09 14:28:48 x").unwrap();
        assert_eq!(text, "2018/1/09 14:28:48 x");
    }

    #[test]
    fn plain_kernel_line_with_colon_is_not_journal() {
        let (text, _, _) = one("[    1.000000] usb 1-1: new high-speed USB device").unwrap();
        assert_eq!(text, "usb 1-1: new high-speed USB device");
    }

    #[test]
    fn devkmsg_record() {
        let (text, ts, _) =
            one("4,339,5140900,-;WARNING: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2").unwrap();
        assert_eq!(text, "WARNING: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2");
        assert_eq!(ts, Some(5.1409));
    }

    #[test]
    fn pstore_headers_dropped() {
        assert!(one("Panic#1 Part1").is_none());
        assert!(one("Oops#12 Part3").is_none());
        assert!(one("====1732590000.123456-C").is_none());
        assert!(one("Panic#x Part1").is_some());
    }

    #[test]
    fn long_lines_are_capped_on_char_boundary() {
        let long = "é".repeat(MAX_LINE);
        let lines = split_lines(&long);
        assert!(lines[0].text.len() <= MAX_LINE);
    }

    proptest::proptest! {
        /// The shortcut gives the very value the general parser gives, bit for bit, whatever
        /// the digits (long ones, leading zeros, 2^53 and past it).
        #[test]
        fn seconds_equal_the_general_parse(whole in "[0-9]{1,12}", frac in "[0-9]{1,12}") {
            let text = format!("{whole}.{frac}");
            let expected: f64 = text.parse().unwrap();
            proptest::prop_assert_eq!(
                parse_seconds(&text).map(f64::to_bits),
                Some(expected.to_bits())
            );
        }
    }
}
