//! ELF notes: iteration over a note segment (name, type, descriptor), as found in a vmcore's
//! PT_NOTE and in the notes a kdump-compressed file copies from it.

use crate::bytes::{align4, u32_at};

/// `NT_PRSTATUS`: one per CPU that saved its registers at the crash.
pub const NT_PRSTATUS: u32 = 1;
/// The VMCOREINFO note's name; its type is 0.
pub const VMCOREINFO_NOTE_NAME: &[u8] = b"VMCOREINFO";

/// One note. `name` is without its terminating NUL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note<'a> {
    pub name: &'a [u8],
    pub kind: u32,
    pub desc: &'a [u8],
}

impl Note<'_> {
    pub fn is_vmcoreinfo(&self) -> bool {
        self.name == VMCOREINFO_NOTE_NAME
    }

    pub fn is_prstatus(&self) -> bool {
        self.kind == NT_PRSTATUS && self.name == b"CORE"
    }
}

/// Iterates the notes of one segment. Stops at the end, at an all-zero header (the kernel's
/// terminator and the padding after it) or at the first note that does not fit; `truncated`
/// then says the segment held more bytes than whole notes.
#[derive(Debug, Clone)]
pub struct Notes<'a> {
    rest: &'a [u8],
    pub truncated: bool,
}

impl<'a> Notes<'a> {
    pub fn new(segment: &'a [u8]) -> Self {
        Notes {
            rest: segment,
            truncated: false,
        }
    }
}

impl<'a> Iterator for Notes<'a> {
    type Item = Note<'a>;

    fn next(&mut self) -> Option<Note<'a>> {
        if self.rest.len() < 12 {
            self.truncated |= self.rest.iter().any(|&b| b != 0);
            self.rest = &[];
            return None;
        }
        let namesz = u32_at(self.rest, 0)? as usize;
        let descsz = u32_at(self.rest, 4)? as usize;
        let kind = u32_at(self.rest, 8)?;
        if namesz == 0 && descsz == 0 && kind == 0 {
            self.rest = &[];
            return None;
        }
        let parsed = (|| {
            let name_end = 12usize.checked_add(namesz)?;
            let desc_start = align4(name_end)?;
            let desc_end = desc_start.checked_add(descsz)?;
            let next = align4(desc_end)?.min(self.rest.len());
            let name = self.rest.get(12..name_end)?;
            let desc = self.rest.get(desc_start..desc_end)?;
            Some((name, desc, next))
        })();
        let Some((name, desc, next)) = parsed else {
            self.truncated = true;
            self.rest = &[];
            return None;
        };
        let name = name.strip_suffix(b"\0").unwrap_or(name);
        self.rest = self.rest.get(next..).unwrap_or(&[]);
        Some(Note { name, kind, desc })
    }
}
