//! vmcore: reading a crashed kernel's memory and its log without vmlinux. ELF cores
//! (/proc/vmcore, its copies, QEMU `dump-guest-memory`) and kdump-compressed files give physical
//! memory; VMCOREINFO gives the symbols, offsets and numbers that drive address translation
//! (x86_64, aarch64) and the printk log readers. Parsing is pure; I/O goes through `ReadAt`.
//!
//! ```
//! use vmcore::Vmcore;
//! use vmcore::synthetic_kernel::{SyntheticKernel, SyntheticRecord};
//!
//! // A synthetic crashed kernel whose printk ring holds two records, as /proc/vmcore bytes.
//! let mut kernel = SyntheticKernel::new();
//! let records = [
//!     SyntheticRecord::new(0, b"Linux version 6.1.0"),
//!     SyntheticRecord::new(2_500_000_000, b"Kernel panic - not syncing: Fatal exception"),
//! ];
//! kernel.lockless_ring(&records, 4, 12, 0);
//! let core = Vmcore::from_source(kernel.elf(1), "vmcore".into()).unwrap();
//!
//! let log = core.dmesg().unwrap();
//! assert!(log.complete);
//! assert_eq!(
//!     log.to_makedumpfile_text(),
//!     b"[    0.000000] Linux version 6.1.0\n\
//!       [    2.500000] Kernel panic - not syncing: Fatal exception\n"
//! );
//! ```

mod bytes;
pub mod elf;
mod elf_core;
mod error;
pub mod filter;
mod flattened;
/// The fuzz targets' entry points and invariants: for fuzz/ and the corpus replay in tests/
/// only (the `fuzzing` feature), not part of the API.
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod kdump;
mod kernel;
pub mod note;
mod phys;
pub mod printk;
mod prstatus;
mod read_at;
pub mod synthetic;
pub mod synthetic_kernel;
pub mod translate;
mod vmcore;
pub mod vmcoreinfo;

pub use elf::{LoadSegment, Machine};
pub use elf_core::ElfCore;
pub use error::{Error, Result};
pub use flattened::Flattened;
pub use kdump::KdumpMemory;
pub use kernel::{KernelMemory, ReadStats};
pub use note::{Note, Notes};
pub use phys::{ElfMemory, PhysMemory, merge_ranges};
pub use printk::{Log, LogFormat, Record, read_log};
pub use prstatus::CpuState;
pub use read_at::ReadAt;
pub use vmcore::{DumpFormat, Vmcore};
pub use vmcoreinfo::VmcoreInfo;
