//! Anonymous in-memory files: what an image decompressed in memory is handed to
//! kexec_file_load through, since the syscall takes descriptors, not bytes.

use std::ffi::CString;
use std::fs::File;

use rustix::fs::MemfdFlags;

use crate::Error;

/// `memfd_create(2)` with close-on-exec; `name` only shows in `/proc/<pid>/fd`.
pub fn memfd(name: &str) -> Result<File, Error> {
    let name = CString::new(name).map_err(|_| Error::NulByte {
        call: "memfd_create",
        argument: "name",
    })?;
    rustix::fs::memfd_create(&name, MemfdFlags::CLOEXEC)
        .map(File::from)
        .map_err(|errno| Error::syscall("memfd_create", errno))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom, Write};

    #[test]
    fn a_memfd_holds_what_is_written() {
        let mut file = memfd("image").unwrap();
        file.write_all(b"ARM\x64").unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        let mut back = Vec::new();
        file.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"ARM\x64");
    }
}
