//! Just enough of the ELF header to tell a static executable from one that needs a dynamic
//! loader: the binary that becomes an initramfs' /init has no loader or C library to lean on.

/// What the program headers say about how the file runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linking {
    /// No PT_INTERP: runs on its own (static, or static-pie).
    Static,
    /// PT_INTERP names a loader (e.g. /lib64/ld-linux-x86-64.so.2).
    Dynamic { interpreter: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    #[error("not an ELF file")]
    NotElf,
    #[error("not a 64-bit little-endian ELF file")]
    Unsupported,
    #[error("the ELF program headers lie outside the file")]
    Truncated,
}

const PT_INTERP: u32 = 3;
/// Real executables have a few dozen program headers at most.
const MAX_PROGRAM_HEADERS: u64 = 4096;

/// Reads the program headers of a 64-bit little-endian ELF file (what every architecture
/// lastgasp builds for uses).
pub fn linking(bytes: &[u8]) -> Result<Linking, ElfError> {
    if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err(ElfError::NotElf);
    }
    if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        return Err(ElfError::Unsupported);
    }
    let phoff = u64_at(bytes, 0x20).ok_or(ElfError::Truncated)?;
    let phentsize = u64::from(u16_at(bytes, 0x36).ok_or(ElfError::Truncated)?);
    let phnum = u64::from(u16_at(bytes, 0x38).ok_or(ElfError::Truncated)?);
    if phentsize < 0x38 || phnum > MAX_PROGRAM_HEADERS {
        return Err(ElfError::Truncated);
    }
    for index in 0..phnum {
        let at = index
            .checked_mul(phentsize)
            .and_then(|o| o.checked_add(phoff))
            .and_then(|o| usize::try_from(o).ok())
            .ok_or(ElfError::Truncated)?;
        let kind = u32_at(bytes, at).ok_or(ElfError::Truncated)?;
        if kind != PT_INTERP {
            continue;
        }
        let offset = u64_at(bytes, at + 8).ok_or(ElfError::Truncated)?;
        let size = u64_at(bytes, at + 32).ok_or(ElfError::Truncated)?;
        let interpreter = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(o, s)| bytes.get(o..o.checked_add(s)?))
            .ok_or(ElfError::Truncated)?;
        let interpreter = interpreter.strip_suffix(&[0]).unwrap_or(interpreter);
        return Ok(Linking::Dynamic {
            interpreter: String::from_utf8_lossy(interpreter).into_owned(),
        });
    }
    Ok(Linking::Static)
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        bytes.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_executable_names_its_loader() {
        // The test binary itself is linked the default way: dynamically, against glibc.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let Linking::Dynamic { interpreter } = linking(&me).unwrap() else {
            panic!("the test binary is dynamically linked");
        };
        assert!(interpreter.contains("ld-linux"), "{interpreter}");
    }

    #[test]
    fn a_static_executable_has_no_loader() {
        let busybox = std::fs::read("/bin/busybox")
            .expect("busybox-static (a static executable) is needed for this test");
        assert_eq!(linking(&busybox).unwrap(), Linking::Static);
    }

    #[test]
    fn bad_files_are_refused() {
        assert_eq!(linking(b"#!/bin/sh\n"), Err(ElfError::NotElf));
        assert_eq!(linking(b"\x7fELF\x01\x01"), Err(ElfError::Unsupported));
        assert_eq!(linking(b"\x7fELF\x02\x01\x01"), Err(ElfError::Truncated));
        let mut header = vec![0u8; 64];
        header[..6].copy_from_slice(b"\x7fELF\x02\x01");
        header[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
        header[0x36] = 0x38;
        header[0x38] = 1;
        assert_eq!(linking(&header), Err(ElfError::Truncated));
    }
}
