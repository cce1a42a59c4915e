//! The lockless printk ring buffer (Linux 5.10+), found through `SYMBOL(prb)` (a pointer to the
//! ring) and laid out by VMCOREINFO's OFFSET/SIZE entries. Walks descriptor ids from tail to
//! head, keeps committed and finalized records, and finds each text block by its lpos pair.

use super::{Log, LogFormat, Record, require};
use crate::bytes::{u16_at, u32_at, u64_at};
use crate::kernel::KernelMemory;
use crate::phys::PhysMemory;
use crate::{Error, Result, VmcoreInfo};

const FLAGS_SHIFT: u32 = 62;
const ID_MASK: u64 = (1 << FLAGS_SHIFT) - 1;
const STATE_COMMITTED: u64 = 1;
const STATE_FINALIZED: u64 = 2;
/// 2^26 descriptors is a 2 GiB log; more is a corrupt count, and bounds the work.
const MAX_COUNT_BITS: u32 = 26;
const MAX_SIZE_BITS: u32 = 40;
/// After this many unreadable descriptors the rest of the ring is not worth trying.
const MAX_READ_FAILURES: usize = 256;
/// SIZE(prb_desc) and SIZE(printk_info) are tens of bytes; more is a corrupt VMCOREINFO.
const MAX_STRUCT_SIZE: usize = 4096;
/// A text block holds the owning id (one `unsigned long`) before the text.
const BLOCK_ID_SIZE: u64 = 8;

/// Where each field is, from VMCOREINFO.
#[derive(Debug, Clone)]
struct Layout {
    prb: u64,
    desc_ring: u64,
    text_data_ring: u64,
    count_bits: u64,
    descs: u64,
    infos: u64,
    head_id: u64,
    tail_id: u64,
    desc_size: u64,
    state_var: u64,
    text_blk_lpos: u64,
    lpos_begin: u64,
    lpos_next: u64,
    info_size: u64,
    seq: u64,
    ts_nsec: u64,
    text_len: u64,
    caller_id: Option<u64>,
    size_bits: u64,
    data: u64,
}

impl Layout {
    fn from_vmcoreinfo(info: &VmcoreInfo) -> Result<Self> {
        let counter = info.offset("atomic_long_t.counter").unwrap_or(0);
        let offset = |name: &str| require(info.offset(name), &format!("OFFSET({name})"));
        let size = |name: &str| require(info.size(name), &format!("SIZE({name})"));
        Ok(Layout {
            prb: require(info.symbol("prb"), "SYMBOL(prb)")?,
            desc_ring: offset("printk_ringbuffer.desc_ring")?,
            text_data_ring: offset("printk_ringbuffer.text_data_ring")?,
            count_bits: offset("prb_desc_ring.count_bits")?,
            descs: offset("prb_desc_ring.descs")?,
            infos: offset("prb_desc_ring.infos")?,
            head_id: offset("prb_desc_ring.head_id")? + counter,
            tail_id: offset("prb_desc_ring.tail_id")? + counter,
            desc_size: size("prb_desc")?,
            state_var: offset("prb_desc.state_var")? + counter,
            text_blk_lpos: offset("prb_desc.text_blk_lpos")?,
            lpos_begin: offset("prb_data_blk_lpos.begin")?,
            lpos_next: offset("prb_data_blk_lpos.next")?,
            info_size: size("printk_info")?,
            seq: offset("printk_info.seq")?,
            ts_nsec: offset("printk_info.ts_nsec")?,
            text_len: offset("printk_info.text_len")?,
            caller_id: info.offset("printk_info.caller_id"),
            size_bits: offset("prb_data_ring.size_bits")?,
            data: offset("prb_data_ring.data")?,
        })
    }
}

/// The ring's state as the crashed kernel left it.
#[derive(Debug)]
struct Ring {
    count: u64,
    descs: u64,
    infos: u64,
    head_id: u64,
    tail_id: u64,
    data_size_bits: u32,
    data: u64,
}

pub(super) fn read<M: PhysMemory>(memory: &KernelMemory<M>, info: &VmcoreInfo) -> Result<Log> {
    let layout = Layout::from_vmcoreinfo(info)?;
    let ring = read_ring(memory, &layout)?;
    let mut log = Log::new(LogFormat::Lockless);

    let span = ring.head_id.wrapping_sub(ring.tail_id) & ID_MASK;
    let mut first = ring.tail_id;
    if span >= ring.count {
        log.warn(format!(
            "tail id {:#x} is {span} ids behind head id {:#x}, more than the {} descriptors \
             of the ring; reading the newest {}",
            ring.tail_id, ring.head_id, ring.count, ring.count
        ));
        first = ring.head_id.wrapping_sub(ring.count - 1) & ID_MASK;
    }
    let total = (ring.head_id.wrapping_sub(first) & ID_MASK) + 1;

    let mut failures = 0usize;
    for step in 0..total {
        let id = first.wrapping_add(step) & ID_MASK;
        match read_record(memory, &layout, &ring, id) {
            Ok(Some(record)) => log.records.push(record),
            Ok(None) => {}
            Err(RecordError::Text(why)) => log.warn(format!("record id {id:#x}: {why}")),
            Err(RecordError::Read(err)) => {
                failures += 1;
                log.warn(format!("record id {id:#x}: {err}"));
                if failures >= MAX_READ_FAILURES {
                    log.warn(format!(
                        "gave up after {failures} unreadable descriptors, {} ids unread",
                        total - step - 1
                    ));
                    break;
                }
            }
        }
    }
    if log.records.is_empty() && failures > 0 {
        return Err(Error::malformed(format!(
            "printk ring at {:#x}: no record readable ({})",
            ring.descs,
            log.warnings.first().map(String::as_str).unwrap_or("")
        )));
    }
    Ok(log.finish())
}

fn read_ring<M: PhysMemory>(memory: &KernelMemory<M>, layout: &Layout) -> Result<Ring> {
    let context = |what: &'static str| {
        move |err: Error| Error::Reading {
            what: format!("printk ring buffer: reading {what}"),
            source: Box::new(err),
        }
    };
    let ring = memory
        .read_u64(layout.prb)
        .map_err(context("the prb pointer"))?;
    let desc_ring = ring.wrapping_add(layout.desc_ring);
    let data_ring = ring.wrapping_add(layout.text_data_ring);
    let field = |base: u64, offset: u64| base.wrapping_add(offset);

    let count_bits = memory
        .read_u32(field(desc_ring, layout.count_bits))
        .map_err(context("desc_ring.count_bits"))?;
    if count_bits > MAX_COUNT_BITS {
        return Err(Error::malformed(format!(
            "printk ring buffer: count_bits {count_bits} is above {MAX_COUNT_BITS}"
        )));
    }
    let size_bits = memory
        .read_u32(field(data_ring, layout.size_bits))
        .map_err(context("text_data_ring.size_bits"))?;
    if !(4..=MAX_SIZE_BITS).contains(&size_bits) {
        return Err(Error::malformed(format!(
            "printk ring buffer: text size_bits {size_bits} is outside 4..={MAX_SIZE_BITS}"
        )));
    }
    Ok(Ring {
        count: 1 << count_bits,
        descs: memory
            .read_u64(field(desc_ring, layout.descs))
            .map_err(context("desc_ring.descs"))?,
        infos: memory
            .read_u64(field(desc_ring, layout.infos))
            .map_err(context("desc_ring.infos"))?,
        head_id: memory
            .read_u64(field(desc_ring, layout.head_id))
            .map_err(context("desc_ring.head_id"))?
            & ID_MASK,
        tail_id: memory
            .read_u64(field(desc_ring, layout.tail_id))
            .map_err(context("desc_ring.tail_id"))?
            & ID_MASK,
        data_size_bits: size_bits,
        data: memory
            .read_u64(field(data_ring, layout.data))
            .map_err(context("text_data_ring.data"))?,
    })
}

enum RecordError {
    /// The descriptor or info could not be read.
    Read(Error),
    /// The descriptor is readable but its text is not.
    Text(String),
}

/// One descriptor: `None` when it holds no record (reserved, reusable or recycled), which is
/// normal at the ring's edges.
fn read_record<M: PhysMemory>(
    memory: &KernelMemory<M>,
    layout: &Layout,
    ring: &Ring,
    id: u64,
) -> Result<Option<Record>, RecordError> {
    let index = id & (ring.count - 1);
    let mut desc_buf = [0u8; MAX_STRUCT_SIZE];
    let desc = read_struct(memory, ring.descs, index, layout.desc_size, &mut desc_buf)
        .map_err(RecordError::Read)?;
    let field = |offset: u64| usize::try_from(offset).unwrap_or(usize::MAX);
    let short = || {
        RecordError::Read(Error::malformed(
            "descriptor fields lie past SIZE(prb_desc)",
        ))
    };
    let state_var = u64_at(desc, field(layout.state_var)).ok_or_else(short)?;
    if state_var & ID_MASK != id {
        return Ok(None);
    }
    let state = state_var >> FLAGS_SHIFT;
    if state != STATE_COMMITTED && state != STATE_FINALIZED {
        return Ok(None);
    }
    let lpos = layout.text_blk_lpos;
    let begin = u64_at(desc, field(lpos.saturating_add(layout.lpos_begin))).ok_or_else(short)?;
    let next = u64_at(desc, field(lpos.saturating_add(layout.lpos_next))).ok_or_else(short)?;

    let mut info_buf = [0u8; MAX_STRUCT_SIZE];
    let info = read_struct(memory, ring.infos, index, layout.info_size, &mut info_buf)
        .map_err(RecordError::Read)?;
    let short = || RecordError::Read(Error::malformed("info fields lie past SIZE(printk_info)"));
    let seq = u64_at(info, field(layout.seq)).ok_or_else(short)?;
    let ts_nsec = u64_at(info, field(layout.ts_nsec)).ok_or_else(short)?;
    let text_len = u16_at(info, field(layout.text_len)).ok_or_else(short)?;
    let caller_id = match layout.caller_id {
        Some(offset) => Some(u32_at(info, field(offset)).ok_or_else(short)?),
        None => None,
    };

    let Some((start, available)) = text_block(ring, begin, next).map_err(RecordError::Text)? else {
        return Ok(Some(Record {
            seq: Some(seq),
            ts_nsec,
            text: Vec::new(),
            caller_id,
            dataless: true,
        }));
    };
    let len = u64::from(text_len).min(available);
    let mut text = vec![0; len as usize];
    memory
        .read(ring.data.wrapping_add(start), &mut text)
        .map_err(|err| RecordError::Text(format!("text unreadable: {err}")))?;
    Ok(Some(Record {
        seq: Some(seq),
        ts_nsec,
        text,
        caller_id,
        dataless: false,
    }))
}

/// Where a descriptor's text lies in the data ring: (index of the text, bytes available), or
/// `None` for a data-less record (lost data or an empty message).
fn text_block(ring: &Ring, begin: u64, next: u64) -> Result<Option<(u64, u64)>, String> {
    let size = 1u64 << ring.data_size_bits;
    let index = |lpos: u64| lpos & (size - 1);
    let wraps = |lpos: u64| lpos >> ring.data_size_bits;
    if begin & 1 != 0 || index(begin) == index(next) {
        return Ok(None);
    }
    // lpos values wrap at 2^64 too, so "one lap behind" is computed on begin + size.
    let (block_start, block_size) = if wraps(begin) == wraps(next) && begin < next {
        (index(begin), next - begin)
    } else if wraps(begin.wrapping_add(size)) == wraps(next) && index(next) == 0 {
        // Ends exactly at the end of the ring: its text is where it began.
        (index(begin), next.wrapping_sub(begin))
    } else if wraps(begin.wrapping_add(size)) == wraps(next) {
        (0, index(next))
    } else {
        return Err(format!(
            "text lpos {begin:#x}..{next:#x} is not a valid block"
        ));
    };
    if block_size < BLOCK_ID_SIZE || block_start + block_size > size {
        return Err(format!(
            "text block of {block_size} bytes at ring index {block_start:#x} does not fit"
        ));
    }
    Ok(Some((
        block_start + BLOCK_ID_SIZE,
        block_size - BLOCK_ID_SIZE,
    )))
}

/// Reads element `index` of an array of `size`-byte structs into `buf`.
fn read_struct<'b, M: PhysMemory>(
    memory: &KernelMemory<M>,
    array: u64,
    index: u64,
    size: u64,
    buf: &'b mut [u8; MAX_STRUCT_SIZE],
) -> Result<&'b [u8]> {
    let out = usize::try_from(size)
        .ok()
        .filter(|&s| s > 0)
        .and_then(|s| buf.get_mut(..s))
        .ok_or_else(|| Error::malformed(format!("struct size {size} is implausible")))?;
    let address = index
        .checked_mul(size)
        .and_then(|o| array.checked_add(o))
        .ok_or_else(|| Error::malformed("descriptor address overflows"))?;
    memory.read(address, out)?;
    Ok(out)
}
