//! ELF core parsing end to end over synthetic cores: segments, notes, VMCOREINFO, CPUs, and
//! each way a file can be wrong.

use vmcore::synthetic::ElfCoreBuilder;
use vmcore::{ElfCore, ElfMemory, Error, Machine, PhysMemory};

fn sample() -> ElfCoreBuilder {
    ElfCoreBuilder::new(Machine::X86_64)
        .prstatus(3)
        .vmcoreinfo("OSRELEASE=6.1.0-56-amd64\nPAGESIZE=4096\n")
        .load(0x1000, 0xffff_8880_0000_1000, vec![0xaa; 0x2000])
        .load_with_memsz(0x10_0000, 0, vec![0xbb; 0x1000], 0x3000)
}

#[test]
fn segments_notes_and_cpus() {
    let bytes = sample().build();
    let core = ElfCore::read(bytes.as_slice()).unwrap();
    assert_eq!(core.machine, Machine::X86_64);
    assert_eq!(core.loads.len(), 2);
    assert_eq!(core.loads[0].paddr, 0x1000);
    assert_eq!(core.loads[0].vaddr, 0xffff_8880_0000_1000);
    assert_eq!(core.loads[1].filesz, 0x1000);
    assert_eq!(core.loads[1].memsz, 0x3000);
    assert_eq!(core.cpu_count(), 3);
    let info = core.vmcoreinfo().unwrap();
    assert_eq!(info.osrelease(), Some("6.1.0-56-amd64"));
    assert!(!core.truncated);
}

#[test]
fn physical_reads_follow_paddr() {
    let bytes = sample().build();
    let core = ElfCore::read(bytes.as_slice()).unwrap();
    let memory = ElfMemory::new(bytes.as_slice(), &core.loads, core.file_size, 4096);
    let mut buf = [0u8; 4];
    memory.read_phys(0x2ffc, &mut buf).unwrap();
    assert_eq!(buf, [0xaa; 4]);
    // Past filesz but inside memsz: ELF's implicit zeros.
    memory.read_phys(0x10_0ffe, &mut buf).unwrap();
    assert_eq!(buf, [0xbb, 0xbb, 0, 0]);
    // Past the end of the first segment: a hole.
    let err = memory.read_phys(0x2ffe, &mut [0u8; 8]).unwrap_err();
    assert!(matches!(err, Error::NotInDump(0x3000)), "{err}");
    assert_eq!(
        memory.present_ranges(),
        vec![0x1000..0x3000, 0x10_0000..0x10_3000]
    );
}

#[test]
fn aarch64_and_qemu_style_zero_vaddr() {
    let bytes = ElfCoreBuilder::new(Machine::Aarch64)
        .load(0x4000_0000, 0, vec![1; 4096])
        .build();
    let core = ElfCore::read(bytes.as_slice()).unwrap();
    assert_eq!(core.machine, Machine::Aarch64);
    assert!(core.vmcoreinfo().is_none(), "no -device vmcoreinfo");
    assert_eq!(core.cpu_count(), 0);
}

#[test]
fn truncated_header_and_tables() {
    let bytes = sample().build();
    for cut in [0, 10, 63, 64, 100, 64 + 56 * 3 - 1] {
        let err = ElfCore::read(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(err, Error::Truncated { .. }),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn truncated_memory_reads_as_missing() {
    let bytes = sample().build();
    let core_full = ElfCore::read(bytes.as_slice()).unwrap();
    let cut = core_full.loads[1].offset as usize + 0x800;
    let short = &bytes[..cut];
    let core = ElfCore::read(short).unwrap();
    assert!(core.truncated);
    let memory = ElfMemory::new(short, &core.loads, core.file_size, 4096);
    let mut buf = [0u8; 16];
    memory.read_phys(0x10_0000, &mut buf).unwrap();
    assert!(matches!(
        memory.read_phys(0x10_0800, &mut buf),
        Err(Error::NotInDump(_))
    ));
}

#[test]
fn refuses_what_is_not_a_core() {
    let mut bytes = sample().build();
    let err = ElfCore::read(
        b"not an elf file at all, just some text to fill 64 bytes.........".as_slice(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no ELF magic"), "{err}");

    bytes[4] = 1;
    assert!(
        ElfCore::read(bytes.as_slice())
            .unwrap_err()
            .to_string()
            .contains("ELF64")
    );
    bytes[4] = 2;
    bytes[16] = 2;
    assert!(
        ElfCore::read(bytes.as_slice())
            .unwrap_err()
            .to_string()
            .contains("not a core dump")
    );
    bytes[16] = 4;

    let other = ElfCoreBuilder::with_e_machine(40).build();
    let err = ElfCore::read(other.as_slice()).unwrap_err();
    assert!(err.to_string().contains("ELF machine 40"), "{err}");
}

#[test]
fn corrupt_program_headers() {
    let mut bytes = sample().build();
    // filesz > memsz in the first PT_LOAD (second program header).
    let ph = 64 + 56;
    bytes[ph + 32..ph + 40].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = ElfCore::read(bytes.as_slice()).unwrap_err();
    assert!(err.to_string().contains("PT_LOAD 1"), "{err}");

    let mut bytes = sample().build();
    // A note segment claiming far more than the file has.
    bytes[64 + 32..64 + 40].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let err = ElfCore::read(bytes.as_slice()).unwrap_err();
    assert!(err.to_string().contains("note"), "{err}");
}

#[test]
fn reads_from_a_file_without_loading_it() {
    use std::io::Write;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&sample().build()).unwrap();
    let handle = std::fs::File::open(file.path()).unwrap();
    let core = ElfCore::read(&handle).unwrap();
    let memory = ElfMemory::new(&handle, &core.loads, core.file_size, 4096);
    let mut buf = [0u8; 2];
    memory.read_phys(0x1000, &mut buf).unwrap();
    assert_eq!(buf, [0xaa, 0xaa]);
}
