//! The facts a dump's headers repeat from the crashed kernel, against its VMCOREINFO: the
//! sub-header's `phys_base` (makedumpfile places the kernel image by it, so a wrong one makes the
//! dump unreadable to it whenever KASLR made phys_base negative), the release in `utsname`, the
//! dump level, and the VMCOREINFO text itself.

use std::path::Path;

use anyhow::{Context, Result, bail};
use kdumpfile::KdumpFile;
use vmcore::VmcoreInfo;

/// Checks `dump`'s headers against `info` (the source vmcore's VMCOREINFO) and `level`.
pub fn check(dump: &Path, info: &VmcoreInfo, level: u8) -> Result<String> {
    let kdump = KdumpFile::open_path(dump)
        .with_context(|| format!("{}: not a dump lastgasp can read", dump.display()))?;
    let written = kdump.sub_header().phys_base;
    let wanted = info
        .number_bits("phys_base")
        .context("the vmcore's VMCOREINFO has no NUMBER(phys_base)")?;
    if written != wanted {
        bail!(
            "sub-header phys_base {written:#x}, but NUMBER(phys_base) is {} ({wanted:#x})",
            wanted as i64
        );
    }
    let release = info.osrelease().unwrap_or_default();
    let uts = kdump.header().utsname.release.clone();
    if uts != release {
        bail!("utsname.release {uts:?}, but OSRELEASE is {release:?}");
    }
    let dump_level = kdump.sub_header().dump_level;
    if u32::try_from(dump_level).ok() != Some(u32::from(level)) {
        bail!("sub-header dump_level {dump_level}, asked for {level}");
    }
    let text = kdump
        .vmcoreinfo()
        .context("the dump carries no VMCOREINFO")?;
    if VmcoreInfo::parse(text).osrelease() != Some(release) {
        bail!("the dump's VMCOREINFO names another release");
    }
    Ok(format!(
        "phys_base {written:#x}, release {release}, level {level}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kdumpfile::{Compression, DumpInfo, Machine, PageSource, PfnBits, write_dump};

    struct Zeros;

    impl PageSource for Zeros {
        fn exclude(&mut self, _: &mut PfnBits) -> std::io::Result<()> {
            Ok(())
        }
        fn read_page(&mut self, pfn: u64, page: &mut [u8]) -> std::io::Result<()> {
            page.fill(pfn as u8 + 1);
            Ok(())
        }
    }

    const VMCOREINFO: &str =
        "OSRELEASE=6.12.117+deb13-amd64\nPAGESIZE=4096\nNUMBER(phys_base)=-142606336\n";

    fn dump(dir: &Path, phys_base: u64) -> std::path::PathBuf {
        let at = 12 + 12; // note header and the padded name "VMCOREINFO\0"
        let info = DumpInfo {
            machine: Machine::X86_64,
            release: "6.12.117+deb13-amd64".into(),
            version: String::new(),
            crash_time: 0,
            phys_base,
            page_size: 4096,
            max_mapnr: 2,
            notes: kdumpfile::notes::encode_note(b"VMCOREINFO", 0, VMCOREINFO.as_bytes()),
            vmcoreinfo: Some(at..at + VMCOREINFO.len()),
            nr_cpus: 1,
            dump_level: 31,
            compression: Compression::Zstd,
        };
        let path = dir.join(format!("dump-{phys_base:x}"));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        write_dump(
            &mut file,
            &info,
            std::slice::from_ref(&(0..2)),
            &mut Zeros,
            &mut |_| {},
        )
        .unwrap();
        path
    }

    #[test]
    fn a_negative_phys_base_must_be_written_as_its_bit_pattern() {
        let dir = std::env::temp_dir().join(format!("compat-header-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let info = VmcoreInfo::parse(VMCOREINFO.as_bytes());

        let good = dump(&dir, 0xffff_ffff_f780_0000);
        let seen = check(&good, &info, 31).unwrap();
        assert!(seen.contains("0xfffffffff7800000"), "{seen}");

        let dropped = dump(&dir, 0);
        let err = check(&dropped, &info, 31).unwrap_err().to_string();
        assert!(
            err.contains("phys_base 0x0") && err.contains("-142606336"),
            "{err}"
        );

        let err = check(&good, &info, 1).unwrap_err().to_string();
        assert!(err.contains("dump_level 31, asked for 1"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
