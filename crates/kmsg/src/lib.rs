//! Kernel log text analysis: finds the crash in any kernel log (pstore dmesg, serial console,
//! journalctl -k, /dev/kmsg, a vmcore's log), classifies it, reads its call trace and computes a
//! stable crash signature.
//!
//! Pure: no I/O. Never panics, and runs in time linear in the input.

mod analyze;
mod block;
mod class;
mod compat;
mod cpuline;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod headline;
mod line;
mod model;
mod modules;
mod render;
mod scan;
mod signature;

pub use analyze::analyze;
pub use model::{Analysis, Frame, Hashes, Module, Taint};
