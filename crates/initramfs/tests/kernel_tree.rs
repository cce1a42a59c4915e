//! A kernel module directory on disk, as depmod leaves it, with modules compressed by the real
//! xz, zstd and gzip tools: modules resolve in load order and come out either as they are (when
//! the kernel's config says it decompresses that method itself) or decompressed.

use std::path::Path;
use std::process::{Command, Stdio};

use initramfs::modules::Compression;
use initramfs::{KernelTree, Resolved};

const RELEASE: &str = "6.12.0-test";

/// Stands for a module's ELF bytes: only their round trip matters here.
fn module_bytes(name: &str) -> Vec<u8> {
    let mut bytes = b"\x7fELF".to_vec();
    bytes.extend(name.bytes().cycle().take(5000));
    bytes
}

fn compress(tool: &[&str], data: &[u8]) -> Vec<u8> {
    let mut child = Command::new(tool[0])
        .args(&tool[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} is needed for this test: {e}", tool[0]));
    use std::io::Write;
    child.stdin.take().unwrap().write_all(data).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    output.stdout
}

fn make_tree(root: &Path, config: Option<&str>) {
    let dir = root.join("usr/lib/modules").join(RELEASE);
    let write = |relative: &str, bytes: &[u8]| {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    // The kernel's own flags for modules: crc32 check, 1 MiB dictionary.
    write(
        "kernel/fs/ext4/ext4.ko.xz",
        &compress(
            &["xz", "--check=crc32", "--lzma2=dict=1MiB", "-c"],
            &module_bytes("ext4"),
        ),
    );
    write(
        "kernel/fs/jbd2/jbd2.ko.zst",
        &compress(&["zstd", "-q", "-c"], &module_bytes("jbd2")),
    );
    write(
        "kernel/fs/mbcache.ko.gz",
        &compress(&["gzip", "-c"], &module_bytes("mbcache")),
    );
    write("kernel/lib/crc16.ko", &module_bytes("crc16"));
    write(
        "modules.dep",
        b"kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko kernel/fs/mbcache.ko.gz kernel/fs/jbd2/jbd2.ko.zst\n\
          kernel/lib/crc16.ko:\nkernel/fs/mbcache.ko.gz:\nkernel/fs/jbd2/jbd2.ko.zst:\n",
    );
    write("modules.alias", b"alias fs-ext4 ext4\nalias fs-ext3 ext4\n");
    write("modules.builtin", b"kernel/drivers/block/virtio_blk.ko\n");
    if let Some(config) = config {
        std::fs::create_dir_all(root.join("boot")).unwrap();
        std::fs::write(root.join("boot").join(format!("config-{RELEASE}")), config).unwrap();
    }
}

#[test]
fn modules_are_decompressed_when_the_kernel_cannot() {
    let root = tempfile::tempdir().unwrap();
    make_tree(
        root.path(),
        Some("CONFIG_MODULES=y\n# CONFIG_MODULE_DECOMPRESS is not set\n"),
    );
    let tree = KernelTree::open(root.path(), RELEASE).unwrap();
    assert_eq!(tree.in_kernel, None);
    let Resolved::Load(order) = tree.index.resolve("ext4").unwrap() else {
        panic!("ext4 is loadable here");
    };
    assert_eq!(order, ["crc16", "mbcache", "jbd2", "ext4"]);
    for name in &order {
        let file = tree.module_file(name).unwrap();
        assert_eq!(file.data, module_bytes(name), "{name}");
        assert_eq!(file.compression, Compression::None);
        assert!(
            file.image_path.ends_with(&format!("/{name}.ko")),
            "{}",
            file.image_path
        );
        assert!(
            file.image_path
                .starts_with(&format!("lib/modules/{RELEASE}/kernel/"))
        );
    }
    assert_eq!(tree.index.resolve("virtio_blk").unwrap(), Resolved::Builtin);
}

#[test]
fn modules_stay_compressed_when_the_kernel_decompresses_them() {
    let root = tempfile::tempdir().unwrap();
    make_tree(
        root.path(),
        Some("CONFIG_MODULE_COMPRESS_XZ=y\nCONFIG_MODULE_DECOMPRESS=y\n"),
    );
    let tree = KernelTree::open(root.path(), RELEASE).unwrap();
    assert_eq!(tree.in_kernel, Some(Compression::Xz));
    let ext4 = tree.module_file("ext4").unwrap();
    assert_eq!(ext4.compression, Compression::Xz);
    assert!(ext4.image_path.ends_with("ext4.ko.xz"));
    assert_eq!(
        Compression::Xz.decompress(&ext4.data).unwrap(),
        module_bytes("ext4")
    );
    // The kernel only undoes the one method it was built with.
    let jbd2 = tree.module_file("jbd2").unwrap();
    assert_eq!(jbd2.compression, Compression::None);
    assert_eq!(jbd2.data, module_bytes("jbd2"));
}

#[test]
fn a_missing_module_directory_says_where_it_looked() {
    let root = tempfile::tempdir().unwrap();
    let error = KernelTree::open(root.path(), "9.9.9")
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("no module directory for kernel 9.9.9"),
        "{error}"
    );
    assert!(error.contains("usr/lib/modules/9.9.9"), "{error}");
}

#[test]
fn a_corrupt_compressed_module_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    make_tree(root.path(), None);
    let path = root
        .path()
        .join("usr/lib/modules")
        .join(RELEASE)
        .join("kernel/fs/ext4/ext4.ko.xz");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let tree = KernelTree::open(root.path(), RELEASE).unwrap();
    let error = tree.module_file("ext4").unwrap_err().to_string();
    assert!(error.starts_with("decompressing xz module"), "{error}");
}
