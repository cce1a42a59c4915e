//! What a kernel image or initramfs file is, from its first bytes: kexec_file_load's loaders
//! accept an x86 bzImage or an arm64 Image and nothing else, so a wrong file can be named before
//! the call; and an initramfs that is no archive would only show when the capture kernel fails to
//! boot, at the worst moment. Pure.

/// What a kernel file holds, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// x86 boot protocol image: "HdrS" at 0x202.
    BzImage,
    /// arm64 `Image`: "ARM\x64" at 0x38.
    Arm64Image,
    /// gzip, as some distributions ship arm64 kernels (vmlinuz = Image.gz).
    Gzip,
    /// An EFI zboot image ("zimg" at 4): a compressed kernel in a PE wrapper.
    EfiZboot,
    Unknown,
}

/// How many bytes [`ImageKind::detect`] and the setup-header readers below look at (through
/// the bzImage's `init_size` at 0x260).
pub const HEADER_LEN: usize = 0x268;

impl ImageKind {
    pub fn detect(header: &[u8]) -> Self {
        let at =
            |offset: usize, magic: &[u8]| header.get(offset..offset + magic.len()) == Some(magic);
        // Both an EFI-stub bzImage and an arm64 Image start with "MZ", so the specific magics
        // come first.
        if at(0x202, b"HdrS") {
            Self::BzImage
        } else if at(0x38, b"ARM\x64") {
            Self::Arm64Image
        } else if at(0, &[0x1f, 0x8b]) {
            Self::Gzip
        } else if at(0, b"MZ") && at(4, b"zimg") {
            Self::EfiZboot
        } else {
            Self::Unknown
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::BzImage => "bzImage",
            Self::Arm64Image => "arm64 Image",
            Self::Gzip => "gzip-compressed image",
            Self::EfiZboot => "EFI zboot image",
            Self::Unknown => "unknown format",
        }
    }
}

/// The longest command line, NUL included, an x86 bzImage accepts: its setup header's
/// `cmdline_size` (boot protocol 2.06 and later), 255 before. `None` for other images.
pub fn bzimage_cmdline_size(header: &[u8]) -> Option<u32> {
    if ImageKind::detect(header) != ImageKind::BzImage {
        return None;
    }
    let version = u16::from_le_bytes(header.get(0x206..0x208)?.try_into().ok()?);
    if version < 0x0206 {
        return Some(255);
    }
    Some(u32::from_le_bytes(
        header.get(0x238..0x23c)?.try_into().ok()?,
    ))
}

/// The memory the kernel occupies once running, as the image states it: an x86 bzImage's
/// `init_size` (boot protocol 2.10 and later: decompressed kernel, BSS, and the room it
/// decompresses in), an arm64 Image's `image_size` (when not 0). `None` when the image does not
/// say (older protocols, compressed images), so the caller has to assume.
pub fn image_memory_size(header: &[u8]) -> Option<u64> {
    let u32_at = |offset: usize| -> Option<u32> {
        Some(u32::from_le_bytes(
            header.get(offset..offset + 4)?.try_into().ok()?,
        ))
    };
    match ImageKind::detect(header) {
        ImageKind::BzImage => {
            let version = u16::from_le_bytes(header.get(0x206..0x208)?.try_into().ok()?);
            (version >= 0x020a).then_some(())?;
            u32_at(0x260).filter(|&size| size > 0).map(u64::from)
        }
        ImageKind::Arm64Image => {
            let size = u64::from_le_bytes(header.get(16..24)?.try_into().ok()?);
            (size > 0).then_some(size)
        }
        _ => None,
    }
}

/// How an initramfs starts: a newc cpio archive, or one of the compressions the kernel can
/// unpack (gzip, zstd, xz, lzma, bzip2, lz4, lzo). `None` for anything else.
pub fn initramfs_format(header: &[u8]) -> Option<&'static str> {
    const MAGICS: [(&[u8], &str); 9] = [
        (b"070701", "cpio"),
        (b"070702", "cpio"),
        (&[0x1f, 0x8b], "gzip"),
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz"),
        (&[0x5d, 0x00, 0x00], "lzma"),
        (b"BZh", "bzip2"),
        (&[0x02, 0x21, 0x4c, 0x18], "lz4"),
        (&[0x89, b'L', b'Z', b'O', 0x00], "lzo"),
    ];
    MAGICS
        .into_iter()
        .find_map(|(magic, name)| header.starts_with(magic).then_some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bzimage_header() -> Vec<u8> {
        let mut header = vec![0u8; HEADER_LEN];
        header[0..2].copy_from_slice(b"MZ");
        header[0x1fe..0x200].copy_from_slice(&[0x55, 0xaa]);
        header[0x202..0x206].copy_from_slice(b"HdrS");
        header
    }

    #[test]
    fn images_are_told_apart_by_their_magic() {
        assert_eq!(ImageKind::detect(&bzimage_header()), ImageKind::BzImage);
        let mut arm64 = vec![0u8; 0x40];
        arm64[0..2].copy_from_slice(b"MZ");
        arm64[0x38..0x3c].copy_from_slice(b"ARM\x64");
        assert_eq!(ImageKind::detect(&arm64), ImageKind::Arm64Image);
        assert_eq!(ImageKind::detect(&[0x1f, 0x8b, 8, 0]), ImageKind::Gzip);
        assert_eq!(ImageKind::detect(b"MZ\0\0zimg"), ImageKind::EfiZboot);
        assert_eq!(
            ImageKind::detect(b"\x7fELF\x02\x01\x01"),
            ImageKind::Unknown
        );
        assert_eq!(ImageKind::detect(&[]), ImageKind::Unknown);
        // Cut short just before the magic ends.
        assert_eq!(
            ImageKind::detect(&bzimage_header()[..0x205]),
            ImageKind::Unknown
        );
    }

    #[test]
    fn the_command_line_limit_comes_from_the_setup_header() {
        let mut header = bzimage_header();
        header[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        header[0x238..0x23c].copy_from_slice(&2047u32.to_le_bytes());
        assert_eq!(bzimage_cmdline_size(&header), Some(2047));
        header[0x206..0x208].copy_from_slice(&0x0205u16.to_le_bytes());
        assert_eq!(bzimage_cmdline_size(&header), Some(255));
        assert_eq!(bzimage_cmdline_size(&header[..0x207]), None);
        let mut arm64 = vec![0u8; 0x240];
        arm64[0x38..0x3c].copy_from_slice(b"ARM\x64");
        assert_eq!(bzimage_cmdline_size(&arm64), None);
    }

    #[test]
    fn the_memory_size_comes_from_the_image_header() {
        let mut header = bzimage_header();
        header[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        // Debian 12's 6.1.0-57-amd64: 63.6 MiB.
        header[0x260..0x264].copy_from_slice(&0x03f9_8000u32.to_le_bytes());
        assert_eq!(image_memory_size(&header), Some(0x03f9_8000));
        header[0x206..0x208].copy_from_slice(&0x0209u16.to_le_bytes());
        assert_eq!(image_memory_size(&header), None);
        assert_eq!(image_memory_size(&header[..0x262]), None);
        let mut arm64 = vec![0u8; 0x40];
        arm64[0x38..0x3c].copy_from_slice(b"ARM\x64");
        assert_eq!(image_memory_size(&arm64), None);
        arm64[16..24].copy_from_slice(&(40u64 << 20).to_le_bytes());
        assert_eq!(image_memory_size(&arm64), Some(40 << 20));
        assert_eq!(image_memory_size(&[0x1f, 0x8b, 8, 0]), None);
    }

    #[test]
    fn initramfs_formats_the_kernel_unpacks_are_recognised() {
        assert_eq!(initramfs_format(b"07070100000001"), Some("cpio"));
        assert_eq!(initramfs_format(&[0x1f, 0x8b, 8, 0]), Some("gzip"));
        assert_eq!(initramfs_format(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Some("zstd"));
        assert_eq!(initramfs_format(b"\xfd7zXZ\0\0"), Some("xz"));
        assert_eq!(initramfs_format(b"BZh91AY"), Some("bzip2"));
        assert_eq!(initramfs_format(b"#!/bin/sh\n"), None);
        assert_eq!(initramfs_format(b"0707"), None);
        assert_eq!(initramfs_format(&[]), None);
    }

    proptest! {
        #[test]
        fn detection_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..0x300)) {
            crate::fuzzing::check_image_header(&bytes);
        }
    }
}
