//! The ELF notes copied into a dump (a vmcore's PT_NOTE bytes): walking them to find the
//! VMCOREINFO text and to count the CPUs' NT_PRSTATUS notes. Never panics on bad bytes: a
//! note that does not fit ends the walk.

use std::ops::Range;

pub const NT_PRSTATUS: u32 = 1;

/// One ELF note; `desc` is the range of its descriptor in the note bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note<'a> {
    pub name: &'a [u8],
    pub kind: u32,
    pub desc: Range<usize>,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn pad4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

/// Iterates the notes of a little-endian note segment.
pub fn notes(bytes: &[u8]) -> impl Iterator<Item = Note<'_>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let namesz = usize::try_from(u32_at(bytes, at)?).ok()?;
        let descsz = usize::try_from(u32_at(bytes, at + 4)?).ok()?;
        let kind = u32_at(bytes, at + 8)?;
        if namesz == 0 && descsz == 0 && kind == 0 {
            // The zero padding after the last note.
            return None;
        }
        let name_at = at.checked_add(12)?;
        let desc_at = name_at.checked_add(pad4(namesz)?)?;
        let end = desc_at.checked_add(pad4(descsz)?)?;
        let raw_name = bytes.get(name_at..name_at.checked_add(namesz)?)?;
        bytes.get(desc_at..desc_at.checked_add(descsz)?)?;
        at = end;
        let name = raw_name.strip_suffix(&[0]).unwrap_or(raw_name);
        Some(Note {
            name,
            kind,
            desc: desc_at..desc_at + descsz,
        })
    })
}

/// Where the VMCOREINFO text lies in the note bytes (without trailing NULs).
pub fn find_vmcoreinfo(bytes: &[u8]) -> Option<Range<usize>> {
    let note = notes(bytes).find(|n| n.name == b"VMCOREINFO")?;
    let text = bytes.get(note.desc.clone())?;
    let len = text.iter().position(|&c| c == 0).unwrap_or(text.len());
    Some(note.desc.start..note.desc.start + len)
}

/// The number of CPUs that left registers: the count of `CORE` NT_PRSTATUS notes.
pub fn count_prstatus(bytes: &[u8]) -> u32 {
    let n = notes(bytes)
        .filter(|n| n.kind == NT_PRSTATUS && n.name == b"CORE")
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Builds one note, for tests and for callers that make notes of their own.
pub fn encode_note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
    let namesz = name.len() + 1;
    let mut out = Vec::new();
    out.extend_from_slice(&(namesz as u32).to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(name);
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(desc);
    out.resize(out.len().next_multiple_of(4), 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_vmcoreinfo_after_prstatus_notes() {
        let mut seg = encode_note(b"CORE", NT_PRSTATUS, &[1; 336]);
        seg.extend(encode_note(b"CORE", NT_PRSTATUS, &[2; 336]));
        seg.extend(encode_note(
            b"VMCOREINFO",
            0,
            b"OSRELEASE=6.1.0\nPAGESIZE=4096\n\0\0",
        ));
        seg.extend([0u8; 12]);
        assert_eq!(count_prstatus(&seg), 2);
        let r = find_vmcoreinfo(&seg).unwrap();
        assert_eq!(&seg[r], b"OSRELEASE=6.1.0\nPAGESIZE=4096\n");
    }

    #[test]
    fn a_note_running_past_the_end_stops_the_walk() {
        let mut seg = encode_note(b"CORE", NT_PRSTATUS, &[1; 16]);
        seg.extend(&[5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        assert_eq!(notes(&seg).count(), 1);
        assert_eq!(find_vmcoreinfo(&seg), None);
    }
}
