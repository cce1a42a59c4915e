//! The Arch package for real: the package tree packed as
//! target/dist/arch/lastgasp-<ver>-<rel>-x86_64.pkg.tar (what `pacman -U` takes), installed and
//! removed by Debian's pacman in a throwaway root. pacman runs the package's own hooks and
//! install script chrooted into that root, so it gets a minimal userland: busybox (static) as
//! sh, find, grep and rm. Installing runs 90-lastgasp-install.hook, which must prune a stale
//! capture image; removing runs pre_remove (lastgasp unsetup, the state cleanup), which must
//! leave nothing behind but the crash data.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use super::check::{CRASH_DATA, STATE, left_only_crash_data, plant, tree};
use crate::shell;

/// The commands the hook and the install script use, all busybox applets.
const APPLETS: [&str; 9] = [
    "sh", "find", "grep", "rm", "rmdir", "mkdir", "cat", "echo", "true",
];

/// A kernel that is installed in the throwaway root, and one whose capture image is stale.
const KERNEL: &str = "usr/lib/modules/6.9.0-arch1-1/vmlinuz";
const STALE_IMAGE: &str = "var/lib/lastgasp/initramfs-6.8.0-arch1-1.img";

/// Packs `tree` (with .PKGINFO and .INSTALL) as an uncompressed package pacman installs.
pub fn archive(tree: &Path, name: &str) -> Result<PathBuf> {
    let out = tree
        .parent()
        .and_then(Path::parent)
        .context("the package tree is target/dist/arch/pkg/<name>")?
        .join(name);
    shell::run(
        Command::new("tar")
            .args(["--create", "--owner=0", "--group=0", "--numeric-owner"])
            .arg("--file")
            .arg(&out)
            .arg("--directory")
            .arg(tree)
            // .PKGINFO first, as makepkg packs it, so pacman finds it without reading on.
            .args([".PKGINFO", ".INSTALL", "usr"]),
    )?;
    Ok(out)
}

pub fn install_and_remove(workspace: &Path, package: &Path) -> Result<()> {
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        bail!("installing the Arch package needs busybox-static for the throwaway root's shell");
    }
    let dir = workspace.join("target/dist/pacman");
    super::fresh_dir(&dir)?;
    let root = dir.join("root");
    for sub in ["usr/bin", "tmp", "dev", "var/lib/pacman"] {
        fs::create_dir_all(root.join(sub))?;
    }
    symlink("usr/bin", root.join("bin"))?;
    fs::copy(busybox, root.join("usr/bin/busybox"))?;
    for applet in APPLETS {
        symlink("busybox", root.join("usr/bin").join(applet))?;
    }
    shell::run(
        Command::new("mknod")
            .args(["-m", "666"])
            .arg(root.join("dev/null"))
            .args(["c", "1", "3"]),
    )?;
    let kernel = root.join(KERNEL);
    fs::create_dir_all(kernel.parent().expect("the kernel is in a directory"))?;
    fs::write(&kernel, "kernel")?;
    plant(&root, &[STALE_IMAGE])?;
    let before = tree(&root)?;
    let config = dir.join("pacman.conf");
    fs::write(
        &config,
        "[options]\nArchitecture = x86_64\nSigLevel = Never\nLocalFileSigLevel = Never\n",
    )?;
    let pacman = |args: &[&str]| -> Result<String> {
        shell::stdout(
            Command::new("pacman")
                .arg("--root")
                .arg(&root)
                .arg("--dbpath")
                .arg(root.join("var/lib/pacman"))
                .arg("--config")
                .arg(&config)
                .arg("--noconfirm")
                .args(args),
        )
    };
    let package = package.to_str().context("the package path is not UTF-8")?;
    let output = pacman(&["--upgrade", package])?;
    ensure!(
        root.join("usr/bin/lastgasp").exists()
            && root
                .join("usr/share/libalpm/hooks/90-lastgasp-install.hook")
                .exists(),
        "pacman -U did not install the package's files:\n{output}"
    );
    ensure!(
        output.contains("Updating lastgasp's kdump capture initramfs"),
        "pacman -U did not run 90-lastgasp-install.hook:\n{output}"
    );
    ensure!(
        !root.join(STALE_IMAGE).exists(),
        "90-lastgasp-install.hook did not prune {STALE_IMAGE}, whose kernel is not installed:\n{output}"
    );
    plant(&root, &STATE)?;
    plant(&root, &CRASH_DATA)?;
    // pre_remove stops at a failed `lastgasp unsetup`, before its cleanup: the state being gone
    // shows both ran.
    let output = pacman(&["--remove", "lastgasp"])?;
    // The stale image was there before and is rightly gone: compare without it.
    let mut before = before;
    before.remove(STALE_IMAGE);
    left_only_crash_data(&root, &before, "pacman -R").context(output)?;
    fs::remove_dir_all(&dir)?;
    eprintln!(
        "dist: pacman -U ran the kernel hook (a stale image pruned), pacman -R left only the \
         crash data, in a throwaway root"
    );
    Ok(())
}
