//! Which kernel and initramfs `load --kdump` loads, and whether the kernel file is an image
//! kexec_file_load accepts on this architecture. The check reads only a header, so a wrong file
//! gets a clear message before the syscall rather than a bare ENOEXEC.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

pub use sys::kexec_image::{HEADER_LEN, ImageKind};

use crate::config_kdump::KdumpConfig;
use crate::paths::under_root;

/// Where `lastgasp initramfs` writes the capture initramfs for a kernel release.
pub fn default_initramfs(release: &str) -> PathBuf {
    PathBuf::from(format!("/var/lib/lastgasp/initramfs-{release}.img"))
}

/// The running kernel's image, where distributions install it: Arch, Fedora and newer Debian
/// keep it beside the modules; Debian and Ubuntu also in /boot.
pub fn kernel_candidates(release: &str) -> [PathBuf; 2] {
    [
        PathBuf::from(format!("/usr/lib/modules/{release}/vmlinuz")),
        PathBuf::from(format!("/boot/vmlinuz-{release}")),
    ]
}

/// The configured kernel, else the first candidate that exists under `root`.
pub fn resolve_kernel(config: &KdumpConfig, root: &Path, release: &str) -> Result<PathBuf> {
    if let Some(kernel) = &config.kernel {
        if !kernel.is_file() {
            bail!(
                "the configured capture kernel {} does not exist ([kdump] kernel)",
                kernel.display()
            );
        }
        return Ok(kernel.clone());
    }
    let candidates = kernel_candidates(release).map(|path| under_root(root, &path));
    match candidates.iter().find(|path| path.is_file()) {
        Some(found) => Ok(found.clone()),
        None => bail!(
            "no kernel image for {release} at {} or {}: set [kdump] kernel to the image to load",
            candidates[0].display(),
            candidates[1].display()
        ),
    }
}

/// The configured initramfs, else the one `lastgasp initramfs` makes.
pub fn resolve_initramfs(config: &KdumpConfig, root: &Path, release: &str) -> Result<PathBuf> {
    if let Some(initrd) = &config.initrd {
        if !initrd.is_file() {
            bail!(
                "the configured capture initramfs {} does not exist ([kdump] initrd)",
                initrd.display()
            );
        }
        return Ok(initrd.clone());
    }
    let path = under_root(root, &default_initramfs(release));
    if !path.is_file() {
        bail!(
            "no capture initramfs at {}: run `lastgasp initramfs` first",
            path.display()
        );
    }
    Ok(path)
}

/// The initramfs's format, or why the capture kernel could not unpack it.
pub fn check_initramfs(path: &Path) -> Result<&'static str> {
    let header = read_header(path)?;
    sys::kexec_image::initramfs_format(&header).ok_or_else(|| {
        anyhow::anyhow!(
            "{} is not an initramfs (neither a cpio archive nor compressed data the kernel \
             unpacks): make it again with `lastgasp initramfs`, or fix [kdump] initrd",
            path.display()
        )
    })
}

/// How the kernel file is handed to kexec_file_load on `arch`, or why it cannot be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    AsIs,
    /// arm64's loader takes only a plain Image, so a gzip'd one is decompressed first.
    Gunzip,
}

pub fn handling(kind: ImageKind, arch: &str) -> Result<Handling, String> {
    let needed = match arch {
        "x86_64" => "a bzImage",
        "aarch64" => "an arm64 Image, plain or gzip'd",
        // Other architectures' loaders decide for themselves.
        _ => return Ok(Handling::AsIs),
    };
    match (arch, kind) {
        ("x86_64", ImageKind::BzImage) | ("aarch64", ImageKind::Arm64Image) => Ok(Handling::AsIs),
        ("aarch64", ImageKind::Gzip) => Ok(Handling::Gunzip),
        (_, found) => Err(format!(
            "is not a kernel kexec can load on {arch} (found: {}; needed: {needed})",
            found.name()
        )),
    }
}

/// Reads the first [`HEADER_LEN`] bytes (fewer for a shorter file).
pub fn read_header(path: &Path) -> Result<Vec<u8>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut header = Vec::with_capacity(HEADER_LEN);
    file.take(HEADER_LEN as u64)
        .read_to_end(&mut header)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(header)
}

/// Largest arm64 Image accepted from a gzip file; real ones are 20-70 MiB.
const MAX_GUNZIPPED: u64 = 512 << 20;

/// Decompresses a gzip'd arm64 Image into an in-memory file for kexec_file_load.
pub fn gunzip_to_memfd(path: &Path) -> Result<File> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut out = sys::memfd("lastgasp-capture-kernel")?;
    let mut decoder = flate2::read::GzDecoder::new(file).take(MAX_GUNZIPPED + 1);
    let written = io::copy(&mut decoder, &mut out)
        .with_context(|| format!("cannot decompress {}", path.display()))?;
    if written > MAX_GUNZIPPED {
        bail!(
            "{} decompresses to more than {} MiB, which is no kernel image",
            path.display(),
            MAX_GUNZIPPED >> 20
        );
    }
    let header = {
        use std::io::{Seek, SeekFrom};
        out.seek(SeekFrom::Start(0))?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        (&out).take(HEADER_LEN as u64).read_to_end(&mut header)?;
        out.seek(SeekFrom::Start(0))?;
        header
    };
    if ImageKind::detect(&header) != ImageKind::Arm64Image {
        bail!(
            "{} is gzip'd but holds no arm64 Image (no ARM\\x64 magic)",
            path.display()
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_architecture_takes_its_own_image() {
        assert_eq!(handling(ImageKind::BzImage, "x86_64"), Ok(Handling::AsIs));
        assert_eq!(
            handling(ImageKind::Arm64Image, "aarch64"),
            Ok(Handling::AsIs)
        );
        assert_eq!(handling(ImageKind::Gzip, "aarch64"), Ok(Handling::Gunzip));
        let wrong = handling(ImageKind::Arm64Image, "x86_64").unwrap_err();
        assert_eq!(
            wrong,
            "is not a kernel kexec can load on x86_64 (found: arm64 Image; needed: a bzImage)"
        );
        assert!(handling(ImageKind::Unknown, "aarch64").is_err());
        assert!(handling(ImageKind::EfiZboot, "aarch64").is_err());
    }

    #[test]
    fn a_gzipped_arm64_image_is_decompressed_into_memory() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let mut image = vec![0u8; 4096];
        image[0x38..0x3c].copy_from_slice(b"ARM\x64");
        let path = dir.path().join("vmlinuz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&image).unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let mut memfd = gunzip_to_memfd(&path).unwrap();
        let mut back = Vec::new();
        memfd.read_to_end(&mut back).unwrap();
        assert_eq!(back, image);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"just text").unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let error = gunzip_to_memfd(&path).unwrap_err().to_string();
        assert!(error.contains("holds no arm64 Image"), "{error}");
    }
}
