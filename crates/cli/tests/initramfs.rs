//! `lastgasp initramfs` on a fake system: block devices in sysfs with their modalias files and
//! bound drivers, real ext4 and FAT filesystems made by mkfs, a kernel module tree with
//! xz-compressed modules. The image is unpacked and checked as the kernel would see it: /init,
//! the capture settings, and the modules in load order.

use std::io::Read;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};

use assert_cmd::Command;

const RELEASE: &str = "6.12.0-test";
const PCI: &str = "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00";
const VIRTIO_BLOCK: &str = "virtio:d00000002v00001AF4";

fn run(program: &str, args: &[&str]) {
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

fn module_bytes(name: &str) -> Vec<u8> {
    let mut bytes = b"\x7fELF".to_vec();
    bytes.extend(name.bytes().cycle().take(3000));
    bytes
}

struct System {
    root: tempfile::TempDir,
    ext4_uuid: String,
    fat_uuid: String,
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

fn system(images: &Path) -> System {
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
        "fat",
        "vfat",
        "nls_cp437",
        "nls_utf8",
    ] {
        let dir = match name {
            "virtio_blk" => "drivers/block",
            "crc16" => "lib",
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
         kernel/fs/nls/nls_cp437.ko.xz:\nkernel/fs/nls/nls_utf8.ko.xz:\n",
    );
    write(
        &modules.join("modules.alias"),
        "alias virtio:d00000002v* virtio_blk\nalias fs-ext4 ext4\nalias fs-vfat vfat\nalias nls_utf-8 nls_utf8\n",
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

fn lastgasp(system: &System) -> Command {
    let mut command = Command::cargo_bin("lastgasp").unwrap();
    command
        .arg("--root")
        .arg(system.root.path())
        .env("LASTGASP_LOG_TARGET", "stderr");
    command
}

/// A static executable, as /init must be: busybox-static's.
fn static_binary() -> PathBuf {
    let path = PathBuf::from("/bin/busybox");
    assert!(path.exists(), "busybox-static is needed for this test");
    path
}

fn unpack(image: &Path) -> Vec<initramfs::cpio::Entry> {
    let mut archive = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(image).unwrap())
        .read_to_end(&mut archive)
        .unwrap();
    initramfs::cpio::read(&archive).unwrap()
}

fn entry<'a>(entries: &'a [initramfs::cpio::Entry], path: &str) -> &'a initramfs::cpio::Entry {
    entries
        .iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("{path} is not in the image"))
}

#[test]
fn the_image_holds_init_settings_and_the_modules_to_reach_the_target() {
    let images = tempfile::tempdir().unwrap();
    let system = system(images.path());
    let output = lastgasp(&system)
        .args(["initramfs", "--json", "--binary"])
        .arg(static_binary())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let built: serde_json::Value = serde_json::from_slice(&output).unwrap();
    // Captures go to /var/crash, which is on the FAT filesystem mounted at /var.
    let image = system
        .root
        .path()
        .join(format!("var/lib/lastgasp/initramfs-{RELEASE}.img"));
    assert_eq!(built["path"], image.to_str().unwrap());
    assert_eq!(built["target"]["spec"], format!("UUID={}", system.fat_uuid));
    assert_eq!(built["target"]["device"], "/dev/vdb1");
    assert_eq!(built["target"]["fstype"], "vfat");
    assert_eq!(built["target"]["dir-inside"], "/crash");
    let names: Vec<&str> = built["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["virtio_blk", "fat", "vfat", "nls_cp437", "nls_utf8"]
    );
    assert_eq!(built["builtin"], serde_json::json!(["virtio_pci"]));
    assert_eq!(built["size"], std::fs::metadata(&image).unwrap().len());

    let entries = unpack(&image);
    let init = entry(&entries, "init");
    assert_eq!(init.data, std::fs::read(static_binary()).unwrap());
    assert_eq!(init.mode, 0o100_755);
    assert_eq!(entry(&entries, "dev/console").rdev, (5, 1));
    let settings =
        String::from_utf8(entry(&entries, "etc/lastgasp/lastgasp.toml").data.clone()).unwrap();
    let settings: toml::Table = toml::from_str(&settings).unwrap();
    let kdump = settings["kdump"].as_table().unwrap();
    assert_eq!(
        kdump["target"].as_str().unwrap(),
        format!("UUID={}", system.fat_uuid)
    );
    assert_eq!(kdump["dir"].as_str().unwrap(), "/crash");
    assert_eq!(kdump["dump_level"].as_integer(), Some(1));
    assert_eq!(kdump["compression"].as_str(), Some("zlib"));
    let list = String::from_utf8(
        entry(&entries, "etc/lastgasp/initramfs-modules")
            .data
            .clone(),
    )
    .unwrap();
    let listed: Vec<&str> = list.lines().collect();
    assert_eq!(listed.len(), 5);
    for (path, name) in listed.iter().zip(&names) {
        assert!(path.ends_with(&format!("/{name}.ko.xz")), "{path}");
        // This kernel decompresses xz itself: the file goes in as it is.
        let module = entry(&entries, path.trim_start_matches('/'));
        assert!(module.data.starts_with(b"\xfd7zXZ\0"), "{path}");
        assert_eq!(
            initramfs::Compression::Xz.decompress(&module.data).unwrap(),
            module_bytes(name)
        );
    }
    // Nothing the target does not need: no ext4, no shell, no other binaries.
    assert!(
        !entries
            .iter()
            .any(|e| e.path.contains("ext4") || e.path.starts_with("bin"))
    );
}

#[test]
fn a_given_target_decides_the_modules_and_where_the_directory_lies() {
    let images = tempfile::tempdir().unwrap();
    let system = system(images.path());
    let out = images.path().join("capture.img");
    let target = format!("UUID={}", system.ext4_uuid);
    let stdout = lastgasp(&system)
        .args([
            "initramfs",
            "--target",
            &target,
            "--dir",
            "/srv/dumps",
            "-o",
        ])
        .arg(&out)
        .arg("--binary")
        .arg(static_binary())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(stdout).unwrap();
    assert!(
        text.starts_with(&format!("wrote {} (", out.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "target: {target} (/dev/vda1, ext4), captures in /srv/dumps there"
        )),
        "{text}"
    );
    let order: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        order,
        ["virtio_blk", "crc16", "mbcache", "jbd2", "ext4"],
        "{text}"
    );
    assert!(text.contains("built in: virtio_pci"), "{text}");
    let entries = unpack(&out);
    assert!(entries.iter().any(|e| e.path.ends_with("ext4.ko.xz")));

    // A directory on another filesystem than the target is refused, naming both.
    lastgasp(&system)
        .args([
            "initramfs",
            "--target",
            &target,
            "--dir",
            "/var/crash",
            "-o",
        ])
        .arg(&out)
        .arg("--binary")
        .arg(static_binary())
        .assert()
        .failure()
        .stderr(format!(
            "error: /var/crash is not on {target}, which is mounted at /\n"
        ));
}

#[test]
fn uncompressed_images_are_plain_cpio_that_the_cpio_tool_lists() {
    let images = tempfile::tempdir().unwrap();
    let system = system(images.path());
    let out = images.path().join("capture.cpio");
    lastgasp(&system)
        .args(["initramfs", "--uncompressed", "-q", "-o"])
        .arg(&out)
        .arg("--binary")
        .arg(static_binary())
        .assert()
        .success()
        .stdout("");
    let listing = Process::new("cpio")
        .args(["-t", "--quiet", "-F"])
        .arg(&out)
        .output()
        .expect("the cpio tool is needed for this test");
    let listing = String::from_utf8(listing.stdout).unwrap();
    for path in [
        "init",
        "dev/console",
        "etc/lastgasp/lastgasp.toml",
        "etc/lastgasp/initramfs-modules",
    ] {
        assert!(
            listing.lines().any(|l| l == path),
            "{path} missing from\n{listing}"
        );
    }
}

#[test]
fn a_dynamically_linked_binary_is_refused_in_one_line() {
    let images = tempfile::tempdir().unwrap();
    let system = system(images.path());
    // The binary under test is built the default way, dynamically linked.
    let output = lastgasp(&system)
        .arg("initramfs")
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(output).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("is dynamically linked (it needs /lib"),
        "{stderr}"
    );
    assert!(stderr.contains("use the static build"), "{stderr}");
    assert!(
        !system
            .root
            .path()
            .join("var/lib/lastgasp")
            .join(format!("initramfs-{RELEASE}.img"))
            .exists()
    );
}

#[test]
fn print_modes_give_what_the_distribution_hooks_need() {
    let images = tempfile::tempdir().unwrap();
    let system = system(images.path());
    lastgasp(&system)
        .args(["initramfs", "--print-modules"])
        .assert()
        .success()
        .stdout("virtio_blk\nfat\nvfat\nnls_cp437\nnls_utf8\n");
    let config = lastgasp(&system)
        .args(["initramfs", "--print-config"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let config: toml::Table = toml::from_str(std::str::from_utf8(&config).unwrap()).unwrap();
    assert_eq!(config["kdump"]["target"].as_str(), Some("UUID=0BAD-CAFE"));
    assert_eq!(config["kdump"]["dir"].as_str(), Some("/crash"));
    // The printed configuration is one lastgasp itself accepts.
    let file = images.path().join("printed.toml");
    std::fs::write(&file, toml::to_string(&config).unwrap()).unwrap();
    lastgasp(&system)
        .arg("--config")
        .arg(&file)
        .arg("config")
        .assert()
        .success();
}

#[test]
fn a_kernel_without_modules_is_named() {
    let images = tempfile::tempdir().unwrap();
    let system = system(images.path());
    lastgasp(&system)
        .args(["initramfs", "--print-modules", "--kernel-version", "9.9.9"])
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "no module directory for kernel 9.9.9",
        ));
}
