//! Kernel virtual to physical address translation driven only by VMCOREINFO (no vmlinux): the
//! fixed offsets of the kernel image and linear map where they apply, page-table walks from the
//! kernel's top-level table for the rest.

mod aarch64;
#[cfg(test)]
mod tests;
mod x86_64;

pub use aarch64::{Aarch64Paging, HighAddress};
pub use x86_64::{START_KERNEL_MAP, X86_64Paging};

use crate::{Machine, Result, VmcoreInfo};

/// Reads one little-endian u64 at a physical address; page-table walks go through this.
pub trait ReadPhysU64 {
    fn read_phys_u64(&self, paddr: u64) -> Result<u64>;
}

/// The translation rules of one crashed kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    X86_64(X86_64Paging),
    Aarch64(Aarch64Paging),
}

impl Paging {
    pub fn from_vmcoreinfo(machine: Machine, info: &VmcoreInfo) -> Result<Self> {
        Ok(match machine {
            Machine::X86_64 => Paging::X86_64(X86_64Paging::from_vmcoreinfo(info)?),
            Machine::Aarch64 => Paging::Aarch64(Aarch64Paging::from_vmcoreinfo(info)?),
        })
    }

    /// Translates `vaddr`; `Error::Unmapped` says which level was missing.
    pub fn translate(&self, memory: &impl ReadPhysU64, vaddr: u64) -> Result<u64> {
        match self {
            Paging::X86_64(p) => p.translate(memory, vaddr),
            Paging::Aarch64(p) => p.translate(memory, vaddr),
        }
    }

    /// Whether `vaddr`'s translation is fixed by a formula (no table walk); such translations
    /// are valid for a whole contiguous range and need no caching.
    pub fn is_direct(&self, vaddr: u64) -> bool {
        match self {
            Paging::X86_64(p) => p.is_kernel_image(vaddr),
            Paging::Aarch64(p) => p.is_linear(vaddr),
        }
    }
}
