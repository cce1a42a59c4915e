//! A fake system for `lastgasp initramfs` and the distribution hooks: block devices in sysfs
//! with their modalias files and bound drivers, real ext4 and FAT filesystems made by mkfs,
//! /proc's mountinfo, and a kernel module tree with xz-compressed modules and its config.

#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command as Process, Stdio};

pub const RELEASE: &str = "6.12.0-test";
pub const PCI: &str = "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00";
pub const VIRTIO_BLOCK: &str = "virtio:d00000002v00001AF4";

pub fn run(program: &str, args: &[&str]) {
    let status = Process::new(program)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {program} (install its Debian package): {e}"));
    assert!(status.success(), "{program} {args:?}");
}

fn xz(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Process::new("xz")
        .args(["--check=crc32", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("xz (xz-utils) is needed for this test");
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap().stdout
}

pub fn module_bytes(name: &str) -> Vec<u8> {
    let mut bytes = b"\x7fELF".to_vec();
    bytes.extend(name.bytes().cycle().take(3000));
    bytes
}

pub struct System {
    pub root: tempfile::TempDir,
    pub ext4_uuid: String,
    pub fat_uuid: String,
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A disk on a virtio-blk controller, its first partition holding `image`.
fn disk(root: &Path, slot: u8, disk: &str, number: &str, image: &Path) {
    let pci = root.join(format!("sys/devices/pci0000:00/0000:00:0{slot}.0"));
    let virtio = pci.join(format!("virtio{slot}"));
    let partition = virtio.join(format!("block/{disk}/{disk}1"));
    write(&pci.join("modalias"), format!("{PCI}\n"));
    write(&virtio.join("modalias"), format!("{VIRTIO_BLOCK}\n"));
    write(&partition.join("dev"), format!("{number}\n"));
    std::fs::create_dir_all(pci.join("driver")).unwrap();
    std::fs::create_dir_all(virtio.join("driver")).unwrap();
    // The running kernel has virtio_pci built in (no module link) and virtio_blk as a module.
    symlink(
        "../../../../../module/virtio_blk",
        virtio.join("driver/module"),
    )
    .unwrap();
    let class = root.join("sys/class/block");
    std::fs::create_dir_all(&class).unwrap();
    symlink(
        format!("../../devices/pci0000:00/0000:00:0{slot}.0/virtio{slot}/block/{disk}/{disk}1"),
        class.join(format!("{disk}1")),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("dev")).unwrap();
    std::fs::hard_link(image, root.join(format!("dev/{disk}1"))).unwrap();
}

pub fn system(images: &Path) -> System {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let ext4 = images.join("ext4.img");
    std::fs::File::create(&ext4)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let ext4_uuid = "4c1d0f3e-2b6a-4e8d-9c7f-1a2b3c4d5e6f".to_string();
    run(
        "mkfs.ext4",
        &["-q", "-F", "-U", &ext4_uuid, ext4.to_str().unwrap()],
    );
    let fat = images.join("fat.img");
    std::fs::File::create(&fat)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    run(
        "mkfs.vfat",
        &[
            "-F",
            "16",
            "-i",
            "0badcafe",
            "-n",
            "VAR",
            fat.to_str().unwrap(),
        ],
    );
    disk(r, 4, "vda", "253:1", &ext4);
    disk(r, 5, "vdb", "253:17", &fat);
    write(&r.join("proc/sys/kernel/osrelease"), format!("{RELEASE}\n"));
    write(
        &r.join("proc/self/mountinfo"),
        "22 1 253:1 / / rw,relatime - ext4 /dev/vda1 rw\n\
         23 22 0:21 / /proc rw - proc proc rw\n\
         30 22 253:17 / /var rw,relatime - vfat /dev/vdb1 rw\n",
    );
    let modules = r.join("lib/modules").join(RELEASE);
    for name in [
        "virtio_blk",
        "ext4",
        "jbd2",
        "mbcache",
        "crc16",
        "crc32c_generic",
        "fat",
        "vfat",
        "nls_cp437",
        "nls_utf8",
    ] {
        let dir = match name {
            "virtio_blk" => "drivers/block",
            "crc16" => "lib",
            "crc32c_generic" => "crypto",
            n if n.starts_with("nls") => "fs/nls",
            "vfat" | "fat" => "fs/fat",
            _ => "fs",
        };
        write(
            &modules.join(format!("kernel/{dir}/{name}.ko.xz")),
            xz(&module_bytes(name)),
        );
    }
    write(
        &modules.join("modules.dep"),
        "kernel/drivers/block/virtio_blk.ko.xz:\n\
         kernel/fs/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2.ko.xz\n\
         kernel/fs/jbd2.ko.xz:\nkernel/fs/mbcache.ko.xz:\nkernel/lib/crc16.ko.xz:\n\
         kernel/fs/fat/vfat.ko.xz: kernel/fs/fat/fat.ko.xz\nkernel/fs/fat/fat.ko.xz:\n\
         kernel/fs/nls/nls_cp437.ko.xz:\nkernel/fs/nls/nls_utf8.ko.xz:\n\
         kernel/crypto/crc32c_generic.ko.xz:\n",
    );
    // As Debian 6.12 writes it, including a line without pre: or post:.
    write(
        &modules.join("modules.softdep"),
        "# Soft dependencies extracted from modules themselves.\n\
         softdep ext4 pre: crypto-crc32c\nsoftdep jbd2 pre: crypto-crc32c\nsoftdep cifs gcm\n",
    );
    write(
        &modules.join("modules.alias"),
        "alias virtio:d00000002v* virtio_blk\nalias fs-ext4 ext4\nalias fs-vfat vfat\nalias nls_utf-8 nls_utf8\n\
         alias crypto-crc32c crc32c_generic\n",
    );
    write(
        &modules.join("modules.builtin"),
        "kernel/drivers/virtio/virtio_pci.ko\n",
    );
    write(
        &modules.join("modules.builtin.modinfo"),
        "virtio_pci.alias=pci:v00001AF4d*sv*sd*bc*sc*i*\0virtio_pci.license=GPL\0",
    );
    write(
        &r.join(format!("boot/config-{RELEASE}")),
        "CONFIG_MODULE_COMPRESS_XZ=y\nCONFIG_MODULE_DECOMPRESS=y\nCONFIG_FAT_DEFAULT_IOCHARSET=\"utf8\"\n",
    );
    write(
        &r.join("etc/lastgasp/lastgasp.toml"),
        "[kdump]\ndir = \"/var/crash\"\ndump_level = 1\ncompression = \"zlib\"\n",
    );
    System {
        root,
        ext4_uuid,
        fat_uuid: "0BAD-CAFE".to_string(),
    }
}
