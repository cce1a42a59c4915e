//! The log as text, byte for byte what `makedumpfile --dump-dmesg` (1.7.2, x86_64 build) writes:
//! `[%5llu.%06lu] ` then the text; an embedded newline is followed by as many spaces as the
//! prefix is long; bytes that C's `isprint`/`isspace` reject are escaped as `\xNN`, and since
//! makedumpfile formats a signed `char`, bytes 0x80..=0xff come out as `\xffffffNN`; data-less
//! records are left out. And what `vmcore-dmesg` (kexec-tools 2.0.25) prints: the same prefix,
//! newlines as they are, `\xNN` for every rejected byte, a data-less record as an empty line.

use super::Record;

pub fn format_makedumpfile(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|r| r.text.len() + 16).sum());
    for record in records.iter().filter(|r| !r.dataless) {
        format_record(record, &mut out);
    }
    out
}

pub fn format_vmcore_dmesg(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|r| r.text.len() + 16).sum());
    for record in records {
        out.extend_from_slice(prefix(record).as_bytes());
        for &byte in &record.text {
            if is_print_or_space(byte) {
                out.push(byte);
            } else {
                out.extend_from_slice(format!("\\x{byte:02x}").as_bytes());
            }
        }
        out.push(b'\n');
    }
    out
}

fn prefix(record: &Record) -> String {
    format!(
        "[{:5}.{:06}] ",
        record.ts_nsec / 1_000_000_000,
        record.ts_nsec % 1_000_000_000 / 1000
    )
}

/// C's `isprint(c) || isspace(c)` in the C locale.
fn is_print_or_space(byte: u8) -> bool {
    matches!(byte, 0x20..=0x7e | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Appends one record's line(s) as makedumpfile writes them.
pub fn format_record(record: &Record, out: &mut Vec<u8>) {
    let prefix = prefix(record);
    out.extend_from_slice(prefix.as_bytes());
    for &byte in &record.text {
        match byte {
            b'\n' => {
                out.push(b'\n');
                out.resize(out.len() + prefix.len(), b' ');
            }
            _ if is_print_or_space(byte) => out.push(byte),
            0x80..=0xff => out.extend_from_slice(format!("\\xffffff{byte:02x}").as_bytes()),
            _ => out.extend_from_slice(format!("\\x{byte:02x}").as_bytes()),
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ts_nsec: u64, text: &[u8]) -> Record {
        Record {
            seq: None,
            ts_nsec,
            text: text.to_vec(),
            caller_id: None,
            dataless: false,
        }
    }

    #[test]
    fn prefix_and_continuation_indent() {
        let out = format_makedumpfile(&[
            record(0, b"Linux version 6.1.0"),
            record(123_456_789_012, b"line one\nline two"),
            record(100_000_000_000_000, b""),
        ]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[    0.000000] Linux version 6.1.0\n\
             [  123.456789] line one\n               line two\n\
             [100000.000000] \n"
        );
    }

    #[test]
    fn vmcore_dmesg_differs_where_documented() {
        let mut empty = record(5_000_000, b"");
        empty.dataless = true;
        let records = [record(1_000, b"a\nb \xc3\x01"), empty];
        assert_eq!(
            format_vmcore_dmesg(&records),
            b"[    0.000001] a\nb \\xc3\\x01\n[    0.005000] \n".to_vec()
        );
        assert_eq!(
            format_makedumpfile(&records),
            b"[    0.000001] a\n               b \\xffffffc3\\x01\n".to_vec()
        );
    }

    #[test]
    fn escapes_like_makedumpfile() {
        let mut out = Vec::new();
        format_record(&record(1_000, b"a\x01\tb\x7f\xc3\xa9"), &mut out);
        assert_eq!(
            out,
            b"[    0.000001] a\\x01\tb\\x7f\\xffffffc3\\xffffffa9\n".to_vec()
        );
    }
}
