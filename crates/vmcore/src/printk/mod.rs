//! The crashed kernel's printk log, read through VMCOREINFO alone: the lockless ring buffer of
//! Linux 5.10+ (`lockless`) or the `printk_log` records of 3.5 to 5.9 (`structured`). Damage
//! costs bounded work and yields what could be read, marked incomplete with the reasons.

mod format;
mod lockless;
mod structured;

pub use format::{format_makedumpfile, format_record, format_vmcore_dmesg};

use crate::kernel::KernelMemory;
use crate::phys::PhysMemory;
use crate::{Error, Result, VmcoreInfo};

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The kernel's sequence number (the lockless ring keeps it; older logs do not).
    pub seq: Option<u64>,
    /// Nanoseconds since boot (`local_clock()`).
    pub ts_nsec: u64,
    /// The message, without a trailing newline; may hold embedded newlines.
    pub text: Vec<u8>,
    /// `T<pid>` or, with bit 31 set, `C<cpu>` (CONFIG_PRINTK_CALLER).
    pub caller_id: Option<u32>,
    /// The descriptor has no text block: an empty message, or text the writer lost.
    /// makedumpfile leaves such records out, vmcore-dmesg prints an empty line.
    pub dataless: bool,
}

/// Which layout the log had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `struct printk_ringbuffer` (Linux 5.10+).
    Lockless,
    /// `struct printk_log` records in `log_buf` (Linux 3.5 to 5.9).
    Structured,
}

/// Warnings kept in full; a badly damaged ring could otherwise produce millions.
const MAX_WARNINGS: usize = 64;

/// The log as far as it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    pub format: LogFormat,
    /// Oldest first.
    pub records: Vec<Record>,
    /// What was wrong, one line each (at most 65: the last says how many more there were);
    /// empty when the log was read cleanly.
    pub warnings: Vec<String>,
    /// False when records may be missing because of damage (not because the ring wrapped).
    pub complete: bool,
    omitted: usize,
}

impl Log {
    pub(crate) fn new(format: LogFormat) -> Self {
        Log {
            format,
            records: Vec::new(),
            warnings: Vec::new(),
            complete: true,
            omitted: 0,
        }
    }

    pub(crate) fn warn(&mut self, warning: String) {
        self.complete = false;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(warning);
        } else {
            self.omitted += 1;
        }
    }

    /// Closes the warning list with the count of those left out.
    pub(crate) fn finish(mut self) -> Self {
        if self.omitted > 0 {
            self.warnings
                .push(format!("{} more warnings like these", self.omitted));
            self.omitted = 0;
        }
        self
    }

    /// The log as `makedumpfile --dump-dmesg` writes it.
    pub fn to_makedumpfile_text(&self) -> Vec<u8> {
        format_makedumpfile(&self.records)
    }

    /// The log as kexec-tools' `vmcore-dmesg` prints it.
    pub fn to_vmcore_dmesg_text(&self) -> Vec<u8> {
        format_vmcore_dmesg(&self.records)
    }
}

/// Reads the log, choosing the layout the way makedumpfile does: `SYMBOL(prb)` means the
/// lockless ring, `SYMBOL(log_buf)` with `printk_log` offsets the structured one.
pub fn read_log<M: PhysMemory>(memory: &KernelMemory<M>, info: &VmcoreInfo) -> Result<Log> {
    if info.symbol("prb").is_some() {
        lockless::read(memory, info)
    } else if info.symbol("log_buf").is_some() {
        structured::read(memory, info)
    } else {
        Err(Error::MissingInfo(
            "SYMBOL(prb) or SYMBOL(log_buf): no printk log is described".into(),
        ))
    }
}

/// A VMCOREINFO entry the reader cannot do without.
pub(crate) fn require(value: Option<u64>, entry: &str) -> Result<u64> {
    value.ok_or_else(|| Error::MissingInfo(entry.to_owned()))
}
