//! Real filesystems made by the distribution's own mkfs tools (e2fsprogs, xfsprogs,
//! btrfs-progs, dosfstools) with a chosen UUID and label: the probe reads back what was asked
//! for, agrees with blkid, and finds each one by UUID, by label and by path in a sysfs tree.
//! A missing tool fails the test with its name: CI installs them.
//!
//! `FSPROBE_WRITE_CORPUS=1` also stores each superblock in the fuzz corpus.

use std::path::{Path, PathBuf};
use std::process::Command;

use fsprobe::{Filesystem, PROBE_SIZE, Spec};

struct Made {
    name: &'static str,
    image: PathBuf,
    expected: Filesystem,
    /// How much of the start of the image the probe needs, for the fuzz corpus.
    corpus_bytes: usize,
}

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (install its Debian package): {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn sparse(path: &Path, mib: u64) {
    std::fs::File::create(path)
        .unwrap()
        .set_len(mib << 20)
        .unwrap();
}

fn make_all(dir: &Path) -> Vec<Made> {
    let mut made = Vec::new();
    let mut add = |name: &'static str,
                   kind,
                   uuid: &str,
                   label: &str,
                   corpus_bytes,
                   mib,
                   make: &dyn Fn(&str)| {
        let image = dir.join(format!("{name}.img"));
        sparse(&image, mib);
        make(image.to_str().unwrap());
        made.push(Made {
            name,
            image,
            expected: Filesystem {
                kind,
                uuid: Some(uuid.to_string()),
                label: Some(label.to_string()),
            },
            corpus_bytes,
        });
    };
    for (name, kind, uuid) in [
        ("ext2", "ext2", "0e6be9de-8139-4a2a-a8f5-7a2e1b0c9d02"),
        ("ext3", "ext3", "0e6be9de-8139-4a2a-a8f5-7a2e1b0c9d03"),
        ("ext4", "ext4", "0e6be9de-8139-4a2a-a8f5-7a2e1b0c9d04"),
    ] {
        let label = format!("dumps-{name}");
        add(
            name,
            kind,
            uuid,
            Box::leak(label.into_boxed_str()),
            4096,
            16,
            &|image| {
                run(
                    &format!("mkfs.{name}"),
                    &[
                        "-q",
                        "-F",
                        "-U",
                        uuid,
                        "-L",
                        &format!("dumps-{name}"),
                        image,
                    ],
                )
            },
        );
    }
    let xfs_uuid = "5f1c2a3b-4d5e-4f60-8172-93a4b5c6d7e8";
    add("xfs", "xfs", xfs_uuid, "crashxfs", 4096, 320, &|image| {
        run(
            "mkfs.xfs",
            &[
                "-q",
                "-f",
                "-m",
                &format!("uuid={xfs_uuid}"),
                "-L",
                "crashxfs",
                image,
            ],
        )
    });
    let btrfs_uuid = "9a8b7c6d-5e4f-4321-8fed-cba987654321";
    add(
        "btrfs",
        "btrfs",
        btrfs_uuid,
        "crash btrfs",
        PROBE_SIZE,
        128,
        &|image| {
            run(
                "mkfs.btrfs",
                &["-q", "-f", "-U", btrfs_uuid, "-L", "crash btrfs", image],
            )
        },
    );
    add(
        "fat32",
        "vfat",
        "1A2B-3C4D",
        "DUMPS32",
        4096,
        64,
        &|image| {
            run(
                "mkfs.vfat",
                &["-F", "32", "-i", "1a2b3c4d", "-n", "DUMPS32", image],
            )
        },
    );
    add(
        "fat16",
        "vfat",
        "5E6F-7A8B",
        "DUMPS16",
        4096,
        32,
        &|image| {
            run(
                "mkfs.vfat",
                &["-F", "16", "-i", "5e6f7a8b", "-n", "DUMPS16", image],
            )
        },
    );
    made
}

fn start(path: &Path, len: usize) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    bytes.truncate(len);
    bytes
}

/// blkid's own reading of the image, the reference on every Linux system.
fn blkid(image: &Path) -> (String, Option<String>, Option<String>) {
    let output = Command::new("blkid")
        .args(["-p", "-o", "export"])
        .arg(image)
        .output()
        .expect("blkid (util-linux) is needed for this test");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let value = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")))
            .map(|v| v.replace("\\ ", " "))
    };
    (
        value("TYPE").unwrap_or_default(),
        value("UUID"),
        value("LABEL"),
    )
}

#[test]
fn probes_what_mkfs_made_as_blkid_does() {
    let dir = tempfile::tempdir().unwrap();
    let made = make_all(dir.path());
    assert_eq!(made.len(), 7);
    for fs in &made {
        let bytes = start(&fs.image, PROBE_SIZE);
        let found = fsprobe::probe(&bytes).unwrap();
        assert_eq!(found.as_ref(), Some(&fs.expected), "{}", fs.name);
        let (kind, uuid, label) = blkid(&fs.image);
        assert_eq!(kind, fs.expected.kind, "{}", fs.name);
        assert_eq!(uuid, fs.expected.uuid, "{}", fs.name);
        assert_eq!(label, fs.expected.label, "{}", fs.name);
        // What the fuzz corpus keeps of it is enough to recognise it.
        let short = start(&fs.image, fs.corpus_bytes);
        assert_eq!(
            fsprobe::probe(&short).unwrap().as_ref(),
            Some(&fs.expected),
            "{}",
            fs.name
        );
        if std::env::var_os("FSPROBE_WRITE_CORPUS").is_some() {
            let corpus = fuzz_corpus::dir("fsprobe_superblock");
            std::fs::create_dir_all(&corpus).unwrap();
            std::fs::write(corpus.join(format!("mkfs-{}", fs.name)), short).unwrap();
        }
    }
}

#[test]
fn a_device_cut_short_or_blank_is_not_a_filesystem() {
    assert_eq!(fsprobe::probe(&[]).unwrap(), None);
    assert_eq!(fsprobe::probe(&vec![0; PROBE_SIZE]).unwrap(), None);
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("ext4.img");
    sparse(&image, 16);
    run("mkfs.ext4", &["-q", "-F", image.to_str().unwrap()]);
    // Magic present, the fields after it cut off.
    let bytes = start(&image, 1024 + 0x3a);
    assert_eq!(
        fsprobe::probe(&bytes).unwrap_err().to_string(),
        "ext superblock: truncated"
    );
}

/// A sysfs tree like a virtio disk's: /sys/class/block/<name> links into /sys/devices, and
/// /dev/<name> the image itself.
fn fake_root(made: &[Made]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let devices = root
        .path()
        .join("sys/devices/pci0000:00/0000:00:04.0/virtio2/block/vda");
    let class = root.path().join("sys/class/block");
    std::fs::create_dir_all(&class).unwrap();
    std::fs::create_dir_all(root.path().join("dev/disk/by-label")).unwrap();
    for (index, fs) in made.iter().enumerate() {
        let name = format!("vda{}", index + 1);
        std::fs::create_dir_all(devices.join(&name)).unwrap();
        std::os::unix::fs::symlink(
            format!("../../devices/pci0000:00/0000:00:04.0/virtio2/block/vda/{name}"),
            class.join(&name),
        )
        .unwrap();
        // A device node on a real system; here a second name for the image.
        std::fs::hard_link(&fs.image, root.path().join("dev").join(&name)).unwrap();
        std::os::unix::fs::symlink(
            format!("../../{name}"),
            root.path().join("dev/disk/by-label").join(fs.name),
        )
        .unwrap();
    }
    // A disk with no filesystem of its own, and a device node that cannot be read.
    std::fs::create_dir_all(&devices).unwrap();
    std::os::unix::fs::symlink(
        "../../devices/pci0000:00/0000:00:04.0/virtio2/block/vda",
        class.join("vda"),
    )
    .unwrap();
    std::fs::write(root.path().join("dev/vda"), vec![0u8; 8192]).unwrap();
    std::fs::create_dir_all(class.join("sr0")).unwrap();
    root
}

#[test]
fn finds_devices_by_uuid_label_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let made = make_all(dir.path());
    let root = fake_root(&made);
    let all = fsprobe::list(root.path()).unwrap();
    assert_eq!(all.len(), made.len() + 2);
    assert!(
        all.iter()
            .find(|d| d.name == "sr0")
            .unwrap()
            .unreadable
            .is_some()
    );
    for (index, fs) in made.iter().enumerate() {
        let name = format!("vda{}", index + 1);
        let uuid = fs.expected.uuid.as_deref().unwrap();
        for spec in [
            format!("UUID={uuid}"),
            format!("UUID={}", uuid.to_uppercase()),
            format!("LABEL={}", fs.expected.label.as_deref().unwrap()),
            format!("/dev/{name}"),
            format!("/dev/disk/by-label/{}", fs.name),
        ] {
            let device = fsprobe::find(root.path(), &Spec::parse(&spec).unwrap())
                .unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(device.name, name, "{spec}");
            assert_eq!(device.node, Path::new("/dev").join(&name));
            assert_eq!(device.filesystem.as_ref(), Some(&fs.expected), "{spec}");
            assert!(
                device.sysfs.ends_with(format!("virtio2/block/vda/{name}")),
                "{spec}"
            );
        }
    }
    let missing = fsprobe::find(root.path(), &Spec::parse("LABEL=nowhere").unwrap()).unwrap_err();
    assert_eq!(
        missing.to_string(),
        format!(
            "no block device holds LABEL=nowhere ({} devices looked at)",
            made.len() + 2
        )
    );
}

#[test]
fn the_same_uuid_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let made = make_all(dir.path());
    let twice = [&made[2], &made[2]].map(|m| Made {
        name: m.name,
        image: m.image.clone(),
        expected: m.expected.clone(),
        corpus_bytes: m.corpus_bytes,
    });
    let root = fake_root(&twice[..1]);
    std::fs::hard_link(&made[2].image, root.path().join("dev/vdb")).unwrap();
    std::fs::create_dir_all(root.path().join("sys/class/block/vdb")).unwrap();
    let spec = Spec::parse(&format!(
        "UUID={}",
        made[2].expected.uuid.as_deref().unwrap()
    ))
    .unwrap();
    let error = fsprobe::find(root.path(), &spec).unwrap_err().to_string();
    assert!(
        error.ends_with("is on more than one device: vda1, vdb"),
        "{error}"
    );
}
