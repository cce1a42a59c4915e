//! Entry points shared by the fuzz targets and the corpus replay test: each feeds arbitrary
//! bytes to this crate's parsers and panics only if an invariant they promise is broken.

use crate::cmdline::{find, is_space, key, split};
use crate::kexec_image::{ImageKind, bzimage_cmdline_size, image_memory_size, initramfs_format};

/// Command lines: every parameter is a non-empty slice of the input, in order, trimmed; no
/// character but whitespace outside them is lost; a parameter's name has no `=`.
pub fn check_cmdline(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let params = split(text);
    let mut from = 0;
    for param in &params {
        assert!(!param.is_empty());
        assert!(!param.starts_with(is_space), "{param:?}");
        assert!(!param.ends_with(is_space), "{param:?}");
        let offset = (param.as_ptr() as usize) - (text.as_ptr() as usize);
        assert!(offset >= from, "parameters out of order in {text:?}");
        from = offset + param.len();
        assert!(!key(param).contains('='), "{param:?}");
    }
    let kept: String = params.concat().chars().filter(|c| !is_space(*c)).collect();
    let all: String = text.chars().filter(|c| !is_space(*c)).collect();
    assert_eq!(kept, all);
    if let Some(first) = params.first() {
        assert_eq!(find(text, key(first)), Some(*first));
    }
}

/// Kernel and initramfs headers: detection never panics, and what it reports is really there.
pub fn check_image_header(data: &[u8]) {
    let kind = ImageKind::detect(data);
    let has = |offset: usize, magic: &[u8]| data.get(offset..offset + magic.len()) == Some(magic);
    match kind {
        ImageKind::BzImage => assert!(has(0x202, b"HdrS")),
        ImageKind::Arm64Image => assert!(has(0x38, b"ARM\x64")),
        ImageKind::Gzip => assert!(has(0, &[0x1f, 0x8b])),
        ImageKind::EfiZboot => assert!(has(0, b"MZ") && has(4, b"zimg")),
        ImageKind::Unknown => assert!(!has(0x202, b"HdrS") && !has(0x38, b"ARM\x64")),
    }
    assert!(!kind.name().is_empty());
    if let Some(name) = initramfs_format(data) {
        assert!(!name.is_empty() && data.len() >= 2);
    }
    if bzimage_cmdline_size(data).is_some() {
        assert_eq!(kind, ImageKind::BzImage);
    }
    if image_memory_size(data).is_some() {
        assert!(matches!(kind, ImageKind::BzImage | ImageKind::Arm64Image));
    }
}
