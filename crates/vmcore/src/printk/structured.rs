//! The structured log of Linux 3.5 to 5.9: `struct printk_log` records (named `struct log` until
//! 3.11) in the buffer `log_buf` points to, from `log_first_idx` to `log_next_idx`; a record with
//! `len == 0` marks the writer's wrap back to index 0.

use super::{Log, LogFormat, Record, require};
use crate::bytes::{u16_at, u64_at};
use crate::kernel::KernelMemory;
use crate::phys::PhysMemory;
use crate::{Error, Result, VmcoreInfo};

/// A log buffer larger than this is a corrupt length (the kernel caps log_buf_len at 2 GiB,
/// distributions use well under 32 MiB).
const MAX_LOG_BUF_LEN: u64 = 1 << 31;

struct Layout {
    header_size: u64,
    ts_nsec: usize,
    len: usize,
    text_len: usize,
}

impl Layout {
    fn from_vmcoreinfo(info: &VmcoreInfo) -> Result<Self> {
        let name = if info.size("printk_log").is_some() {
            "printk_log"
        } else {
            "log"
        };
        let offset = |member: &str| {
            let key = format!("{name}.{member}");
            require(info.offset(&key), &format!("OFFSET({key})"))
                .map(|o| usize::try_from(o).unwrap_or(usize::MAX))
        };
        Ok(Layout {
            header_size: require(info.size(name), "SIZE(printk_log)")?,
            ts_nsec: offset("ts_nsec")?,
            len: offset("len")?,
            text_len: offset("text_len")?,
        })
    }
}

pub(super) fn read<M: PhysMemory>(memory: &KernelMemory<M>, info: &VmcoreInfo) -> Result<Log> {
    let layout = Layout::from_vmcoreinfo(info)?;
    if !(8..=4096).contains(&layout.header_size) {
        return Err(Error::malformed(format!(
            "SIZE(printk_log)={} is implausible",
            layout.header_size
        )));
    }
    let symbol = |name: &str| require(info.symbol(name), &format!("SYMBOL({name})"));
    let context = |what: &'static str| {
        move |err: Error| Error::Reading {
            what: format!("printk log_buf: reading {what}"),
            source: Box::new(err),
        }
    };
    let buf = memory
        .read_u64(symbol("log_buf")?)
        .map_err(context("the log_buf pointer"))?;
    let buf_len = u64::from(
        memory
            .read_u32(symbol("log_buf_len")?)
            .map_err(context("log_buf_len"))?,
    );
    let first = u64::from(
        memory
            .read_u32(symbol("log_first_idx")?)
            .map_err(context("log_first_idx"))?,
    );
    let next = u64::from(
        memory
            .read_u32(symbol("log_next_idx")?)
            .map_err(context("log_next_idx"))?,
    );
    if buf_len < layout.header_size || buf_len > MAX_LOG_BUF_LEN {
        return Err(Error::malformed(format!(
            "printk log_buf_len {buf_len} is implausible"
        )));
    }

    let mut log = Log::new(LogFormat::Structured);
    let mut index = first;
    let mut wrapped = false;
    // Each record takes at least a header, so more steps than this means a cycle.
    let max_steps = buf_len / layout.header_size + 2;
    let mut steps = 0;
    while index != next {
        steps += 1;
        if steps > max_steps {
            log.warn(format!(
                "more records than log_buf can hold: a cycle at index {index:#x}"
            ));
            break;
        }
        if index > buf_len - layout.header_size {
            log.warn(format!(
                "record index {index:#x} is outside log_buf ({buf_len:#x} bytes)"
            ));
            break;
        }
        let mut header = vec![0; layout.header_size as usize];
        if let Err(err) = memory.read(buf.wrapping_add(index), &mut header) {
            log.warn(format!("record at index {index:#x}: {err}"));
            break;
        }
        let short = || Error::malformed("printk_log fields lie past SIZE(printk_log)");
        let len = u16_at(&header, layout.len).ok_or_else(short)?;
        if len == 0 {
            if wrapped {
                log.warn("a second wrap marker: the log is corrupt".into());
                break;
            }
            wrapped = true;
            index = 0;
            continue;
        }
        let ts_nsec = u64_at(&header, layout.ts_nsec).ok_or_else(short)?;
        let text_len = u64::from(u16_at(&header, layout.text_len).ok_or_else(short)?);
        let text_start = index + layout.header_size;
        let readable = text_len.min(buf_len - text_start);
        let mut text = vec![0; readable as usize];
        if let Err(err) = memory.read(buf.wrapping_add(text_start), &mut text) {
            log.warn(format!("record text at index {index:#x}: {err}"));
            break;
        }
        if readable < text_len {
            log.warn(format!(
                "record at index {index:#x}: text runs past log_buf"
            ));
        }
        log.records.push(Record {
            seq: None,
            ts_nsec,
            text,
            caller_id: None,
            dataless: false,
        });
        index += u64::from(len);
    }
    if log.records.is_empty() && !log.complete {
        return Err(Error::malformed(format!(
            "printk log_buf: no record readable ({})",
            log.warnings.first().map(String::as_str).unwrap_or("")
        )));
    }
    Ok(log.finish())
}
