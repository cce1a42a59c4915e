//! Everything the lab boots, fetched from Debian's packages and cached under `target/lab/`:
//! host tools, the current Debian kernel image of each release the lab boots, its headers, the
//! crash-test module built against them and the static lastgasp binary.

use super::apt::Apt;
use super::arch::Arch;
use super::newer_kbuild;
use super::suite::Suite;
use crate::shell::{self, have};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The guest kernel and what was built for it.
pub struct Kernel {
    pub arch: Arch,
    pub release: String,
    pub vmlinuz: PathBuf,
    /// `lib/modules/<release>/kernel` of the unpacked image package (its parent has
    /// modules.dep and the other indexes).
    pub modules: PathBuf,
    /// The kernel's build headers, for the crash-test module.
    pub headers: PathBuf,
    /// `make` variables its headers need on this host (see [`newer_kbuild`]).
    pub make_overrides: Vec<String>,
}

impl Kernel {
    /// A module of the kernel package by its path under `kernel/` (`fs/pstore/ramoops.ko`),
    /// decompressed when the package ships it xz-compressed (busybox's insmod takes plain
    /// modules only); `None` when the kernel has it built in.
    pub fn module(&self, relative: &str) -> Result<Option<Vec<u8>>> {
        let plain = self.modules.join(relative);
        if plain.exists() {
            return std::fs::read(&plain)
                .map(Some)
                .with_context(|| format!("reading {}", plain.display()));
        }
        let xz = self.modules.join(format!("{relative}.xz"));
        if !xz.exists() {
            return Ok(None);
        }
        let out = shell::run(Command::new("xz").arg("-dc").arg(&xz))?;
        Ok(Some(out.stdout))
    }
}

/// Host programs the lab runs, with the Debian package that provides each.
fn host_tools(arch: Arch) -> &'static [(&'static str, &'static str)] {
    match arch {
        Arch::X86_64 => &[
            ("qemu-system-x86_64", "qemu-system-x86"),
            ("/bin/busybox", "busybox-static"),
            ("/usr/share/OVMF/OVMF_CODE_4M.fd", "ovmf"),
            ("make", "make"),
            ("gcc", "gcc"),
            ("xz", "xz-utils"),
            // Indexes the unpacked kernel's modules (see index_modules).
            ("depmod", "kmod"),
        ],
        Arch::Aarch64 => &[
            ("qemu-system-aarch64", "qemu-system-arm"),
            ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
            ("make", "make"),
        ],
    }
}

pub fn apt_install(packages: &[&str]) -> Result<()> {
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

/// Installs the host packages `arch` needs that are missing (Debian hosts; needs root).
pub fn ensure_host_tools(arch: Arch) -> Result<()> {
    let missing: Vec<&str> = host_tools(arch)
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

/// The current Debian kernel of `suite` for `arch` (the one `linux-image-<arch>` depends on),
/// unpacked under `cache`, with its headers. The host's own kernel's headers are installed; any
/// other's are unpacked too: a foreign architecture's with `scripts` pointing at the host's own
/// linux-kbuild (Debian's headers packages link to it), another release's with that release's
/// linux-kbuild beside them (see [`newer_kbuild`]).
pub fn kernel(cache: &Path, arch: Arch, suite: Suite) -> Result<Kernel> {
    let apt = Apt::new(cache, arch, suite)?;
    let meta = format!("linux-image-{}", arch.debian());
    let package = match apt.dependency(&meta, "linux-image-")? {
        Some(package) => package,
        None => {
            apt.update()?;
            apt.dependency(&meta, "linux-image-")?
                .with_context(|| format!("apt-cache names no kernel image for {meta}"))?
        }
    };
    let release = package.trim_start_matches("linux-image-").to_owned();
    let unpacked = cache.join(&package);
    let vmlinuz = unpacked.join(format!("boot/vmlinuz-{release}"));
    if !vmlinuz.exists() {
        apt.unpack(&package, cache, &unpacked)?;
    }
    let headers_package = format!("linux-headers-{release}");
    let native_host = arch.native() && suite.is_host();
    let headers = if native_host {
        PathBuf::from(format!("/usr/src/{headers_package}"))
    } else {
        cache
            .join(&headers_package)
            .join(format!("usr/src/{headers_package}"))
    };
    let root = cache.join(&headers_package);
    if !headers.exists() {
        if native_host {
            apt_install(&[&headers_package])?;
        } else if suite.is_host() {
            apt.unpack(&headers_package, cache, &root)?;
            link_host_kbuild(&root, &release)?;
        } else {
            if !arch.native() {
                bail!(
                    "the lab builds modules for {} on {} only",
                    suite.kernel(),
                    Arch::X86_64.name()
                );
            }
            newer_kbuild::unpack(&apt, cache, &root, &release)?;
        }
    }
    let make_overrides = if suite.is_host() {
        Vec::new()
    } else {
        newer_kbuild::prepare(&apt, cache, &root)?
    };
    // Merged /usr: newer releases ship modules under usr/lib.
    let modules = ["usr/lib", "lib"]
        .iter()
        .map(|lib| unpacked.join(format!("{lib}/modules/{release}/kernel")))
        .find(|dir| dir.exists())
        .with_context(|| format!("{package} holds no modules directory"))?;
    let tree = modules
        .parent()
        .expect("the modules directory has a parent")
        .to_path_buf();
    if !tree.join("modules.dep").exists() {
        index_modules(&unpacked, &tree, &release)?;
    }
    Ok(Kernel {
        arch,
        modules,
        vmlinuz,
        release,
        headers,
        make_overrides,
    })
}

/// Runs depmod over an unpacked kernel package (the package leaves that to its installation),
/// so its tree has the modules.dep and modules.alias a capture initramfs is made from.
fn index_modules(unpacked: &Path, tree: &Path, release: &str) -> Result<()> {
    // depmod looks under <base>/lib/modules; a merged-/usr package has only usr/lib.
    let lib = unpacked.join("lib");
    if !lib.exists() {
        std::os::unix::fs::symlink("usr/lib", &lib)?;
    }
    shell::run(Command::new("depmod").arg("-b").arg(unpacked).arg(release))?;
    if !tree.join("modules.dep").exists() {
        bail!("depmod wrote no modules.dep in {}", tree.display());
    }
    Ok(())
}

/// Points a foreign headers tree's `usr/lib/linux-kbuild-<x.y>` at the host's, installing the
/// host's package when missing.
fn link_host_kbuild(root: &Path, release: &str) -> Result<()> {
    let series: Vec<&str> = release.split(['.', '-']).take(2).collect();
    let kbuild = format!("linux-kbuild-{}", series.join("."));
    let host = PathBuf::from("/usr/lib").join(&kbuild);
    if !host.exists() {
        apt_install(&[&kbuild])?;
    }
    let link = root.join("usr/lib").join(&kbuild);
    std::fs::create_dir_all(root.join("usr/lib"))?;
    if !link.exists() {
        std::os::unix::fs::symlink(&host, &link)
            .with_context(|| format!("linking {} to {}", link.display(), host.display()))?;
    }
    Ok(())
}

/// A static busybox for the guest: the host's for the native architecture, Debian's
/// busybox-static package of the guest's architecture otherwise.
pub fn busybox(cache: &Path, arch: Arch) -> Result<PathBuf> {
    if arch.native() {
        return Ok(PathBuf::from("/bin/busybox"));
    }
    let unpacked = cache.join(format!("busybox-static-{}", arch.debian()));
    let busybox = unpacked.join("bin/busybox");
    if !busybox.exists() {
        Apt::new(cache, arch, Suite::Bookworm)?.unpack("busybox-static", cache, &unpacked)?;
    }
    Ok(busybox)
}

/// Builds the crash-test module in `lab/module` against the kernel's headers (cross-compiled
/// for a foreign architecture).
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
    let mut make = Command::new("make");
    make.arg("-s")
        .arg("-C")
        .arg(&kernel.headers)
        .arg(format!("M={}", build.display()));
    if !kernel.arch.native() {
        // Debian's headers Makefile cross-compiles when the build and host architectures differ.
        make.arg("DEB_BUILD_ARCH=amd64")
            .arg(format!("DEB_HOST_ARCH={}", kernel.arch.debian()))
            .arg(format!("DEB_HOST_GNU_TYPE={}", kernel.arch.gnu_type()));
    }
    make.args(&kernel.make_overrides);
    shell::run(make.arg("modules"))?;
    Ok(build.join("lastgasp_crashtest.ko"))
}

/// The most the static, stripped binary may weigh with everything in it: it is the capture
/// initramfs' /init and sits in the crashkernel reservation (kexec-tools, makedumpfile and
/// their libraries, which it replaces, are 4.0 MiB).
pub const MAX_STATIC_BYTES: u64 = 4 << 20;

/// Builds the static `lastgasp` binary that runs inside the guest (the `dist` profile, as it
/// ships), unless `LAB_LASTGASP` names a ready one, and checks its size. The sender
/// `lastgasp-submit` (TLS and HTTP, kept out of `lastgasp`) is built beside it for the packages.
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
            "--profile",
            "dist",
            "-p",
            "lastgasp",
            "-p",
            "lastgasp-submit",
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
    let binary = workspace.join(format!("target/{target}/dist/lastgasp"));
    let size = std::fs::metadata(&binary)
        .with_context(|| format!("reading {}", binary.display()))?
        .len();
    eprintln!("lab: static lastgasp is {size} bytes (at most {MAX_STATIC_BYTES})");
    if size > MAX_STATIC_BYTES {
        bail!(
            "the static lastgasp is {size} bytes, over the {MAX_STATIC_BYTES} bytes a capture \
             initramfs may spend on it"
        );
    }
    Ok(binary)
}

/// Builds lastgasp-server for the scenarios that start one on the host (fleet, netconsole): the
/// debug profile, with the workspace's features (`--bin` names no package), as xtask's own build
/// and `cargo test` resolve them: only the binary is left to link. Returns the binary.
pub fn server_binary(workspace: &Path) -> Result<PathBuf> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--bin", "lastgasp-server"])
        .current_dir(workspace)
        .status()
        .context("running cargo build --bin lastgasp-server")?;
    if !status.success() {
        bail!("building lastgasp-server failed");
    }
    Ok(workspace.join("target/debug/lastgasp-server"))
}
