//! vmcore: reading a crashed kernel's memory and its log without vmlinux. ELF cores
//! (/proc/vmcore, its copies, QEMU `dump-guest-memory`) and kdump-compressed files give physical
//! memory; VMCOREINFO gives the symbols, offsets and numbers that drive address translation
//! (x86_64, aarch64) and the printk log readers. Parsing is pure; I/O goes through `ReadAt`.

mod bytes;
pub mod elf;
mod elf_core;
mod error;
pub mod note;
mod phys;
mod read_at;
pub mod synthetic;
pub mod vmcoreinfo;

pub use elf::{LoadSegment, Machine};
pub use elf_core::ElfCore;
pub use error::{Error, Result};
pub use note::{Note, Notes};
pub use phys::{ElfMemory, PhysMemory, merge_ranges};
pub use read_at::ReadAt;
pub use vmcoreinfo::VmcoreInfo;
