//! The on-disk structures of a kdump-compressed file (64-bit little-endian layout): the
//! `disk_dump_header` in block 0, the `kdump_sub_header` in block 1 and the 24-byte page
//! descriptors. Pure encoding and decoding; the reader and writer do the I/O.

use crate::Error;

pub const SIGNATURE: &[u8; 8] = b"KDUMP   ";
/// The version this crate writes: every 64-bit field of the sub-header is filled.
pub const HEADER_VERSION: i32 = 6;
/// Bytes of `disk_dump_header` up to and including `nr_cpus` (the unused `tasks[]` follow).
pub const HEADER_LEN: usize = 464;
/// Bytes of the 64-bit `kdump_sub_header` of version 6.
pub const SUB_HEADER_LEN: usize = 104;
pub const PAGE_DESC_LEN: usize = 24;
/// Page sizes readers accept (libkdumpfile's bounds).
pub const MIN_BLOCK_SIZE: u32 = 4096;
pub const MAX_BLOCK_SIZE: u32 = 262_144;
/// Each field of `struct new_utsname`.
pub const UTS_FIELD_LEN: usize = 65;

pub const STATUS_ZLIB: u32 = 0x1;
pub const STATUS_LZO: u32 = 0x2;
pub const STATUS_SNAPPY: u32 = 0x4;
pub const STATUS_INCOMPLETE: u32 = 0x8;
pub const STATUS_EXCLUDED_VMEMMAP: u32 = 0x10;
pub const STATUS_ZSTD: u32 = 0x20;

/// `struct new_utsname` of the crashed kernel, as text fields of at most 64 bytes each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utsname {
    pub sysname: String,
    pub nodename: String,
    pub release: String,
    pub version: String,
    pub machine: String,
    pub domainname: String,
}

impl Utsname {
    fn fields(&self) -> [&str; 6] {
        [
            &self.sysname,
            &self.nodename,
            &self.release,
            &self.version,
            &self.machine,
            &self.domainname,
        ]
    }
}

/// The fields of `disk_dump_header` this crate reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskDumpHeader {
    pub header_version: i32,
    pub utsname: Utsname,
    pub timestamp_sec: i64,
    pub timestamp_usec: i64,
    pub status: u32,
    pub block_size: u32,
    pub sub_hdr_size: u32,
    pub bitmap_blocks: u32,
    /// Truncated to 32 bits; the sub-header of version 6 holds the full value.
    pub max_mapnr_32: u32,
    pub nr_cpus: u32,
}

/// The fields of `kdump_sub_header` (64-bit layout).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubHeader {
    pub phys_base: u64,
    pub dump_level: i32,
    pub split: i32,
    pub start_pfn: u64,
    pub end_pfn: u64,
    pub offset_vmcoreinfo: u64,
    pub size_vmcoreinfo: u64,
    pub offset_note: u64,
    pub size_note: u64,
    pub offset_eraseinfo: u64,
    pub size_eraseinfo: u64,
    pub start_pfn_64: u64,
    pub end_pfn_64: u64,
    pub max_mapnr_64: u64,
}

/// One `struct page_desc`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageDesc {
    /// Absolute file offset of the stored page; 0 in an incomplete dump means "never written".
    pub offset: u64,
    pub size: u32,
    /// 0 for a raw page, else the compression's status flag.
    pub flags: u32,
    pub page_flags: u64,
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        v.copy_from_slice(s);
    }
    u32::from_le_bytes(v)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        v.copy_from_slice(s);
    }
    u64::from_le_bytes(v)
}

fn put(b: &mut [u8], at: usize, bytes: &[u8]) {
    b[at..at + bytes.len()].copy_from_slice(bytes);
}

fn c_string(field: &[u8]) -> String {
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

impl DiskDumpHeader {
    /// Encodes the header into the start of `block` (which the caller zero-fills to a block).
    pub fn encode(&self, block: &mut [u8]) {
        put(block, 0, SIGNATURE);
        put(block, 8, &self.header_version.to_le_bytes());
        for (i, field) in self.utsname.fields().iter().enumerate() {
            let bytes = field.as_bytes();
            // Keep a NUL at the end of every field, as the kernel does.
            let len = bytes.len().min(UTS_FIELD_LEN - 1);
            let at = 12 + i * UTS_FIELD_LEN;
            block[at..at + UTS_FIELD_LEN].fill(0);
            put(block, at, &bytes[..len]);
        }
        block[402..408].fill(0);
        put(block, 408, &self.timestamp_sec.to_le_bytes());
        put(block, 416, &self.timestamp_usec.to_le_bytes());
        put(block, 424, &self.status.to_le_bytes());
        put(block, 428, &self.block_size.to_le_bytes());
        put(block, 432, &self.sub_hdr_size.to_le_bytes());
        put(block, 436, &self.bitmap_blocks.to_le_bytes());
        put(block, 440, &self.max_mapnr_32.to_le_bytes());
        // total_ram_blocks, device_blocks, written_blocks, current_cpu: unused, zero.
        block[444..460].fill(0);
        put(block, 460, &self.nr_cpus.to_le_bytes());
    }

    /// Decodes and checks the fixed header; `bytes` must hold at least [`HEADER_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated("disk_dump_header"));
        }
        if &bytes[..8] != SIGNATURE {
            return Err(Error::BadSignature);
        }
        let header_version = le_u32(bytes, 8) as i32;
        if !(1..=0xffff).contains(&header_version) {
            // A big-endian dump puts the version in the high bytes.
            return Err(Error::BadHeader(format!(
                "header_version {:#x} (not a little-endian 64-bit dump?)",
                header_version
            )));
        }
        let mut fields = Vec::with_capacity(6);
        for i in 0..6 {
            let at = 12 + i * UTS_FIELD_LEN;
            fields.push(c_string(&bytes[at..at + UTS_FIELD_LEN]));
        }
        let [sysname, nodename, release, version, machine, domainname]: [String; 6] =
            fields.try_into().unwrap_or_default();
        Ok(DiskDumpHeader {
            header_version,
            utsname: Utsname {
                sysname,
                nodename,
                release,
                version,
                machine,
                domainname,
            },
            timestamp_sec: le_u64(bytes, 408) as i64,
            timestamp_usec: le_u64(bytes, 416) as i64,
            status: le_u32(bytes, 424),
            block_size: le_u32(bytes, 428),
            sub_hdr_size: le_u32(bytes, 432),
            bitmap_blocks: le_u32(bytes, 436),
            max_mapnr_32: le_u32(bytes, 440),
            nr_cpus: le_u32(bytes, 460),
        })
    }
}

impl SubHeader {
    pub fn encode(&self) -> [u8; SUB_HEADER_LEN] {
        let mut b = [0u8; SUB_HEADER_LEN];
        put(&mut b, 0, &self.phys_base.to_le_bytes());
        put(&mut b, 8, &self.dump_level.to_le_bytes());
        put(&mut b, 12, &self.split.to_le_bytes());
        let words = [
            self.start_pfn,
            self.end_pfn,
            self.offset_vmcoreinfo,
            self.size_vmcoreinfo,
            self.offset_note,
            self.size_note,
            self.offset_eraseinfo,
            self.size_eraseinfo,
            self.start_pfn_64,
            self.end_pfn_64,
            self.max_mapnr_64,
        ];
        for (i, w) in words.iter().enumerate() {
            put(&mut b, 16 + 8 * i, &w.to_le_bytes());
        }
        b
    }

    /// Decodes the fields that exist in `header_version`; later ones stay zero.
    pub fn decode(bytes: &[u8], header_version: i32) -> Result<Self, Error> {
        if bytes.len() < SUB_HEADER_LEN {
            return Err(Error::Truncated("kdump_sub_header"));
        }
        let w = |i: usize| le_u64(bytes, 16 + 8 * i);
        let v = header_version;
        Ok(SubHeader {
            phys_base: le_u64(bytes, 0),
            dump_level: le_u32(bytes, 8) as i32,
            split: if v >= 2 { le_u32(bytes, 12) as i32 } else { 0 },
            start_pfn: if v >= 2 { w(0) } else { 0 },
            end_pfn: if v >= 2 { w(1) } else { 0 },
            offset_vmcoreinfo: if v >= 3 { w(2) } else { 0 },
            size_vmcoreinfo: if v >= 3 { w(3) } else { 0 },
            offset_note: if v >= 4 { w(4) } else { 0 },
            size_note: if v >= 4 { w(5) } else { 0 },
            offset_eraseinfo: if v >= 5 { w(6) } else { 0 },
            size_eraseinfo: if v >= 5 { w(7) } else { 0 },
            start_pfn_64: if v >= 6 { w(8) } else { 0 },
            end_pfn_64: if v >= 6 { w(9) } else { 0 },
            max_mapnr_64: if v >= 6 { w(10) } else { 0 },
        })
    }
}

impl PageDesc {
    pub fn encode(&self) -> [u8; PAGE_DESC_LEN] {
        let mut b = [0u8; PAGE_DESC_LEN];
        put(&mut b, 0, &self.offset.to_le_bytes());
        put(&mut b, 8, &self.size.to_le_bytes());
        put(&mut b, 12, &self.flags.to_le_bytes());
        put(&mut b, 16, &self.page_flags.to_le_bytes());
        b
    }

    pub fn decode(bytes: &[u8]) -> Self {
        PageDesc {
            offset: le_u64(bytes, 0),
            size: le_u32(bytes, 8),
            flags: le_u32(bytes, 12),
            page_flags: le_u64(bytes, 16),
        }
    }
}

/// Blocks of bitmap (both halves) for `max_mapnr` pfns: each half is block-aligned, as crash needs.
pub fn bitmap_blocks(max_mapnr: u64, block_size: u32) -> u64 {
    let half_bytes = max_mapnr.div_ceil(8);
    2 * half_bytes.div_ceil(u64::from(block_size))
}

/// Blocks taken by the sub-header and the notes that follow it.
pub fn sub_hdr_blocks(size_note: u64, block_size: u32) -> u64 {
    (SUB_HEADER_LEN as u64 + size_note).div_ceil(u64::from(block_size))
}
