//! The containers `Vmcore` opens: kdump-compressed files (written by the kdumpfile crate from a
//! synthetic kernel, some pages excluded), makedumpfile's flattened streams, and the clear
//! one-line errors for everything else.

use std::io::{self, Cursor};

use kdumpfile::{Compression, DumpInfo, PageSource, PfnBits, write_dump};
use vmcore::synthetic_kernel::{RAM_BASE, RAM_SIZE, SyntheticKernel, SyntheticRecord};
use vmcore::{DumpFormat, ElfCore, Error, Machine, Vmcore};

fn kernel_with_log() -> SyntheticKernel {
    let mut kernel = SyntheticKernel::new();
    let records: Vec<SyntheticRecord> = (0..50)
        .map(|i| SyntheticRecord::new(i * 3_000_000, format!("line {i}").as_bytes()))
        .collect();
    kernel.lockless_ring(&records, 6, 12, 0);
    kernel
}

struct Ram<'a> {
    kernel: &'a SyntheticKernel,
    excluded: u64,
    unit: u64,
}

impl PageSource for Ram<'_> {
    fn exclude(&mut self, dumpable: &mut PfnBits) -> io::Result<()> {
        if dumpable.pfns().contains(&self.excluded) {
            dumpable.set(self.excluded, false);
        }
        Ok(())
    }

    fn read_page(&mut self, pfn: u64, page: &mut [u8]) -> io::Result<()> {
        let at = (pfn * self.unit - RAM_BASE) as usize;
        page.copy_from_slice(&self.kernel.ram[at..at + self.unit as usize]);
        Ok(())
    }
}

fn kdump_of(kernel: &SyntheticKernel, excluded_pfn: u64, compression: Compression) -> Vec<u8> {
    kdump_with_unit(kernel, excluded_pfn, compression, 4096)
}

/// A kdump-compressed file of `unit`-byte blocks (QEMU uses 64 KiB for arm64 guests).
fn kdump_with_unit(
    kernel: &SyntheticKernel,
    excluded_pfn: u64,
    compression: Compression,
    unit: u64,
) -> Vec<u8> {
    let elf = ElfCore::read(kernel.elf(2).as_slice()).unwrap();
    let notes = elf.note_segments[0].clone();
    let text = kernel.vmcoreinfo_text();
    let start = notes
        .windows(text.len())
        .position(|w| w == text.as_bytes())
        .unwrap();
    let info = DumpInfo {
        machine: kdumpfile::Machine::X86_64,
        release: "6.1.0-56-amd64".into(),
        version: String::new(),
        crash_time: 1_764_547_200,
        phys_base: 0,
        page_size: unit as u32,
        max_mapnr: (RAM_BASE + RAM_SIZE) / unit,
        notes,
        vmcoreinfo: Some(start..start + text.len()),
        nr_cpus: 2,
        dump_level: 31,
        compression,
    };
    let mut out = Cursor::new(Vec::new());
    let mut source = Ram {
        kernel,
        excluded: excluded_pfn,
        unit,
    };
    write_dump(
        &mut out,
        &info,
        std::slice::from_ref(&(RAM_BASE / unit..(RAM_BASE + RAM_SIZE) / unit)),
        &mut source,
        &mut |_| {},
    )
    .unwrap();
    out.into_inner()
}

#[test]
fn kdump_compressed_reads_like_the_elf_core() {
    let kernel = kernel_with_log();
    let from_elf = Vmcore::from_source(kernel.elf(2), "elf".into()).unwrap();
    let expected = from_elf.dmesg().unwrap();
    assert_eq!(expected.records.len(), 50);
    let excluded = RAM_BASE / 4096 + 0x300;
    for compression in [Compression::None, Compression::Zlib, Compression::Zstd] {
        let dump = kdump_of(&kernel, excluded, compression);
        let core = Vmcore::from_source(dump, "kdump".into()).unwrap();
        assert_eq!(core.format(), DumpFormat::KdumpCompressed);
        assert_eq!(core.machine(), Machine::X86_64);
        assert_eq!(core.cpu_count(), 2);
        assert_eq!(core.page_size(), 4096);
        assert_eq!(
            core.vmcoreinfo().unwrap().osrelease(),
            Some("6.1.0-56-amd64")
        );
        assert_eq!(core.dmesg().unwrap(), expected, "{compression:?}");
        let err = core
            .memory()
            .read_phys(excluded * 4096 + 10, &mut [0; 4])
            .unwrap_err();
        assert!(err.to_string().contains("page not in the dump"), "{err}");
        let ranges = core.memory().present_ranges();
        assert_eq!(ranges.len(), 1);
        assert_eq!(ranges[0], RAM_BASE..RAM_BASE + RAM_SIZE);
    }
}

#[test]
fn kdump_blocks_larger_than_the_kernel_pages() {
    let kernel = kernel_with_log();
    let expected = Vmcore::from_source(kernel.elf(1), "elf".into())
        .unwrap()
        .dmesg()
        .unwrap();
    let dump = kdump_with_unit(&kernel, 0, Compression::Zlib, 65536);
    let core = Vmcore::from_source(dump, "kdump".into()).unwrap();
    assert_eq!(core.memory().page_size(), 65536);
    assert_eq!(core.page_size(), 4096, "the kernel's, from VMCOREINFO");
    assert_eq!(core.dmesg().unwrap(), expected);
}

/// makedumpfile's flattened layout: a 4 KiB header, then big-endian (offset, size) records.
fn flatten(file: &[u8], chunk: usize, end_marker: bool) -> Vec<u8> {
    let mut out = b"makedumpfile".to_vec();
    out.resize(16, 0);
    out.extend_from_slice(&1i64.to_be_bytes());
    out.extend_from_slice(&1i64.to_be_bytes());
    out.resize(4096, 0);
    let mut record = |offset: usize, bytes: &[u8]| {
        out.extend_from_slice(&(offset as i64).to_be_bytes());
        out.extend_from_slice(&(bytes.len() as i64).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    // Garbage first, overwritten by the real bytes later, as a rewritten header would be.
    record(0, &[0xee; 100]);
    let chunks: Vec<(usize, &[u8])> = file
        .chunks(chunk)
        .enumerate()
        .map(|(i, c)| (i * chunk, c))
        .filter(|(_, c)| c.iter().any(|&b| b != 0))
        .collect();
    for (offset, bytes) in chunks.iter().rev() {
        record(*offset, bytes);
    }
    if end_marker {
        out.extend_from_slice(&(-1i64).to_be_bytes());
        out.extend_from_slice(&(-1i64).to_be_bytes());
    }
    out
}

#[test]
fn flattened_streams_read_in_place() {
    let kernel = kernel_with_log();
    let expected = Vmcore::from_source(kernel.elf(1), "elf".into())
        .unwrap()
        .dmesg()
        .unwrap();
    let elf_stream = flatten(&kernel.elf(1), 3000, true);
    let core = Vmcore::from_source(elf_stream, "flat".into()).unwrap();
    assert_eq!(core.format(), DumpFormat::Elf);
    assert_eq!(core.dmesg().unwrap(), expected);

    let kdump = kdump_of(&kernel, 0, Compression::Zlib);
    let kdump_stream = flatten(&kdump, 4096, true);
    let core = Vmcore::from_source(kdump_stream, "flat".into()).unwrap();
    assert_eq!(core.format(), DumpFormat::KdumpCompressed);
    assert_eq!(core.dmesg().unwrap(), expected);
}

#[test]
fn flattened_stream_without_end_marker() {
    let kernel = kernel_with_log();
    let stream = flatten(&kernel.elf(1)[..20_000], 4096, false);
    let err = Vmcore::from_source(stream, "flat".into()).unwrap_err();
    assert!(err.to_string().contains("no end marker"), "{err}");
}

#[test]
fn open_names_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let mut elf32 = b"\x7fELF\x01\x01\x01".to_vec();
    elf32.resize(64, 0);
    let cases: [(&str, &[u8], &str); 6] = [
        ("elf32", &elf32, "ELF class 1 is not ELF64"),
        ("empty", b"", "not a vmcore: the file is empty"),
        (
            "text",
            b"hello, world\n",
            "not a vmcore: neither an ELF core",
        ),
        ("diskdump", b"DISKDUMP\x01\0\0\0", "old diskdump file"),
        ("kdump", b"KDUMP   \x06\0\0\0", "kdump-compressed"),
        (
            "short-elf",
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0",
            "ELF header is truncated",
        ),
    ];
    for (name, bytes, message) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = Vmcore::open(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: ", path.display())), "{err}");
        assert!(err.contains(message), "{name}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
    let missing = dir.path().join("missing");
    let err = Vmcore::open(&missing).unwrap_err();
    assert!(matches!(&err, Error::File { source, .. } if matches!(**source, Error::Open(_))));
    assert_eq!(
        err.to_string(),
        format!(
            "{}: cannot open: No such file or directory (os error 2)",
            missing.display()
        )
    );
}
