//! `lastgasp estimate` through the binary, on a fake root shaped like the lab's 1 GiB guest as
//! it booted (Debian 12's bzImage header, lastgasp's capture initramfs, MemTotal with 104M
//! reserved): the text and JSON forms agree, the value is the one the lab's guest printed, and
//! what is missing is one line naming the file.

mod common;

use std::io::Write;

use common::{FakeRoot, stderr_of, stdout_of};

const RELEASE: &str = "6.1.0-57-amd64";
/// Debian 12's 6.1.0-57-amd64: its setup header's init_size.
const INIT_SIZE: u32 = 0x03f9_8000;

fn lab_guest() -> FakeRoot {
    let root = FakeRoot::new();
    root.file("proc/sys/kernel/osrelease", &format!("{RELEASE}\n"));
    // What the lab's guest showed with crashkernel=104M.
    root.file(
        "proc/meminfo",
        "MemTotal:         877224 kB\nMemFree: 1 kB\n",
    );
    let mut kernel = vec![0u8; 64 << 10];
    kernel[0x1fe..0x200].copy_from_slice(&[0x55, 0xaa]);
    kernel[0x202..0x206].copy_from_slice(b"HdrS");
    kernel[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    kernel[0x260..0x264].copy_from_slice(&INIT_SIZE.to_le_bytes());
    let path = root.path().join(format!("boot/vmlinuz-{RELEASE}"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, kernel).unwrap();
    // 6.6 MiB unpacked and about 2.5 MiB packed, as the lab's image for a virtio disk with
    // ext4: the first 2.5 MB do not compress (a binary compresses about that badly).
    let mut archive = b"070701".to_vec();
    let mut state = 0x2545_f491_u32;
    while archive.len() < 2_500_000 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        archive.push(state as u8);
    }
    archive.resize(6_920_000, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&archive).unwrap();
    let image = gz.finish().unwrap();
    let path = root
        .path()
        .join(format!("var/lib/lastgasp/initramfs-{RELEASE}.img"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, image).unwrap();
    root
}

#[test]
fn the_lab_guest_gets_what_it_printed() {
    let root = lab_guest();
    let out = root.cmd().arg("estimate").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("crashkernel=104M"), "{text}");
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("  capture kernel: 63.6 MiB ("),
        "{text}"
    );
    assert!(
        text.contains("above the lab's floor for 6.1 (96M"),
        "{text}"
    );

    let out = root.cmd().args(["estimate", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["crashkernel"], "104M");
    assert_eq!(json["bytes"], 104u64 << 20);
    assert_eq!(json["release"], RELEASE);
    assert_eq!(json["floor"]["bytes"], 96u64 << 20);
    let parts = json["parts"].as_array().unwrap();
    assert_eq!(parts[0]["bytes"], u64::from(INIT_SIZE));
    assert_eq!(parts[2]["bytes"], 6_920_000);
    let lines = json["lines"].as_array().unwrap();
    assert_eq!(lines.len(), parts.len() + 2);
}

#[test]
fn a_missing_kernel_or_meminfo_is_one_line_naming_it() {
    let root = lab_guest();
    std::fs::remove_file(root.path().join("proc/meminfo")).unwrap();
    let out = root.cmd().arg("estimate").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("proc/meminfo"), "{stderr}");

    let root = lab_guest();
    std::fs::remove_file(root.path().join(format!("boot/vmlinuz-{RELEASE}"))).unwrap();
    let out = root.cmd().arg("estimate").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(&format!("no kernel image for {RELEASE}")),
        "{stderr}"
    );
}
