//! A builder of small synthetic ELF cores, for tests and fuzz targets: it writes exactly the
//! layout /proc/vmcore has (one note segment, then PT_LOAD data) with whatever notes and memory
//! the caller puts in, including deliberately wrong ones.

use crate::elf::{EM_AARCH64, EM_X86_64, ET_CORE, Machine, PT_LOAD, PT_NOTE};
use crate::note::{NT_PRSTATUS, VMCOREINFO_NOTE_NAME};

/// Size of `struct elf_prstatus` on x86_64 and aarch64 (the contents do not matter here).
const PRSTATUS_SIZE: usize = 336;
const DATA_ALIGN: usize = 4096;

#[derive(Debug, Clone)]
pub struct ElfCoreBuilder {
    e_machine: u16,
    notes: Vec<(Vec<u8>, u32, Vec<u8>)>,
    loads: Vec<SyntheticLoad>,
}

#[derive(Debug, Clone)]
struct SyntheticLoad {
    paddr: u64,
    vaddr: u64,
    data: Vec<u8>,
    memsz: u64,
}

impl ElfCoreBuilder {
    pub fn new(machine: Machine) -> Self {
        Self::with_e_machine(match machine {
            Machine::X86_64 => EM_X86_64,
            Machine::Aarch64 => EM_AARCH64,
        })
    }

    /// Any `e_machine`, to test refusal of the unsupported.
    pub fn with_e_machine(e_machine: u16) -> Self {
        ElfCoreBuilder {
            e_machine,
            notes: Vec::new(),
            loads: Vec::new(),
        }
    }

    /// Adds a note; `name` without its NUL.
    pub fn note(mut self, name: &[u8], kind: u32, desc: &[u8]) -> Self {
        self.notes.push((name.to_vec(), kind, desc.to_vec()));
        self
    }

    /// Adds `cpus` NT_PRSTATUS notes, as the kernel does for each CPU.
    pub fn prstatus(mut self, cpus: usize) -> Self {
        for _ in 0..cpus {
            self = self.note(b"CORE", NT_PRSTATUS, &[0; PRSTATUS_SIZE]);
        }
        self
    }

    pub fn vmcoreinfo(self, text: &str) -> Self {
        self.note(VMCOREINFO_NOTE_NAME, 0, text.as_bytes())
    }

    /// Adds physical memory at `paddr` holding `data`.
    pub fn load(self, paddr: u64, vaddr: u64, data: Vec<u8>) -> Self {
        let memsz = data.len() as u64;
        self.load_with_memsz(paddr, vaddr, data, memsz)
    }

    /// Adds physical memory whose last `memsz - data.len()` bytes are implicit zeros.
    pub fn load_with_memsz(mut self, paddr: u64, vaddr: u64, data: Vec<u8>, memsz: u64) -> Self {
        self.loads.push(SyntheticLoad {
            paddr,
            vaddr,
            data,
            memsz,
        });
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let mut notes = Vec::new();
        for (name, kind, desc) in &self.notes {
            let namesz = name.len() + 1;
            put_u32(&mut notes, namesz as u32);
            put_u32(&mut notes, desc.len() as u32);
            put_u32(&mut notes, *kind);
            notes.extend_from_slice(name);
            notes.push(0);
            pad4(&mut notes);
            notes.extend_from_slice(desc);
            pad4(&mut notes);
        }
        let phnum = 1 + self.loads.len();
        let notes_offset = 64 + 56 * phnum;
        let mut data_offset = align(notes_offset + notes.len(), DATA_ALIGN);

        let mut out = Vec::new();
        out.extend_from_slice(b"\x7fELF\x02\x01\x01");
        out.resize(16, 0);
        put_u16(&mut out, ET_CORE);
        put_u16(&mut out, self.e_machine);
        put_u32(&mut out, 1);
        put_u64(&mut out, 0);
        put_u64(&mut out, 64);
        put_u64(&mut out, 0);
        put_u32(&mut out, 0);
        put_u16(&mut out, 64);
        put_u16(&mut out, 56);
        put_u16(&mut out, phnum as u16);
        put_u16(&mut out, 0);
        put_u16(&mut out, 0);
        put_u16(&mut out, 0);

        put_phdr(
            &mut out,
            PT_NOTE,
            notes_offset as u64,
            0,
            0,
            notes.len() as u64,
            0,
        );
        let mut offsets = Vec::new();
        for load in &self.loads {
            offsets.push(data_offset);
            put_phdr(
                &mut out,
                PT_LOAD,
                data_offset as u64,
                load.vaddr,
                load.paddr,
                load.data.len() as u64,
                load.memsz,
            );
            data_offset = align(data_offset + load.data.len(), DATA_ALIGN);
        }
        out.extend_from_slice(&notes);
        for (load, offset) in self.loads.iter().zip(offsets) {
            out.resize(offset, 0);
            out.extend_from_slice(&load.data);
        }
        out
    }
}

fn put_phdr(
    out: &mut Vec<u8>,
    kind: u32,
    offset: u64,
    vaddr: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
) {
    put_u32(out, kind);
    put_u32(out, 7);
    put_u64(out, offset);
    put_u64(out, vaddr);
    put_u64(out, paddr);
    put_u64(out, filesz);
    put_u64(out, memsz);
    put_u64(out, 0);
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn pad4(out: &mut Vec<u8>) {
    out.resize(align(out.len(), 4), 0);
}

fn align(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}
