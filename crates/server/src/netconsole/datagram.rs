//! The netconsole datagram parser: untrusted bytes from the network in, log records out.
//!
//! Two formats arrive (the kernel's Documentation/networking/netconsole.rst):
//! - plain: console text as printed, lines possibly split across datagrams;
//! - extended (`netconsole=+...`): one record per datagram,
//!   `[release,]level,seq,ts_usec,flags[,ncfrag=off/len];text` with the text's control bytes
//!   escaped as `\xNN` and optional `\n KEY=VALUE` dictionary lines; a record too long for one
//!   datagram comes in fragments, each carrying `ncfrag=<offset>/<total>` of the body.
//!
//! Pure and bounded: nothing here allocates more than a datagram's size, or `MAX_RECORD`
//! for a record being reassembled.

/// Longest extended record body accepted (the kernel's CONSOLE_EXT_LOG_MAX is 8 KiB).
pub const MAX_RECORD: usize = 8192;

/// One extended record's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The syslog priority as sent (facility << 3 | level).
    pub priority: u32,
    pub seq: u64,
    pub ts_usec: u64,
    /// `c` for a continuation record, `-` otherwise.
    pub flags: char,
    /// The kernel release, when the sender was configured with `r` (`netconsole=+r...`).
    pub release: Option<String>,
}

/// `ncfrag=off/len`: where this datagram's bytes go in the record body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    pub offset: usize,
    pub total: usize,
}

/// What one datagram is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datagram<'a> {
    /// Console text, as printed.
    Plain(&'a [u8]),
    /// A whole extended record (body still escaped, dictionary included).
    Record { header: Header, body: &'a [u8] },
    /// A piece of an extended record.
    Piece {
        header: Header,
        fragment: Fragment,
        body: &'a [u8],
    },
}

/// Why a datagram that looked extended was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    #[error("extended header {0:?} is malformed")]
    Header(String),
    #[error("fragment {offset}/{total} with {len} bytes lies outside its record")]
    Fragment {
        offset: usize,
        total: usize,
        len: usize,
    },
    #[error("record of {0} bytes is longer than {MAX_RECORD}")]
    TooLong(usize),
}

/// Reads one datagram. Extended records are recognised by their header (digits and commas
/// before the first `;`, in the kernel's field order); anything else is plain text.
pub fn parse(data: &[u8]) -> Result<Datagram<'_>, DatagramError> {
    let Some(semi) = data.iter().take(256).position(|&b| b == b';') else {
        return Ok(Datagram::Plain(data));
    };
    let head = &data[..semi];
    let body = &data[semi + 1..];
    let Some(fields) = header_fields(head) else {
        return Ok(Datagram::Plain(data));
    };
    let (header, fragment) = read_header(&fields)
        .ok_or_else(|| DatagramError::Header(String::from_utf8_lossy(head).into_owned()))?;
    match fragment {
        None if body.len() > MAX_RECORD => Err(DatagramError::TooLong(body.len())),
        None => Ok(Datagram::Record { header, body }),
        Some(fragment) => {
            let fits = fragment.total <= MAX_RECORD
                && fragment
                    .offset
                    .checked_add(body.len())
                    .is_some_and(|end| end <= fragment.total)
                && !body.is_empty();
            if !fits {
                return Err(DatagramError::Fragment {
                    offset: fragment.offset,
                    total: fragment.total,
                    len: body.len(),
                });
            }
            Ok(Datagram::Piece {
                header,
                fragment,
                body,
            })
        }
    }
}

/// The header's comma-separated fields when it has the shape of an extended header: at least
/// four fields, the last four before any `ncfrag=` made of digits, digits, digits and a flag.
/// Plain text with a `;` early on fails this and stays plain.
fn header_fields(head: &[u8]) -> Option<Vec<&str>> {
    let text = std::str::from_utf8(head).ok()?;
    let fields: Vec<&str> = text.split(',').collect();
    let core = match fields.last() {
        Some(last) if last.starts_with("ncfrag=") => &fields[..fields.len() - 1],
        _ => &fields[..],
    };
    if core.len() < 4 || core.len() > 5 {
        return None;
    }
    let tail = &core[core.len() - 4..];
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    (digits(tail[0]) && digits(tail[1]) && digits(tail[2]) && tail[3].len() == 1).then_some(fields)
}

fn read_header(fields: &[&str]) -> Option<(Header, Option<Fragment>)> {
    let (core, fragment) = match fields.split_last() {
        Some((last, rest)) if last.starts_with("ncfrag=") => (rest, Some(read_fragment(last)?)),
        _ => (fields, None),
    };
    let (release, core) = match core {
        [release, rest @ ..] if rest.len() == 4 => {
            let ok = !release.is_empty()
                && release.len() <= 64
                && release
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b';' && b != b',');
            (Some(ok.then(|| (*release).to_owned())?), rest)
        }
        rest => (None, rest),
    };
    let [priority, seq, ts, flags] = core else {
        return None;
    };
    let flags = flags.chars().next()?;
    if flags != '-' && flags != 'c' {
        return None;
    }
    Some((
        Header {
            priority: priority.parse().ok()?,
            seq: seq.parse().ok()?,
            ts_usec: ts.parse().ok()?,
            flags,
            release,
        },
        fragment,
    ))
}

fn read_fragment(field: &str) -> Option<Fragment> {
    let (offset, total) = field.strip_prefix("ncfrag=")?.split_once('/')?;
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<usize>().ok())
            .flatten()
    };
    Some(Fragment {
        offset: number(offset)?,
        total: number(total)?,
    })
}

/// The message text of an extended record body: the first line with its `\xNN` escapes undone
/// (the dictionary lines after it are dropped), split into the lines the console would print.
pub fn record_text(body: &[u8]) -> Vec<String> {
    let first = body.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut text = Vec::with_capacity(first.len());
    let mut i = 0;
    while i < first.len() {
        if first[i] == b'\\'
            && first.get(i + 1) == Some(&b'x')
            && let Some(byte) = first
                .get(i + 2..i + 4)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            text.push(byte);
            i += 4;
            continue;
        }
        text.push(first[i]);
        i += 1;
    }
    String::from_utf8_lossy(&text)
        .split('\n')
        .map(|line| line.trim_end_matches('\r').to_owned())
        .collect()
}

/// A record's lines as the kernel's console prints them with printk.time: `<level>[ s.us] text`,
/// the form the kmsg analysis reads for pstore logs.
pub fn render(header: &Header, body: &[u8]) -> Vec<String> {
    let level = header.priority & 7;
    let secs = header.ts_usec / 1_000_000;
    let usecs = header.ts_usec % 1_000_000;
    record_text(body)
        .into_iter()
        .map(|line| format!("<{level}>[{secs:5}.{usecs:06}] {line}"))
        .collect()
}

/// Record bodies being put back together from their fragments, for one sender. At most
/// `MAX_PENDING` records wait at once; the oldest is dropped for a new one.
#[derive(Debug, Default)]
pub struct Reassembly {
    pending: Vec<Pending>,
    /// Records given up on (a conflicting or evicted fragment set).
    pub dropped: u64,
}

#[derive(Debug)]
struct Pending {
    header: Header,
    total: usize,
    body: Vec<u8>,
    /// Sorted, non-overlapping byte ranges received.
    have: Vec<(usize, usize)>,
}

/// Records waiting for fragments, per sender.
pub const MAX_PENDING: usize = 16;

impl Reassembly {
    /// Adds a fragment; returns the whole record once its last missing piece arrived.
    /// A fragment that disagrees with the ones before it (another total, overlapping bytes
    /// that differ) drops the record.
    pub fn add(
        &mut self,
        header: &Header,
        fragment: Fragment,
        bytes: &[u8],
    ) -> Option<(Header, Vec<u8>)> {
        let end = fragment.offset.checked_add(bytes.len())?;
        if end > fragment.total || fragment.total > MAX_RECORD || bytes.is_empty() {
            self.dropped += 1;
            return None;
        }
        let index = match self.pending.iter().position(|p| p.header.seq == header.seq) {
            Some(i) => i,
            None => {
                if self.pending.len() >= MAX_PENDING {
                    self.pending.remove(0);
                    self.dropped += 1;
                }
                self.pending.push(Pending {
                    header: header.clone(),
                    total: fragment.total,
                    body: vec![0; fragment.total],
                    have: Vec::new(),
                });
                self.pending.len() - 1
            }
        };
        let pending = &mut self.pending[index];
        let agrees = pending.total == fragment.total
            && pending.header == *header
            && pending
                .have
                .iter()
                .filter(|(s, e)| *s < end && fragment.offset < *e)
                .all(|&(s, e)| {
                    let from = s.max(fragment.offset);
                    let to = e.min(end);
                    pending.body[from..to] == bytes[from - fragment.offset..to - fragment.offset]
                });
        if !agrees {
            self.pending.remove(index);
            self.dropped += 1;
            return None;
        }
        pending.body[fragment.offset..end].copy_from_slice(bytes);
        pending.have.push((fragment.offset, end));
        pending.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(pending.have.len());
        for &(s, e) in &pending.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        pending.have = merged;
        if pending.have == [(0, pending.total)] {
            let done = self.pending.remove(index);
            return Some((done.header, done.body));
        }
        None
    }

    /// Records still waiting for fragments.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(seq: u64) -> Header {
        Header {
            priority: 4,
            seq,
            ts_usec: 27_100_042,
            flags: '-',
            release: None,
        }
    }

    #[test]
    fn plain_text_stays_plain() {
        for text in [
            &b"[   27.100000] BUG: kernel NULL pointer dereference\n"[..],
            b"a;b;c\n",
            b"1,2,3;not four fields\n",
            b"",
        ] {
            assert_eq!(parse(text), Ok(Datagram::Plain(text)));
        }
    }

    #[test]
    fn extended_records_are_read_and_rendered() {
        let data = b"4,1042,27100042,-;Oops: 0002 [#1] PREEMPT SMP\\x09x\n SUBSYSTEM=cpu\n";
        let Ok(Datagram::Record { header: h, body }) = parse(data) else {
            panic!("not a record: {:?}", parse(data));
        };
        assert_eq!(h, header(1042));
        assert_eq!(
            render(&h, body),
            ["<4>[   27.100042] Oops: 0002 [#1] PREEMPT SMP\tx"]
        );
        let escaped_newline = b"6,1,5,-;one\\x0atwo\n";
        let Ok(Datagram::Record { header: h, body }) = parse(escaped_newline) else {
            panic!("not a record");
        };
        assert_eq!(
            render(&h, body),
            ["<6>[    0.000005] one", "<6>[    0.000005] two"]
        );
    }

    #[test]
    fn release_prefix_and_fragments_are_read() {
        let data = b"6.1.0-28-amd64,4,7,100,c,ncfrag=10/30;0123456789";
        let Ok(Datagram::Piece {
            header: h,
            fragment,
            body,
        }) = parse(data)
        else {
            panic!("not a piece: {:?}", parse(data));
        };
        assert_eq!(h.release.as_deref(), Some("6.1.0-28-amd64"));
        assert_eq!((h.seq, h.flags), (7, 'c'));
        assert_eq!(
            fragment,
            Fragment {
                offset: 10,
                total: 30
            }
        );
        assert_eq!(body, b"0123456789");
    }

    #[test]
    fn bad_extended_headers_are_refused() {
        assert!(matches!(
            parse(b"4,1,2,x;text"),
            Err(DatagramError::Header(_))
        ));
        assert!(matches!(
            parse(b"4,1,2,-,ncfrag=25/30;0123456789"),
            Err(DatagramError::Fragment { .. })
        ));
        assert!(matches!(
            parse(b"4,1,2,-,ncfrag=0/99999;x"),
            Err(DatagramError::Fragment { .. })
        ));
        assert!(matches!(
            parse(b"4,1,2,-,ncfrag=1/;x"),
            Err(DatagramError::Header(_))
        ));
    }

    #[test]
    fn fragments_reassemble_out_of_order_and_conflicts_drop() {
        let body = b"BUG: unable to handle page fault\n DEVICE=x\n";
        let total = body.len();
        let mut r = Reassembly::default();
        let frag = |offset| Fragment { offset, total };
        assert_eq!(r.add(&header(9), frag(20), &body[20..]), None);
        assert_eq!(r.add(&header(9), frag(0), &body[..12]), None);
        let (h, whole) = r.add(&header(9), frag(10), &body[10..25]).unwrap();
        assert_eq!((h.seq, whole.as_slice()), (9, &body[..]));
        assert_eq!(r.waiting(), 0);
        // Overlapping bytes that differ: the record is given up.
        assert_eq!(r.add(&header(10), frag(0), &body[..12]), None);
        assert_eq!(r.add(&header(10), frag(5), b"XXXXX"), None);
        assert_eq!((r.waiting(), r.dropped), (0, 1));
        // Too many records at once: the oldest goes.
        for seq in 0..=MAX_PENDING as u64 {
            assert_eq!(r.add(&header(100 + seq), frag(0), &body[..3]), None);
        }
        assert_eq!((r.waiting(), r.dropped), (MAX_PENDING, 2));
    }
}
