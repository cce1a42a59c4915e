//! The log as text, byte for byte what `makedumpfile --dump-dmesg` (1.7.2, x86_64 build) writes:
//! `[%5llu.%06lu] ` then the text; an embedded newline is followed by as many spaces as the
//! prefix is long; bytes that C's `isprint`/`isspace` reject are escaped as `\xNN`, and since
//! makedumpfile formats a signed `char`, bytes 0x80..=0xff come out as `\xffffffNN`.

use super::Record;

pub fn format_makedumpfile(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|r| r.text.len() + 16).sum());
    for record in records {
        format_record(record, &mut out);
    }
    out
}

/// Appends one record's line(s).
pub fn format_record(record: &Record, out: &mut Vec<u8>) {
    let prefix = format!(
        "[{:5}.{:06}] ",
        record.ts_nsec / 1_000_000_000,
        record.ts_nsec % 1_000_000_000 / 1000
    );
    out.extend_from_slice(prefix.as_bytes());
    for &byte in &record.text {
        match byte {
            b'\n' => {
                out.push(b'\n');
                out.resize(out.len() + prefix.len(), b' ');
            }
            0x20..=0x7e | b'\t' | 0x0b | 0x0c | b'\r' => out.push(byte),
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
    fn escapes_like_makedumpfile() {
        let mut out = Vec::new();
        format_record(&record(1_000, b"a\x01\tb\x7f\xc3\xa9"), &mut out);
        assert_eq!(
            out,
            b"[    0.000001] a\\x01\tb\\x7f\\xffffffc3\\xffffffa9\n".to_vec()
        );
    }
}
