//! `lastgasp initramfs` on a fake system: block devices in sysfs with their modalias files and
//! bound drivers, real ext4 and FAT filesystems made by mkfs, a kernel module tree with
//! xz-compressed modules. The image is unpacked and checked as the kernel would see it: /init,
//! the capture settings, and the modules in load order.

mod initramfs_fixture;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use initramfs_fixture::{RELEASE, System, module_bytes, system};

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
        // ext4's soft dependency on a crc32c implementation comes first.
        [
            "virtio_blk",
            "crc32c_generic",
            "crc16",
            "mbcache",
            "jbd2",
            "ext4"
        ],
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

#[test]
fn a_target_on_device_mapper_is_refused_with_the_alternatives() {
    let images = tempfile::tempdir().unwrap();
    let system = system(images.path());
    let root = system.root.path();
    // The FAT filesystem seen as an LVM volume, dm-0.
    std::fs::create_dir_all(root.join("sys/devices/virtual/block/dm-0")).unwrap();
    std::os::unix::fs::symlink(
        "../../devices/virtual/block/dm-0",
        root.join("sys/class/block/dm-0"),
    )
    .unwrap();
    std::fs::hard_link(root.join("dev/vdb1"), root.join("dev/dm-0")).unwrap();
    std::fs::remove_file(root.join("dev/vdb1")).unwrap();
    std::fs::remove_file(root.join("sys/class/block/vdb1")).unwrap();
    let stderr = lastgasp(&system)
        .args(["initramfs", "--print-modules", "--target", "LABEL=VAR"])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(stderr).unwrap();
    assert!(
        stderr.starts_with("error: LABEL=VAR is on /dev/dm-0, a virtual block device"),
        "{stderr}"
    );
    assert!(stderr.contains("dist/dracut"), "{stderr}");
}
