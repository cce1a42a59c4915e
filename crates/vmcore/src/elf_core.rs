//! An ELF vmcore's layout read through `ReadAt`: the header, the PT_LOAD segments and the note
//! bytes; memory itself stays in the file until someone reads it.

use crate::elf::{
    ELF_HEADER_SIZE, ElfHeader, LoadSegment, Machine, PN_XNUM, PT_LOAD, PT_NOTE, ProgramHeader,
    SECTION_HEADER_SIZE,
};
use crate::note::{Note, Notes};
use crate::read_at::ReadAt;
use crate::vmcoreinfo::VmcoreInfo;
use crate::{Error, Result};

/// Note segments larger than this are not notes a crash dump writes (per-CPU registers and
/// one page of VMCOREINFO); refusing them bounds the allocation.
const MAX_NOTES_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone)]
pub struct ElfCore {
    pub machine: Machine,
    /// `e_flags`; makedumpfile sets bit 0 in an incomplete dump.
    pub flags: u32,
    /// In file order.
    pub loads: Vec<LoadSegment>,
    /// The contents of each PT_NOTE segment.
    pub note_segments: Vec<Vec<u8>>,
    pub file_size: u64,
    /// Some PT_LOAD data lies past the end of the file (an interrupted copy): what is there
    /// can still be read, the rest reads as "not in the dump".
    pub truncated: bool,
}

impl ElfCore {
    /// Reads the headers and notes of an ELF core; PT_LOAD contents are left in place.
    pub fn read(source: &(impl ReadAt + ?Sized)) -> Result<Self> {
        let file_size = source.size().map_err(|source| Error::Io {
            what: "the file size",
            offset: 0,
            source,
        })?;
        let header_bytes = read_vec(source, 0, ELF_HEADER_SIZE as u64, file_size, "ELF header")?;
        let header = ElfHeader::parse(&header_bytes)?;
        let section0 = if header.phnum == PN_XNUM {
            Some(read_vec(
                source,
                header.shoff,
                SECTION_HEADER_SIZE as u64,
                file_size,
                "ELF section header 0",
            )?)
        } else {
            None
        };
        let count = header.program_header_count(section0.as_deref())?;
        let table_len = header.program_headers_len(count)?;
        let table = read_vec(
            source,
            header.phoff,
            table_len,
            file_size,
            "ELF program headers",
        )?;
        let headers = ProgramHeader::parse_table(&table, usize::from(header.phentsize))?;

        let mut loads = Vec::new();
        let mut note_segments = Vec::new();
        let mut notes_total = 0u64;
        let mut truncated = false;
        for (index, ph) in headers.iter().enumerate() {
            match ph.kind {
                PT_LOAD => {
                    let load = LoadSegment::from_header(ph, index)?;
                    truncated |= load.offset.saturating_add(load.filesz) > file_size;
                    loads.push(load);
                }
                PT_NOTE => {
                    notes_total = notes_total.saturating_add(ph.filesz);
                    if notes_total > MAX_NOTES_BYTES {
                        return Err(Error::malformed(format!(
                            "ELF note segments total more than {MAX_NOTES_BYTES} bytes"
                        )));
                    }
                    note_segments.push(read_vec(
                        source,
                        ph.offset,
                        ph.filesz,
                        file_size,
                        "ELF note segment",
                    )?);
                }
                _ => {}
            }
        }
        Ok(ElfCore {
            machine: header.machine,
            flags: header.flags,
            loads,
            note_segments,
            file_size,
            truncated,
        })
    }

    /// Every note of every PT_NOTE segment.
    pub fn notes(&self) -> impl Iterator<Item = Note<'_>> {
        self.note_segments.iter().flat_map(|s| Notes::new(s))
    }

    /// The VMCOREINFO note, when the kernel (or QEMU's `-device vmcoreinfo`) provided one.
    pub fn vmcoreinfo(&self) -> Option<VmcoreInfo> {
        self.notes()
            .find(|n| n.is_vmcoreinfo())
            .map(|n| VmcoreInfo::parse(n.desc))
    }

    /// The number of NT_PRSTATUS notes: the CPUs whose registers were saved.
    pub fn cpu_count(&self) -> usize {
        self.notes().filter(|n| n.is_prstatus()).count()
    }
}

/// Reads `len` bytes at `offset`, checking the file is long enough first so a corrupt length
/// never turns into a huge allocation.
pub(crate) fn read_vec(
    source: &(impl ReadAt + ?Sized),
    offset: u64,
    len: u64,
    file_size: u64,
    what: &'static str,
) -> Result<Vec<u8>> {
    let end = offset.checked_add(len).ok_or_else(|| {
        Error::malformed(format!("{what}: offset {offset:#x} + {len:#x} overflows"))
    })?;
    if end > file_size {
        return Err(Error::Truncated {
            what,
            needed: end,
            available: file_size,
        });
    }
    let len = usize::try_from(len).map_err(|_| Error::malformed(format!("{what} is too large")))?;
    let mut buf = vec![0; len];
    source
        .read_exact_at(&mut buf, offset)
        .map_err(|source| Error::Io {
            what,
            offset,
            source,
        })?;
    Ok(buf)
}
