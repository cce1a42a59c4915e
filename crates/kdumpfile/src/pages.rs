//! Pass 2 of the writer: page data and descriptors. Pages are compressed a batch at a time,
//! the batch split between threads when the machine has more than one CPU; data and
//! descriptors are buffered and written in order, each descriptor only after the data it
//! points to, so a dump cut short never has a descriptor pointing at nothing.

use std::io::{Seek, SeekFrom, Write};

use crate::Error;
use crate::compress::PageCompressor;
use crate::format::{PAGE_DESC_LEN, PageDesc};
use crate::writer::{DL_EXCLUDE_ZERO, DumpInfo, Limits, Summary, io_err};

/// A page of the current batch: the shared zero page, or the n-th page of the batch's raw bytes.
#[derive(Clone, Copy)]
enum Entry {
    Zero,
    Page,
}

/// One compressed page of a thread's share: the flag (None: stored raw) and its bytes in the
/// thread's output.
type Packed = (Option<u32>, std::ops::Range<usize>);

pub(crate) struct PageWriter {
    compressors: Vec<PageCompressor>,
    share_zero: bool,
    page_size: usize,
    zero_page_offset: u64,
    next_desc: u64,
    data_end: u64,
    batch: Vec<Entry>,
    raw: Vec<u8>,
    outputs: Vec<(Vec<u8>, Vec<Packed>)>,
    data: Vec<u8>,
    descs: Vec<u8>,
    limits: Limits,
    done: u64,
}

impl PageWriter {
    pub(crate) fn new(info: &DumpInfo, descs_start: u64, data_start: u64, limits: Limits) -> Self {
        let threads = limits.threads.max(1);
        PageWriter {
            compressors: (0..threads)
                .map(|_| PageCompressor::new(info.compression))
                .collect(),
            share_zero: info.dump_level & DL_EXCLUDE_ZERO != 0,
            page_size: info.page_size as usize,
            zero_page_offset: data_start,
            next_desc: descs_start,
            data_end: data_start,
            batch: Vec::new(),
            raw: Vec::new(),
            outputs: (0..threads).map(|_| Default::default()).collect(),
            data: Vec::new(),
            descs: Vec::new(),
            limits,
            done: 0,
        }
    }

    pub(crate) fn done(&self) -> u64 {
        self.done
    }

    pub(crate) fn data_end(&self) -> u64 {
        self.data_end
    }

    /// The shared zero page, or one byte where the descriptors end, so that the file covers
    /// every descriptor from the start and unwritten ones read as zero ("not written").
    pub(crate) fn start<W: Write + Seek>(&mut self, out: &mut W) -> Result<(), Error> {
        if self.share_zero {
            let zero = vec![0u8; self.page_size];
            out.seek(SeekFrom::Start(self.data_end))
                .and_then(|_| out.write_all(&zero))
                .map_err(io_err("writing the shared zero page"))?;
            self.data_end += self.page_size as u64;
        } else if self.data_end > self.next_desc {
            out.seek(SeekFrom::Start(self.data_end - 1))
                .and_then(|_| out.write_all(&[0]))
                .map_err(io_err("extending the file over the descriptors"))?;
        }
        Ok(())
    }

    pub(crate) fn add<W: Write + Seek>(
        &mut self,
        out: &mut W,
        page: &[u8],
        summary: &mut Summary,
    ) -> Result<(), Error> {
        if self.share_zero && is_zero(page) {
            self.batch.push(Entry::Zero);
        } else {
            self.raw.extend_from_slice(page);
            self.batch.push(Entry::Page);
        }
        if self.batch.len() >= self.limits.batch_pages.max(1) {
            self.emit_batch(out, summary)?;
        }
        Ok(())
    }

    pub(crate) fn finish<W: Write + Seek>(
        &mut self,
        out: &mut W,
        summary: &mut Summary,
    ) -> Result<(), Error> {
        self.emit_batch(out, summary)?;
        self.flush(out)
    }

    /// Compresses the batch's pages (each thread a contiguous share) and queues their data
    /// and descriptors in pfn order.
    fn emit_batch<W: Write + Seek>(
        &mut self,
        out: &mut W,
        summary: &mut Summary,
    ) -> Result<(), Error> {
        let page_size = self.page_size;
        let pages = self.raw.len() / page_size;
        let share = pages.div_ceil(self.compressors.len()).max(1);
        let raw = &self.raw;
        let work = self
            .compressors
            .iter_mut()
            .zip(self.outputs.iter_mut())
            .zip(raw.chunks(share * page_size));
        if pages <= share {
            // One share: no thread to start.
            for ((compressor, output), chunk) in work {
                compress_share(compressor, output, chunk, page_size);
            }
        } else {
            std::thread::scope(|scope| {
                for ((compressor, output), chunk) in work {
                    scope.spawn(move || compress_share(compressor, output, chunk, page_size));
                }
            });
        }

        let mut next = 0usize;
        for entry in std::mem::take(&mut self.batch) {
            let desc = match entry {
                Entry::Zero => {
                    summary.zero_pages += 1;
                    PageDesc {
                        offset: self.zero_page_offset,
                        size: page_size as u32,
                        flags: 0,
                        page_flags: 0,
                    }
                }
                Entry::Page => {
                    let (output, packed) = &self.outputs[next / share];
                    let (flag, range) = packed[next % share].clone();
                    let offset = self.data_end + self.data.len() as u64;
                    let (bytes, flags) = match flag {
                        Some(flag) => {
                            summary.compressed_pages += 1;
                            (&output[range], flag)
                        }
                        None => {
                            summary.raw_pages += 1;
                            (&self.raw[next * page_size..(next + 1) * page_size], 0)
                        }
                    };
                    self.data.extend_from_slice(bytes);
                    next += 1;
                    PageDesc {
                        offset,
                        size: bytes.len() as u32,
                        flags,
                        page_flags: 0,
                    }
                }
            };
            self.descs.extend_from_slice(&desc.encode());
            self.done += 1;
        }
        self.raw.clear();
        if self.data.len() >= self.limits.data_buffer
            || self.descs.len() >= self.limits.desc_buffer * PAGE_DESC_LEN
        {
            self.flush(out)?;
        }
        Ok(())
    }

    fn flush<W: Write + Seek>(&mut self, out: &mut W) -> Result<(), Error> {
        if !self.data.is_empty() {
            out.seek(SeekFrom::Start(self.data_end))
                .and_then(|_| out.write_all(&self.data))
                .map_err(io_err("writing page data"))?;
            self.data_end += self.data.len() as u64;
            self.data.clear();
        }
        if !self.descs.is_empty() {
            out.seek(SeekFrom::Start(self.next_desc))
                .and_then(|_| out.write_all(&self.descs))
                .map_err(io_err("writing page descriptors"))?;
            self.next_desc += self.descs.len() as u64;
            self.descs.clear();
        }
        Ok(())
    }
}

fn compress_share(
    compressor: &mut PageCompressor,
    (output, packed): &mut (Vec<u8>, Vec<Packed>),
    pages: &[u8],
    page_size: usize,
) {
    output.clear();
    packed.clear();
    let mut scratch = Vec::with_capacity(page_size);
    for page in pages.chunks(page_size) {
        let flag = compressor.compress(page, &mut scratch);
        let start = output.len();
        if flag.is_some() {
            output.extend_from_slice(&scratch);
        }
        packed.push((flag, start..output.len()));
    }
}

/// Whether a page is all zero bytes: 64 bytes at a time (a loop the compiler vectorises),
/// stopping at the first block that is not.
fn is_zero(page: &[u8]) -> bool {
    let mut blocks = page.chunks_exact(64);
    blocks.all(|b| b.iter().fold(0u8, |acc, &x| acc | x) == 0)
        && blocks.remainder().iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn zero_pages_and_almost_zero_pages() {
        let mut page = vec![0u8; 4096 + 5];
        assert!(super::is_zero(&page));
        for at in [0, 63, 64, 4095, 4096, 4100] {
            page[at] = 1;
            assert!(!super::is_zero(&page), "{at}");
            page[at] = 0;
        }
    }
}
