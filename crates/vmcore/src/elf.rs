//! ELF64 core file headers: the file header and program headers of a vmcore (/proc/vmcore, its
//! copies, `makedumpfile -E` and QEMU `dump-guest-memory` output). Pure parsing of byte slices.

use crate::bytes::{u16_at, u32_at, u64_at};
use crate::{Error, Result};

pub const ELF_HEADER_SIZE: usize = 64;
pub const PROGRAM_HEADER_SIZE: usize = 56;
pub const SECTION_HEADER_SIZE: usize = 64;
pub const PT_LOAD: u32 = 1;
pub const PT_NOTE: u32 = 4;
pub const ET_CORE: u16 = 4;
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;
/// `e_phnum` value saying the real count is in section header 0's `sh_info`.
pub const PN_XNUM: u16 = 0xffff;
/// More program headers than any machine has memory ranges: a corrupt count.
const MAX_PROGRAM_HEADERS: u32 = 1 << 20;

/// The architecture of the crashed kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Machine {
    X86_64,
    Aarch64,
}

impl Machine {
    pub fn from_e_machine(value: u16) -> Option<Self> {
        match value {
            EM_X86_64 => Some(Machine::X86_64),
            EM_AARCH64 => Some(Machine::Aarch64),
            _ => None,
        }
    }

    /// The name `uname -m` gives, also the kdump-compressed header's `utsname.machine`.
    pub fn name(self) -> &'static str {
        match self {
            Machine::X86_64 => "x86_64",
            Machine::Aarch64 => "aarch64",
        }
    }
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the ELF file header says about the program headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfHeader {
    pub machine: Machine,
    pub flags: u32,
    pub phoff: u64,
    pub phentsize: u16,
    /// `PN_XNUM` when the count lives in section header 0.
    pub phnum: u16,
    pub shoff: u64,
}

impl ElfHeader {
    /// Parses the 64-byte file header of a little-endian ELF64 core file.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < ELF_HEADER_SIZE {
            return Err(Error::malformed(format!(
                "ELF header needs {ELF_HEADER_SIZE} bytes, got {}",
                bytes.len()
            )));
        }
        if !bytes.starts_with(b"\x7fELF") {
            return Err(Error::malformed("no ELF magic"));
        }
        let ident = |i: usize| bytes.get(i).copied().unwrap_or(0);
        if ident(4) != 2 {
            return Err(Error::Unsupported(format!(
                "ELF class {} is not ELF64",
                ident(4)
            )));
        }
        if ident(5) != 1 {
            return Err(Error::Unsupported(format!(
                "ELF data encoding {} is not little-endian",
                ident(5)
            )));
        }
        let field16 = |o| u16_at(bytes, o).unwrap_or(0);
        let e_type = field16(16);
        if e_type != ET_CORE {
            return Err(Error::malformed(format!(
                "ELF type {e_type} is not a core dump (ET_CORE = {ET_CORE})"
            )));
        }
        let e_machine = field16(18);
        let machine = Machine::from_e_machine(e_machine).ok_or_else(|| {
            Error::Unsupported(format!(
                "ELF machine {e_machine} is neither x86_64 ({EM_X86_64}) nor aarch64 ({EM_AARCH64})"
            ))
        })?;
        let phentsize = field16(54);
        let phnum = field16(56);
        if phnum != 0 && usize::from(phentsize) < PROGRAM_HEADER_SIZE {
            return Err(Error::malformed(format!(
                "ELF program header size {phentsize} is below {PROGRAM_HEADER_SIZE}"
            )));
        }
        Ok(ElfHeader {
            machine,
            flags: u32_at(bytes, 48).unwrap_or(0),
            phoff: u64_at(bytes, 32).unwrap_or(0),
            phentsize,
            phnum,
            shoff: u64_at(bytes, 40).unwrap_or(0),
        })
    }

    /// The number of program headers, given section header 0 when `phnum` is `PN_XNUM`.
    pub fn program_header_count(&self, section0: Option<&[u8]>) -> Result<u32> {
        let count = if self.phnum == PN_XNUM {
            let section0 = section0.ok_or_else(|| {
                Error::malformed("ELF program header count is in section header 0, which is absent")
            })?;
            u32_at(section0, 44).ok_or_else(|| Error::malformed("ELF section header 0 is short"))?
        } else {
            u32::from(self.phnum)
        };
        if count > MAX_PROGRAM_HEADERS {
            return Err(Error::malformed(format!(
                "ELF claims {count} program headers"
            )));
        }
        Ok(count)
    }

    /// Byte length of the program header table.
    pub fn program_headers_len(&self, count: u32) -> Result<u64> {
        u64::from(self.phentsize)
            .checked_mul(u64::from(count))
            .ok_or_else(|| Error::malformed("ELF program header table size overflows"))
    }
}

/// One program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramHeader {
    pub kind: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub paddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

impl ProgramHeader {
    /// Parses the program header table (`entry_size` bytes apart).
    pub fn parse_table(table: &[u8], entry_size: usize) -> Result<Vec<Self>> {
        if entry_size < PROGRAM_HEADER_SIZE {
            return Err(Error::malformed(format!(
                "ELF program header size {entry_size} is below {PROGRAM_HEADER_SIZE}"
            )));
        }
        table
            .chunks(entry_size)
            .enumerate()
            .map(|(i, entry)| {
                ProgramHeader::parse(entry)
                    .ok_or_else(|| Error::malformed(format!("ELF program header {i} is truncated")))
            })
            .collect()
    }

    fn parse(entry: &[u8]) -> Option<Self> {
        Some(ProgramHeader {
            kind: u32_at(entry, 0)?,
            offset: u64_at(entry, 8)?,
            vaddr: u64_at(entry, 16)?,
            paddr: u64_at(entry, 24)?,
            filesz: u64_at(entry, 32)?,
            memsz: u64_at(entry, 40)?,
        })
    }
}

/// A PT_LOAD segment: physical memory `[paddr, paddr + memsz)`, of which the first `filesz`
/// bytes are stored at `offset`; the rest reads as zeros, as ELF defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    pub paddr: u64,
    /// 0 in QEMU's output for memory the guest did not map.
    pub vaddr: u64,
    pub offset: u64,
    pub filesz: u64,
    pub memsz: u64,
}

impl LoadSegment {
    /// Checks the segment's arithmetic so later reads need no overflow checks.
    pub fn from_header(header: &ProgramHeader, index: usize) -> Result<Self> {
        let bad = |what: &str| Error::malformed(format!("ELF PT_LOAD {index}: {what}"));
        if header.filesz > header.memsz {
            return Err(bad("file size exceeds memory size"));
        }
        header
            .paddr
            .checked_add(header.memsz)
            .ok_or_else(|| bad("physical range overflows"))?;
        header
            .offset
            .checked_add(header.filesz)
            .ok_or_else(|| bad("file range overflows"))?;
        Ok(LoadSegment {
            paddr: header.paddr,
            vaddr: header.vaddr,
            offset: header.offset,
            filesz: header.filesz,
            memsz: header.memsz,
        })
    }

    pub fn paddr_end(&self) -> u64 {
        self.paddr.saturating_add(self.memsz)
    }
}
