//! Cutting a real ELF vmcore down to what a dmesg reader needs, so it fits in git: Debian's own
//! readers (vmcore-dmesg, makedumpfile --dump-dmesg) run under strace, every byte range they
//! read from the vmcore is kept (page by page), and a new ELF is written whose PT_LOAD segments
//! cover just those pages, at their original physical and virtual addresses. Everything else
//! becomes a hole, as memory a dump left out. The result is checked by running the same readers
//! on it: they must print the same log.

use crate::shell;
use anyhow::{Context, Result, bail, ensure};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

const PAGE: u64 = 4096;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;

/// One program header of an ELF64 little-endian core file.
#[derive(Clone, Copy, Debug)]
struct Phdr {
    kind: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

fn u16_at(bytes: &[u8], at: usize) -> Result<u16> {
    let raw = bytes.get(at..at + 2).context("ELF header cut short")?;
    Ok(u16::from_le_bytes(raw.try_into()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32> {
    let raw = bytes.get(at..at + 4).context("ELF header cut short")?;
    Ok(u32::from_le_bytes(raw.try_into()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Result<u64> {
    let raw = bytes.get(at..at + 8).context("ELF header cut short")?;
    Ok(u64::from_le_bytes(raw.try_into()?))
}

/// The ELF header and program headers of `vmcore`.
fn headers(vmcore: &[u8]) -> Result<Vec<Phdr>> {
    ensure!(
        vmcore.starts_with(b"\x7fELF\x02\x01"),
        "not a 64-bit little-endian ELF file"
    );
    let phoff = usize::try_from(u64_at(vmcore, 32)?)?;
    let phentsize = usize::from(u16_at(vmcore, 54)?);
    let phnum = usize::from(u16_at(vmcore, 56)?);
    ensure!(
        phentsize == PHDR_SIZE,
        "program headers of {phentsize} bytes"
    );
    (0..phnum)
        .map(|index| {
            let at = phoff + index * PHDR_SIZE;
            Ok(Phdr {
                kind: u32_at(vmcore, at)?,
                flags: u32_at(vmcore, at + 4)?,
                offset: u64_at(vmcore, at + 8)?,
                vaddr: u64_at(vmcore, at + 16)?,
                paddr: u64_at(vmcore, at + 24)?,
                filesz: u64_at(vmcore, at + 32)?,
                memsz: u64_at(vmcore, at + 40)?,
                align: u64_at(vmcore, at + 48)?,
            })
        })
        .collect()
}

/// The byte ranges `(offset, length)` of `file` that `cmd` reads, from an strace log of its
/// `openat`, `lseek`, `read` and `pread64` calls.
pub fn traced_reads(cmd: &mut Command, file: &Path, scratch: &Path) -> Result<Vec<(u64, u64)>> {
    let log = scratch.join("strace.log");
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|arg| arg.to_owned()).collect();
    let mut traced = Command::new("strace");
    traced
        .args([
            "-f",
            "-s",
            "0",
            "-e",
            "trace=openat,lseek,read,pread64,close",
            "-o",
        ])
        .arg(&log)
        .arg(program)
        .args(args);
    shell::run(&mut traced)?;
    let text = std::fs::read_to_string(&log)?;
    let name = file.to_string_lossy();
    let mut open: HashMap<(String, u64), u64> = HashMap::new();
    let mut ranges = Vec::new();
    for line in text.lines() {
        let (pid, call) = line.split_once(char::is_whitespace).unwrap_or(("", line));
        let call = call.trim_start();
        let Some((head, result)) = call.rsplit_once(" = ") else {
            continue;
        };
        let Ok(result) = result
            .split_whitespace()
            .next()
            .unwrap_or("")
            .parse::<i64>()
        else {
            continue;
        };
        let Some((function, args)) = head.split_once('(') else {
            continue;
        };
        let args: Vec<&str> = args.trim_end_matches(')').split(", ").collect();
        let fd = |index: usize| args.get(index).and_then(|word| word.parse::<u64>().ok());
        match function {
            "openat" if result >= 0 && args.get(1).is_some_and(|path| path.contains(&*name)) => {
                open.insert((pid.to_owned(), result.unsigned_abs()), 0);
            }
            "close" => {
                if let Some(fd) = fd(0) {
                    open.remove(&(pid.to_owned(), fd));
                }
            }
            "lseek" if result >= 0 => {
                if let Some(position) = fd(0).and_then(|fd| open.get_mut(&(pid.to_owned(), fd))) {
                    *position = result.unsigned_abs();
                }
            }
            "read" if result > 0 => {
                if let Some(position) = fd(0).and_then(|fd| open.get_mut(&(pid.to_owned(), fd))) {
                    ranges.push((*position, result.unsigned_abs()));
                    *position += result.unsigned_abs();
                }
            }
            "pread64" if result > 0 => {
                let offset = args.get(3).and_then(|word| word.parse::<u64>().ok());
                if let (Some(fd), Some(offset)) = (fd(0), offset)
                    && open.contains_key(&(pid.to_owned(), fd))
                {
                    ranges.push((offset, result.unsigned_abs()));
                }
            }
            _ => {}
        }
    }
    ensure!(!ranges.is_empty(), "strace saw no reads of {name}");
    Ok(ranges)
}

/// What trimming kept.
#[derive(Debug)]
pub struct Trimmed {
    pub pages: usize,
    pub bytes: u64,
}

/// Writes to `output` an ELF vmcore with the notes of `input` and, of its memory, only the
/// pages that overlap `reads` (file ranges of `input`).
pub fn trim(input: &Path, reads: &[(u64, u64)], output: &Path) -> Result<Trimmed> {
    let vmcore = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let phdrs = headers(&vmcore)?;
    // Kept pages as (segment index, page offset inside the segment).
    let mut kept = BTreeSet::new();
    for (index, phdr) in phdrs.iter().enumerate() {
        if phdr.kind != PT_LOAD {
            continue;
        }
        for &(offset, length) in reads {
            let start = offset.max(phdr.offset);
            let end = offset
                .saturating_add(length)
                .min(phdr.offset.saturating_add(phdr.filesz));
            let mut page = (start - phdr.offset) / PAGE * PAGE;
            while start < end && phdr.offset.saturating_add(page) < end {
                kept.insert((index, page));
                page += PAGE;
            }
        }
    }
    ensure!(!kept.is_empty(), "no read fell inside the vmcore's memory");
    // Runs of consecutive pages of one segment become one new PT_LOAD.
    let mut runs: Vec<(usize, u64, u64)> = Vec::new();
    for (index, page) in kept {
        match runs.last_mut() {
            Some((run_index, run_start, run_len))
                if *run_index == index && *run_start + *run_len == page =>
            {
                *run_len += PAGE;
            }
            _ => runs.push((index, page, PAGE)),
        }
    }
    let notes: Vec<Phdr> = phdrs
        .iter()
        .copied()
        .filter(|p| p.kind == PT_NOTE)
        .collect();
    ensure!(
        notes.len() == 1,
        "{} PT_NOTE headers, expected one",
        notes.len()
    );
    let note = notes[0];
    let phnum = 1 + runs.len();
    ensure!(phnum < usize::from(u16::MAX), "too many segments");
    let note_offset = (EHDR_SIZE + phnum * PHDR_SIZE) as u64;
    let mut cursor = (note_offset + note.filesz).div_ceil(PAGE) * PAGE;
    let mut new_phdrs = vec![Phdr {
        offset: note_offset,
        ..note
    }];
    let mut bodies: Vec<(u64, &[u8])> = Vec::new();
    for &(index, start, length) in &runs {
        let phdr = phdrs[index];
        let length = length.min(phdr.filesz - start);
        let from = usize::try_from(phdr.offset.saturating_add(start))?;
        let body = vmcore
            .get(from..from.saturating_add(usize::try_from(length)?))
            .context("a PT_LOAD runs past the end of the file")?;
        new_phdrs.push(Phdr {
            kind: PT_LOAD,
            flags: phdr.flags,
            offset: cursor,
            vaddr: phdr.vaddr + start,
            paddr: phdr.paddr + start,
            filesz: length,
            memsz: length,
            align: phdr.align,
        });
        bodies.push((cursor, body));
        cursor += length;
    }
    let mut out = vmcore
        .get(..EHDR_SIZE)
        .context("ELF header cut short")?
        .to_vec();
    out[32..40].copy_from_slice(&(EHDR_SIZE as u64).to_le_bytes());
    // No section headers: e_shoff, e_shnum, e_shstrndx.
    out[40..48].copy_from_slice(&0u64.to_le_bytes());
    out[56..58].copy_from_slice(&u16::try_from(phnum)?.to_le_bytes());
    out[60..64].copy_from_slice(&[0; 4]);
    for phdr in &new_phdrs {
        for (value, width) in [
            (u64::from(phdr.kind), 4),
            (u64::from(phdr.flags), 4),
            (phdr.offset, 8),
            (phdr.vaddr, 8),
            (phdr.paddr, 8),
            (phdr.filesz, 8),
            (phdr.memsz, 8),
            (phdr.align, 8),
        ] {
            out.extend_from_slice(&value.to_le_bytes()[..width]);
        }
    }
    let note_from = usize::try_from(note.offset)?;
    out.extend_from_slice(
        vmcore
            .get(note_from..note_from.saturating_add(usize::try_from(note.filesz)?))
            .context("the PT_NOTE runs past the end of the file")?,
    );
    for (offset, body) in bodies {
        out.resize(usize::try_from(offset)?, 0);
        out.extend_from_slice(body);
    }
    if out.len() as u64 != cursor {
        bail!("trimmed vmcore has {} bytes, expected {cursor}", out.len());
    }
    std::fs::write(output, &out)?;
    Ok(Trimmed {
        pages: runs.iter().map(|(_, _, len)| (len / PAGE) as usize).sum(),
        bytes: out.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF64 core with one PT_NOTE and two PT_LOADs of `pages` pages each, every page filled
    /// with its own number.
    fn core(pages: u64) -> Vec<u8> {
        let note = b"NOTEDATA".to_vec();
        let phnum = 3u16;
        let data_start = 4096u64;
        let mut out = vec![0u8; EHDR_SIZE];
        out[..6].copy_from_slice(b"\x7fELF\x02\x01");
        out[32..40].copy_from_slice(&(EHDR_SIZE as u64).to_le_bytes());
        out[54..56].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
        out[56..58].copy_from_slice(&phnum.to_le_bytes());
        let note_offset = (EHDR_SIZE + 3 * PHDR_SIZE) as u64;
        let loads = [
            (0x10_0000u64, data_start),
            (0x80_0000, data_start + pages * PAGE),
        ];
        let mut headers = vec![(PT_NOTE, note_offset, 0, 0, note.len() as u64)];
        for (paddr, offset) in loads {
            headers.push((
                PT_LOAD,
                offset,
                paddr + 0xffff_8000_0000_0000,
                paddr,
                pages * PAGE,
            ));
        }
        for (kind, offset, vaddr, paddr, size) in headers {
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&7u32.to_le_bytes());
            for value in [offset, vaddr, paddr, size, size, 0] {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        out.extend_from_slice(&note);
        out.resize(data_start as usize, 0);
        for page in 0..2 * pages {
            out.extend(std::iter::repeat_n(page as u8, PAGE as usize));
        }
        out
    }

    #[test]
    fn keeps_only_the_pages_read_at_their_addresses() {
        let dir = std::env::temp_dir().join(format!("lab-trim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("core");
        let output = dir.join("trimmed");
        std::fs::write(&input, core(4)).unwrap();
        // Page 1 of the first segment (a read straddling into page 2), and page 3 of the second.
        let reads = [(4096 + PAGE + 100, PAGE), (4096 + 7 * PAGE + 5, 10)];
        let kept = trim(&input, &reads, &output).unwrap();
        assert_eq!(kept.pages, 3);
        let bytes = std::fs::read(&output).unwrap();
        let phdrs = headers(&bytes).unwrap();
        assert_eq!(phdrs.len(), 3);
        assert_eq!(phdrs[0].kind, PT_NOTE);
        let note = &bytes[phdrs[0].offset as usize..][..phdrs[0].filesz as usize];
        assert_eq!(note, b"NOTEDATA");
        let first = phdrs[1];
        assert_eq!((first.paddr, first.filesz), (0x10_0000 + PAGE, 2 * PAGE));
        assert_eq!(first.vaddr, 0xffff_8000_0000_0000 + 0x10_0000 + PAGE);
        assert_eq!(bytes[first.offset as usize], 1);
        assert_eq!(bytes[(first.offset + PAGE) as usize], 2);
        let second = phdrs[2];
        assert_eq!((second.paddr, second.filesz), (0x80_0000 + 3 * PAGE, PAGE));
        assert_eq!(bytes[second.offset as usize], 7);
        assert_eq!(bytes.len() as u64, second.offset + PAGE);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn refuses_what_is_not_a_core() {
        let dir = std::env::temp_dir().join(format!("lab-trim-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("core");
        std::fs::write(&input, b"not an ELF file at all").unwrap();
        let err = trim(&input, &[(0, 4)], &dir.join("out")).unwrap_err();
        assert!(format!("{err:#}").contains("ELF"), "{err:#}");
        let mut short = core(1);
        short.truncate(EHDR_SIZE + 10);
        std::fs::write(&input, short).unwrap();
        assert!(trim(&input, &[(0, 4)], &dir.join("out")).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
