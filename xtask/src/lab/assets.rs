//! Everything the lab boots, fetched from Debian's packages and cached under `target/lab/`:
//! host tools, the current Debian kernel image, its headers, the crash-test module built against
//! them and the static lastgasp binary.

use crate::shell::{self, have};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The guest kernel and what was built for it.
pub struct Kernel {
    pub release: String,
    pub vmlinuz: PathBuf,
    /// `lib/modules/<release>/kernel` of the unpacked image package.
    pub modules: PathBuf,
}

/// Host programs the lab runs, with the Debian package that provides each.
const HOST_TOOLS: &[(&str, &str)] = &[
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("/bin/busybox", "busybox-static"),
    ("/usr/share/OVMF/OVMF_CODE_4M.fd", "ovmf"),
    ("make", "make"),
    ("gcc", "gcc"),
];

fn apt_install(packages: &[&str]) -> Result<()> {
    eprintln!("lab: installing {}", packages.join(" "));
    shell::run(Command::new("apt-get").arg("update").arg("-q"))?;
    shell::run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    Ok(())
}

/// Installs the host packages that are missing (Debian/Ubuntu hosts; needs root).
pub fn ensure_host_tools() -> Result<()> {
    let missing: Vec<&str> = HOST_TOOLS
        .iter()
        .filter(|(program, _)| !have(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !have("apt-get") {
        bail!(
            "the lab needs {} (Debian package names)",
            missing.join(", ")
        );
    }
    apt_install(&missing)
}

/// The image package `linux-image-amd64` depends on, e.g. `linux-image-6.1.0-56-amd64`.
fn image_package() -> Result<Option<String>> {
    let depends = shell::stdout(Command::new("apt-cache").args(["depends", "linux-image-amd64"]))?;
    Ok(depends
        .lines()
        .find_map(|line| line.trim().strip_prefix("Depends: "))
        .filter(|name| name.starts_with("linux-image-"))
        .map(str::to_owned))
}

/// The current Debian kernel (the one `linux-image-amd64` depends on), unpacked under `cache`.
pub fn kernel(cache: &Path) -> Result<Kernel> {
    let package = match image_package()? {
        Some(package) => package,
        None => {
            shell::run(Command::new("apt-get").args(["update", "-q"]))?;
            image_package()?.context("apt-cache names no kernel image for linux-image-amd64")?
        }
    };
    let release = package.trim_start_matches("linux-image-").to_owned();
    let unpacked = cache.join(&package);
    let vmlinuz = unpacked.join(format!("boot/vmlinuz-{release}"));
    if !vmlinuz.exists() {
        std::fs::create_dir_all(cache)?;
        eprintln!("lab: downloading {package}");
        shell::run(
            Command::new("apt-get")
                .args(["download", "-q", &package])
                .current_dir(cache),
        )?;
        let deb = std::fs::read_dir(cache)?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .find(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| {
                        name.starts_with(&format!("{package}_")) && name.ends_with(".deb")
                    })
            })
            .with_context(|| {
                format!(
                    "apt-get download left no {package} .deb in {}",
                    cache.display()
                )
            })?;
        shell::run(Command::new("dpkg").arg("-x").arg(&deb).arg(&unpacked))?;
        std::fs::remove_file(&deb)?;
    }
    let headers = PathBuf::from(format!("/usr/src/linux-headers-{release}"));
    if !headers.exists() {
        apt_install(&[&format!("linux-headers-{release}")])?;
    }
    Ok(Kernel {
        modules: unpacked.join(format!("lib/modules/{release}/kernel")),
        vmlinuz,
        release,
    })
}

/// Builds the crash-test module in `lab/module` against the kernel's headers.
pub fn crash_module(workspace: &Path, cache: &Path, kernel: &Kernel) -> Result<PathBuf> {
    let build = cache.join(format!("module-{}", kernel.release));
    std::fs::create_dir_all(&build)?;
    for name in ["lastgasp_crashtest.c", "Kbuild"] {
        let source = workspace.join("lab/module").join(name);
        let target = build.join(name);
        let new =
            std::fs::read(&source).with_context(|| format!("reading {}", source.display()))?;
        if std::fs::read(&target).ok().as_deref() != Some(new.as_slice()) {
            std::fs::write(&target, new)?;
        }
    }
    shell::run(
        Command::new("make")
            .arg("-s")
            .arg("-C")
            .arg(format!("/usr/src/linux-headers-{}", kernel.release))
            .arg(format!("M={}", build.display()))
            .arg("modules"),
    )?;
    Ok(build.join("lastgasp_crashtest.ko"))
}

/// Builds the static `lastgasp` binary that runs inside the guest, unless `LAB_LASTGASP` names
/// a ready one (a release build to check, say).
pub fn lastgasp_binary(workspace: &Path) -> Result<PathBuf> {
    if let Some(ready) = std::env::var_os("LAB_LASTGASP") {
        return Ok(PathBuf::from(ready));
    }
    let target = "x86_64-unknown-linux-gnu";
    eprintln!("lab: building the static lastgasp binary");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "lastgasp",
            "--target",
            target,
        ])
        .env(
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
            "-C target-feature=+crt-static",
        )
        .current_dir(workspace)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the static lastgasp binary failed");
    }
    Ok(workspace.join(format!("target/{target}/release/lastgasp")))
}
