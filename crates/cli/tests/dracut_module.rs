//! dist/dracut/99lastgasp with the real dracut (Debian's package): an image built for the lab's
//! Debian kernel (its package unpacked under target/lab, as `cargo xtask lab` leaves it, or
//! fetched here the same way) holds lastgasp, the capture settings, the pre-mount hook and the
//! kernel's own modules for the target, as `lsinitrd` lists them. The target is a fake system's
//! FAT filesystem on a virtio disk (the machine's own disk cannot be read by a test), so the
//! `lastgasp` dracut finds on PATH is the real binary pointed at that system.

mod initramfs_fixture;

use std::path::{Path, PathBuf};
use std::process::Command;

use initramfs_fixture::system;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Debian's current kernel image package, unpacked under target/lab, with depmod's index
/// (a package carries none: its postinst makes it). Returns the release and module directory.
fn lab_kernel() -> (String, PathBuf) {
    let depends = run(Command::new("apt-cache").args(["depends", "linux-image-amd64"]));
    let package = depends
        .lines()
        .find_map(|line| line.trim().strip_prefix("Depends: linux-image-"))
        .map(|rest| format!("linux-image-{rest}"))
        .expect("apt-cache names the kernel image package (run apt-get update)");
    let release = package.trim_start_matches("linux-image-").to_string();
    let lab = workspace().join("target/lab");
    let unpacked = lab.join(&package);
    if !unpacked.join(format!("boot/vmlinuz-{release}")).exists() {
        let download = tempfile::tempdir().unwrap();
        run(Command::new("apt-get")
            .args(["download", "-q", &package])
            .current_dir(download.path()));
        let deb = std::fs::read_dir(download.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .expect("apt-get download leaves a .deb");
        std::fs::create_dir_all(&unpacked).unwrap();
        run(Command::new("dpkg").arg("-x").arg(&deb).arg(&unpacked));
    }
    let lib = ["usr/lib", "lib"]
        .into_iter()
        .find(|lib| unpacked.join(lib).join("modules").join(&release).is_dir())
        .expect("the kernel package holds its modules");
    let modules = unpacked.join(lib).join("modules").join(&release);
    if !modules.join("modules.dep").exists() {
        run(Command::new("depmod")
            .arg("-b")
            .arg(&unpacked)
            .arg(&release));
    }
    (release, modules)
}

/// dracut's own files, with our module added to its modules.d (dracut reads them from
/// $dracutbasedir, so the system's dracut is left as it is).
fn dracut_base(dir: &Path) -> PathBuf {
    let system = Path::new("/usr/lib/dracut");
    assert!(
        system.is_dir(),
        "dracut (Debian package dracut) is needed for this test"
    );
    let base = dir.join("dracut");
    std::fs::create_dir_all(base.join("modules.d")).unwrap();
    for entry in std::fs::read_dir(system).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "modules.d" {
            std::os::unix::fs::symlink(entry.path(), base.join(entry.file_name())).unwrap();
        }
    }
    for entry in std::fs::read_dir(system.join("modules.d")).unwrap() {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(entry.path(), base.join("modules.d").join(entry.file_name()))
            .unwrap();
    }
    std::os::unix::fs::symlink(
        workspace()
            .join("dist/dracut/99lastgasp")
            .canonicalize()
            .unwrap(),
        base.join("modules.d/99lastgasp"),
    )
    .unwrap();
    base
}

#[test]
fn dracut_builds_an_image_with_lastgasp_for_the_lab_kernel() {
    let (release, modules) = lab_kernel();
    let images = tempfile::tempdir().unwrap();
    let fake = system(images.path());
    let work = tempfile::tempdir().unwrap();
    let base = dracut_base(work.path());
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let wrapper = bin.join("lastgasp");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {} --root {} \"$@\"\n",
            assert_cmd::cargo::cargo_bin("lastgasp").display(),
            fake.root.path().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let image = work.path().join("initrd.img");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    run(Command::new("dracut")
        .args([
            "--force",
            "--quiet",
            "--no-hostonly",
            "--no-early-microcode",
            "--no-compress",
        ])
        .args([
            "--modules",
            "base lastgasp",
            "--kver",
            &release,
            "--kmoddir",
        ])
        .arg(&modules)
        .arg(&image)
        .env("dracutbasedir", &base)
        // dracut builds its PATH from DRACUT_PATH.
        .env(
            "DRACUT_PATH",
            format!("{} /sbin /bin /usr/sbin /usr/bin", bin.display()),
        )
        .env("PATH", &path));
    let listing = run(Command::new("lsinitrd")
        .arg(&image)
        .env("dracutbasedir", &base));
    let has = |suffix: &str| listing.lines().any(|line| line.ends_with(suffix));
    for wanted in [
        "usr/bin/lastgasp",
        "etc/lastgasp/lastgasp.toml",
        "/lib/dracut/hooks/pre-mount/90-lastgasp-capture.sh",
        "/virtio_blk.ko",
        "/vfat.ko",
        "/fat.ko",
        "/nls_cp437.ko",
        // Debian's CONFIG_FAT_DEFAULT_IOCHARSET, from the package's own config.
        "/nls_ascii.ko",
    ] {
        assert!(has(wanted), "{wanted} is not in the image:\n{listing}");
    }
    let config = run(Command::new("lsinitrd")
        .arg("-f")
        .arg("etc/lastgasp/lastgasp.toml")
        .arg(&image)
        .env("dracutbasedir", &base));
    assert!(
        config.contains(&format!("target = \"UUID={}\"", fake.fat_uuid)),
        "{config}"
    );
    assert!(config.contains("dir = \"/crash\""), "{config}");
    let hook = run(Command::new("lsinitrd")
        .arg("-f")
        .arg("usr/lib/dracut/hooks/pre-mount/90-lastgasp-capture.sh")
        .arg(&image)
        .env("dracutbasedir", &base));
    assert_eq!(
        hook,
        std::fs::read_to_string(workspace().join("dist/dracut/99lastgasp/lastgasp-capture.sh"))
            .unwrap()
    );
}
