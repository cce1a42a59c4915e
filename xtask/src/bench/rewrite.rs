//! Turning one real crash's records into another crash's: efi-pstore record ids moved to another
//! time, and the printk timestamps of the log nudged so no line is shared between copies.
//!
//! Both tools must see the copies as separate crashes: systemd-pstore groups efi records by their
//! id, lastgasp by id time and by shared log lines, so both have to change, consistently.

/// Efi-pstore ids are `(unix_time * 100 + part) * 1000 + count`.
const EFI_TIME_FACTOR: u64 = 100_000;

/// The file-name prefixes efi-pstore records have had (`efi` up to Linux 6.1, then `efi_pstore`).
const EFI_PREFIXES: [&str; 2] = ["dmesg-efi-", "dmesg-efi_pstore-"];

/// The unix time an efi-pstore record file name carries, or None when it is not one.
pub fn efi_time(file_name: &str) -> Option<i64> {
    let (_, id) = split_efi(file_name)?;
    i64::try_from(id / EFI_TIME_FACTOR).ok()
}

/// `file_name` with its efi id moved `seconds` earlier (part and count kept), or None when the
/// name is not an efi-pstore record or the time would go below zero.
pub fn efi_name_earlier(file_name: &str, seconds: u64) -> Option<String> {
    let (prefix, id) = split_efi(file_name)?;
    let shifted = id.checked_sub(seconds.checked_mul(EFI_TIME_FACTOR)?)?;
    if shifted / EFI_TIME_FACTOR == 0 {
        return None;
    }
    Some(format!("{prefix}{shifted}"))
}

fn split_efi(file_name: &str) -> Option<(&str, u64)> {
    EFI_PREFIXES.iter().find_map(|prefix| {
        let digits = file_name.strip_prefix(prefix)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some((*prefix, digits.parse().ok()?))
    })
}

/// `text` with the printk timestamp that opens each line (`<6>[   12.345678] ...`, the level
/// prefix optional) moved `micros` later. Everything else stays byte for byte; a timestamp keeps
/// its field width unless the new value needs more digits.
pub fn shift_printk_times(text: &[u8], micros: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 16);
    for line in text.split_inclusive(|&b| b == b'\n') {
        match timestamp_span(line) {
            Some((open, close)) => {
                let (head, rest) = line.split_at(open);
                let (field, tail) = rest.split_at(close - open);
                out.extend_from_slice(head);
                match shifted_field(field, micros) {
                    Some(new) => out.extend_from_slice(new.as_bytes()),
                    None => out.extend_from_slice(field),
                }
                out.extend_from_slice(tail);
            }
            None => out.extend_from_slice(line),
        }
    }
    out
}

/// Byte range of the text between `[` and `]` of a line-opening timestamp.
fn timestamp_span(line: &[u8]) -> Option<(usize, usize)> {
    let mut at = 0;
    if line.first() == Some(&b'<') {
        let end = line.iter().position(|&b| b == b'>')?;
        let level = line.get(1..end)?;
        if level.is_empty() || !level.iter().all(u8::is_ascii_digit) {
            return None;
        }
        at = end + 1;
    }
    if line.get(at) != Some(&b'[') {
        return None;
    }
    let open = at + 1;
    let close = open + line.get(open..)?.iter().position(|&b| b == b']')?;
    Some((open, close))
}

/// `"   12.345678"` plus `micros`, right-aligned to the original width.
fn shifted_field(field: &[u8], micros: u64) -> Option<String> {
    let text = std::str::from_utf8(field).ok()?;
    let (secs, frac) = text.trim_start_matches(' ').split_once('.')?;
    if secs.is_empty() || frac.len() != 6 {
        return None;
    }
    if !secs.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let total = secs
        .parse::<u64>()
        .ok()?
        .checked_mul(1_000_000)?
        .checked_add(frac.parse::<u64>().ok()?)?
        .checked_add(micros)?;
    let value = format!("{}.{:06}", total / 1_000_000, total % 1_000_000);
    Some(format!("{value:>width$}", width = field.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn efi_time_is_the_id_without_part_and_count() {
        assert_eq!(efi_time("dmesg-efi-179566368402001"), Some(1_795_663_684));
        assert_eq!(
            efi_time("dmesg-efi_pstore-170000000001001"),
            Some(1_700_000_000)
        );
        assert_eq!(efi_time("dmesg-ramoops-0"), None);
        assert_eq!(efi_time("dmesg-efi-"), None);
        assert_eq!(efi_time("dmesg-efi-12x"), None);
    }

    #[test]
    fn efi_name_moves_time_and_keeps_part_and_count() {
        let moved = efi_name_earlier("dmesg-efi-179566368414002", 86_400).unwrap();
        assert_eq!(moved, "dmesg-efi-179557728414002");
        assert_eq!(efi_time(&moved), Some(1_795_663_684 - 86_400));
        assert!(moved.ends_with("14002"));
        let kept = efi_name_earlier("dmesg-efi_pstore-170000000001001", 0).unwrap();
        assert_eq!(kept, "dmesg-efi_pstore-170000000001001");
    }

    #[test]
    fn efi_name_refuses_to_go_before_1970() {
        assert_eq!(efi_name_earlier("dmesg-efi-100001001", 1000), None);
        assert_eq!(efi_name_earlier("dmesg-efi-100001001", u64::MAX), None);
        assert_eq!(efi_name_earlier("dmesg-erst-100001001", 1), None);
    }

    #[test]
    fn printk_times_move_and_keep_their_width() {
        let text = b"Oops#1 Part1\n<4>[    3.221983]  vfs_write+0x235/0x3f0\n[    0.999999] x\n";
        let shifted = shift_printk_times(text, 7);
        assert_eq!(
            shifted,
            b"Oops#1 Part1\n<4>[    3.221990]  vfs_write+0x235/0x3f0\n[    1.000006] x\n"
        );
        assert_eq!(shifted.len(), text.len());
    }

    #[test]
    fn printk_time_grows_when_it_must() {
        assert_eq!(shift_printk_times(b"[9.999999] a", 1), b"[10.000000] a");
    }

    #[test]
    fn lines_without_a_timestamp_are_untouched() {
        let text: &[u8] = b"<4>no time\n[not.a time] x\n<x>[ 1.000000] y\n[ 1.00] z\nno newline";
        assert_eq!(shift_printk_times(text, 5), text);
    }

    #[test]
    fn only_the_opening_timestamp_moves() {
        let text = b"<6>[    1.000000] at [    2.000000]\n";
        assert_eq!(
            shift_printk_times(text, 1),
            b"<6>[    1.000001] at [    2.000000]\n"
        );
    }
}
