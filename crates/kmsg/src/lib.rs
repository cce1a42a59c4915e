//! Kernel log text analysis: finds the crash in any kernel log (pstore dmesg, serial console,
//! journalctl -k, /dev/kmsg, a vmcore's log), classifies it, reads its call trace and computes a
//! stable crash signature.
//!
//! Pure: no I/O. Never panics, and runs in time linear in the input.
//!
//! ```
//! let log = "\
//! <1>[   27.1] BUG: kernel NULL pointer dereference, address: 0000000000000010
//! <4>[   27.1] Oops: 0002 [#1] PREEMPT SMP NOPTI
//! <4>[   27.1] CPU: 0 PID: 85 Comm: sh Tainted: G           O       6.1.0-56-amd64 #1 Debian 6.1.192-2
//! <4>[   27.1] RIP: 0010:my_write+0x5/0x10 [mymod]
//! <4>[   27.1] Call Trace:
//! <4>[   27.1]  <TASK>
//! <4>[   27.1]  ? page_fault_oops+0xd2/0x2b0
//! <4>[   27.1]  my_caller+0x2d/0x1a0 [mymod]
//! <4>[   27.1]  vfs_write+0x2ad/0x3f0
//! <4>[   27.1]  </TASK>
//! <0>[   27.2] Kernel panic - not syncing: Fatal exception
//! ";
//! let a = kmsg::analyze(log);
//! assert_eq!(a.class, "null-pointer-dereference");
//! assert_eq!(a.function.as_deref(), Some("my_write"));
//! assert_eq!(a.signature_frames, ["mymod:my_write", "mymod:my_caller", "vfs_write"]);
//! assert!(a.signature.starts_with("null-pointer-dereference-my_write-"));
//! assert_eq!(a.kernel_release.as_deref(), Some("6.1.0-56-amd64"));
//! ```

mod analyze;
mod block;
mod class;
mod compat;
mod cpuline;
mod frame;
/// The fuzz targets' entry points and invariants: for fuzz/ and the corpus replay in tests/
/// only (the `fuzzing` feature), not part of the API.
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod guilty;
mod headline;
mod line;
mod lockdep;
mod model;
mod modules;
mod numbering;
mod render;
mod scan;
mod signature;

pub use analyze::analyze;
pub use model::{Analysis, Frame, Hashes, Module, Taint};
