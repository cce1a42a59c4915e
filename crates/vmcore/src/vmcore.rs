//! The entry point: `Vmcore::open` tells an ELF core from a kdump-compressed file from anything
//! else, and gives the machine, VMCOREINFO, notes, page size, physical memory and the log.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::elf::Machine;
use crate::elf_core::ElfCore;
use crate::flattened::{FLATTENED_SIGNATURE, Flattened};
use crate::kdump::KdumpMemory;
use crate::kernel::KernelMemory;
use crate::note::{Note, Notes};
use crate::phys::{ElfMemory, PhysMemory};
use crate::printk::{Log, read_log};
use crate::prstatus::CpuState;
use crate::read_at::ReadAt;
use crate::translate::Paging;
use crate::vmcoreinfo::VmcoreInfo;
use crate::{Error, Result};

const ELF_MAGIC: &[u8] = b"\x7fELF";
const KDUMP_SIGNATURE: &[u8] = b"KDUMP   ";
const DISKDUMP_SIGNATURE: &[u8] = b"DISKDUMP";

/// The container a vmcore came in (a flattened stream is read as what it rebuilds to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    Elf,
    KdumpCompressed,
}

pub struct Vmcore {
    path: PathBuf,
    format: DumpFormat,
    machine: Machine,
    vmcoreinfo: Option<VmcoreInfo>,
    note_segments: Vec<Vec<u8>>,
    page_size: u64,
    memory: Box<dyn PhysMemory>,
    incomplete: bool,
}

impl std::fmt::Debug for Vmcore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vmcore")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("machine", &self.machine)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl Vmcore {
    /// Opens a vmcore file; errors name the file and say what is wrong with it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let in_file = |source: Error| Error::File {
            path: path.to_owned(),
            source: Box::new(source),
        };
        let file = File::open(path).map_err(|source| in_file(Error::Open(source)))?;
        Self::from_source(file, path.to_owned()).map_err(in_file)
    }

    /// Reads a vmcore from any positioned-read source; `path` is only for messages.
    pub fn from_source<R: ReadAt + 'static>(source: R, path: PathBuf) -> Result<Self> {
        let size = source.size().map_err(|source| Error::Io {
            what: "the file size",
            offset: 0,
            source,
        })?;
        let mut magic = [0u8; 16];
        let head = magic.get_mut(..size.min(16) as usize).unwrap_or_default();
        source.read_exact_at(head, 0).map_err(|source| Error::Io {
            what: "the file signature",
            offset: 0,
            source,
        })?;
        if magic.starts_with(FLATTENED_SIGNATURE) {
            let rebuilt = Flattened::new(source)?;
            let mut magic = [0u8; 8];
            rebuilt
                .read_exact_at(&mut magic, 0)
                .map_err(|source| Error::Io {
                    what: "the flattened dump's signature",
                    offset: 0,
                    source,
                })?;
            return if magic.starts_with(ELF_MAGIC) {
                Self::from_elf(rebuilt, path)
            } else if magic.starts_with(KDUMP_SIGNATURE) {
                Self::from_kdump(rebuilt, path)
            } else {
                Err(Error::malformed(
                    "a flattened dump of neither an ELF core nor a kdump-compressed file",
                ))
            };
        }
        if magic.starts_with(ELF_MAGIC) {
            Self::from_elf(source, path)
        } else if magic.starts_with(KDUMP_SIGNATURE) {
            Self::from_kdump(source, path)
        } else if magic.starts_with(DISKDUMP_SIGNATURE) {
            Err(Error::Unsupported(
                "an old diskdump file (signature DISKDUMP), not supported".into(),
            ))
        } else if size == 0 {
            Err(Error::malformed("not a vmcore: the file is empty"))
        } else {
            Err(Error::malformed(
                "not a vmcore: neither an ELF core nor a kdump-compressed file",
            ))
        }
    }

    fn from_elf<R: ReadAt + 'static>(source: R, path: PathBuf) -> Result<Self> {
        let core = ElfCore::read(&source)?;
        let vmcoreinfo = core.vmcoreinfo();
        let page_size = vmcoreinfo
            .as_ref()
            .and_then(VmcoreInfo::page_size)
            .unwrap_or(4096);
        let memory = ElfMemory::new(source, &core.loads, core.file_size, page_size);
        Ok(Vmcore {
            path,
            format: DumpFormat::Elf,
            machine: core.machine,
            vmcoreinfo,
            page_size,
            memory: Box::new(memory),
            incomplete: core.truncated || core.flags & 1 != 0,
            note_segments: core.note_segments,
        })
    }

    fn from_kdump<R: ReadAt + 'static>(source: R, path: PathBuf) -> Result<Self> {
        let memory = KdumpMemory::open(source)?;
        let vmcoreinfo = memory.vmcoreinfo().map(|text| VmcoreInfo::parse(&text));
        let machine = memory.machine(vmcoreinfo.as_ref())?;
        Ok(Vmcore {
            path,
            format: DumpFormat::KdumpCompressed,
            machine,
            // QEMU writes arm64 dumps in 64 KiB blocks whatever the kernel's pages are.
            page_size: vmcoreinfo
                .as_ref()
                .and_then(VmcoreInfo::page_size)
                .unwrap_or(memory.page_size()),
            incomplete: memory.is_incomplete(),
            note_segments: vec![memory.notes()],
            vmcoreinfo,
            memory: Box::new(memory),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> DumpFormat {
        self.format
    }

    pub fn machine(&self) -> Machine {
        self.machine
    }

    /// VMCOREINFO, absent in QEMU dumps of guests without `-device vmcoreinfo`.
    pub fn vmcoreinfo(&self) -> Option<&VmcoreInfo> {
        self.vmcoreinfo.as_ref()
    }

    pub fn notes(&self) -> impl Iterator<Item = Note<'_>> {
        self.note_segments.iter().flat_map(|s| Notes::new(s))
    }

    /// The raw bytes of every note segment, one after the other: what a dump writer copies
    /// verbatim so that crash and drgn find the registers and VMCOREINFO.
    pub fn note_bytes(&self) -> Vec<u8> {
        self.note_segments.concat()
    }

    /// CPUs that saved registers (NT_PRSTATUS notes).
    pub fn cpu_count(&self) -> usize {
        self.notes().filter(Note::is_prstatus).count()
    }

    /// Each CPU's task, program counter and stack pointer at the crash, in note order.
    pub fn cpus(&self) -> Vec<CpuState> {
        self.notes()
            .filter_map(|note| CpuState::parse(self.machine, &note))
            .collect()
    }

    /// The crashed kernel's page size: VMCOREINFO's PAGESIZE, else the dump's own unit.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// The dump says it is incomplete (a truncated copy, or makedumpfile's incomplete flag).
    pub fn is_incomplete(&self) -> bool {
        self.incomplete
    }

    pub fn memory(&self) -> &dyn PhysMemory {
        self.memory.as_ref()
    }

    fn require_vmcoreinfo(&self) -> Result<&VmcoreInfo> {
        self.vmcoreinfo.as_ref().ok_or_else(|| {
            Error::Unsupported(
                "the dump has no VMCOREINFO note (a QEMU guest needs -device vmcoreinfo)".into(),
            )
        })
    }

    /// Kernel virtual memory, translated by VMCOREINFO's rules for this machine.
    pub fn kernel_memory(&self) -> Result<KernelMemory<&dyn PhysMemory>> {
        let info = self.require_vmcoreinfo()?;
        let paging = Paging::from_vmcoreinfo(self.machine, info)?;
        Ok(KernelMemory::new(self.memory.as_ref(), paging))
    }

    /// The kernel log, as far as it can be read.
    pub fn dmesg(&self) -> Result<Log> {
        let info = self.require_vmcoreinfo()?;
        read_log(&self.kernel_memory()?, info)
    }
}
