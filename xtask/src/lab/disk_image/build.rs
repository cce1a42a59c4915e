//! Builds the lab's Debian disk images from their recipes (recipe.rs): a raw file partitioned
//! with sfdisk, attached as a loop device, file systems made, the base system both images share
//! unpacked (base.rs: debootstrap from the host's Debian mirror, once), then in a chroot the
//! bootloader, the kernel and the baked-in lab step unit.
//! Images are cached outside the checkout (/var/cache/lastgasp-lab/images, or
//! `LAB_IMAGE_CACHE`), named by the hash of their recipe, so CI reuses them when present and
//! builds them (a few minutes each) when not. A build goes to a temporary name and is renamed
//! into place only when complete.

use super::loopdev::{LoopDevice, Mounts};
use super::recipe::{self, IMAGE_BYTES, STEP_SCRIPT, STEP_UNIT, SUITE};
use super::{Image, base};
use crate::lab::{apt, assets};
use crate::shell::{self, have};
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Where built images are kept between runs.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("LAB_IMAGE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/lastgasp-lab/images"))
}

/// Host programs a build and a run need, with their Debian packages.
const HOST_TOOLS: &[(&str, &str)] = &[
    ("debootstrap", "debootstrap"),
    ("sfdisk", "fdisk"),
    ("mkfs.vfat", "dosfstools"),
    ("mcopy", "mtools"),
    ("mkfs.ext4", "e2fsprogs"),
    ("debugfs", "e2fsprogs"),
    ("qemu-img", "qemu-utils"),
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("/usr/share/OVMF/OVMF_CODE_4M.fd", "ovmf"),
];

/// Installs the host tools that are missing.
pub fn ensure_host_tools() -> Result<()> {
    let mut missing: Vec<&str> = HOST_TOOLS
        .iter()
        .filter(|(program, _)| !have(program))
        .map(|(_, package)| *package)
        .collect();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    assets::apt_install(&missing)
}

/// The cached image for `image`, built first when the cache does not hold its recipe.
pub fn ensure(image: Image) -> Result<PathBuf> {
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let recipe = image.recipe();
    let key = recipe_key(image.name(), &recipe)?;
    let raw = dir.join(format!("{}-{key}.raw", image.name()));
    if raw.exists() {
        eprintln!("lab: {}: cached image {}", image.name(), raw.display());
        return Ok(raw);
    }
    ensure_host_tools()?;
    let work = dir.join(format!(
        "{}-{key}.build-{}",
        image.name(),
        std::process::id()
    ));
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    let partial = work.join("disk.raw");
    let started = Instant::now();
    eprintln!(
        "lab: {}: building the image (Debian {SUITE}, a few minutes)",
        image.name()
    );
    let built = Builder {
        image,
        work: &work,
        started,
    }
    .build(&partial);
    if let Err(err) = built {
        eprintln!(
            "lab: {}: build failed; its work directory is {}",
            image.name(),
            work.display()
        );
        return Err(err);
    }
    std::fs::write(dir.join(format!("{}-{key}.recipe", image.name())), &recipe)?;
    std::fs::rename(&partial, &raw)?;
    std::fs::remove_dir_all(&work)?;
    eprintln!(
        "lab: {}: image built in {}s: {}",
        image.name(),
        started.elapsed().as_secs(),
        raw.display()
    );
    Ok(raw)
}

/// The first 16 hex digits of the recipe's SHA-256 (sha256sum, as the xtask has no hash crate).
pub(super) fn recipe_key(what: &str, recipe: &str) -> Result<String> {
    let out = run_with_input(
        Command::new("sha256sum"),
        recipe.as_bytes(),
        &format!("hashing the {what} recipe"),
    )?;
    Ok(out.chars().take(16).collect())
}

/// Runs `cmd` with `input` on its standard input; returns its standard output.
fn run_with_input(mut cmd: Command, input: &[u8], what: &str) -> Result<String> {
    let line = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("{what}: starting {line}"))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{what}: {line} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

struct Builder<'a> {
    image: Image,
    work: &'a Path,
    started: Instant,
}

impl Builder<'_> {
    fn progress(&self, what: &str) {
        eprintln!(
            "lab: {}: [{:>3}s] {what}",
            self.image.name(),
            self.started.elapsed().as_secs()
        );
    }

    /// Runs a build command with its output appended to the work directory's build.log; a
    /// failure names the command and ends with the last lines it printed.
    fn run(&self, cmd: &mut Command) -> Result<()> {
        let log_path = self.work.join("build.log");
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let line = format!("{cmd:?}");
        writeln!(log, "$ {line}")?;
        let start = log.metadata()?.len();
        let status = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .with_context(|| format!("running {line}"))?;
        if !status.success() {
            let text = std::fs::read(&log_path)?;
            let printed = String::from_utf8_lossy(&text[start as usize..]).into_owned();
            let lines: Vec<&str> = printed.lines().collect();
            bail!(
                "{line} failed ({status}); its last lines (all in {}):\n{}",
                log_path.display(),
                lines[lines.len().saturating_sub(20)..].join("\n")
            );
        }
        Ok(())
    }

    /// Runs a command in the new system. On a UEFI image, bootctl and the kernel's
    /// installation hooks (which ask `bootctl is-installed`) accept the ESP as the plain
    /// directory it is during the build.
    fn chroot(&self, root: &Path, args: &[&str]) -> Result<()> {
        let env: &[(&str, &str)] = if self.image.uefi() {
            &[("SYSTEMD_RELAX_ESP_CHECKS", "1")]
        } else {
            &[]
        };
        self.run(&mut chroot_command(root, env, args))
    }

    fn build(&self, raw: &Path) -> Result<()> {
        let image = self.image;
        std::fs::File::create(raw)?.set_len(IMAGE_BYTES)?;
        run_with_input(
            {
                let mut cmd = Command::new("sfdisk");
                cmd.arg("--quiet").arg(raw);
                cmd
            },
            image.partition_table().as_bytes(),
            "partitioning",
        )?;
        let disk = LoopDevice::attach(raw)?;
        let root_dev = disk.partition(image.root_partition())?;
        shell::run(
            Command::new("mkfs.ext4")
                .args(["-q", "-L", "root"])
                .arg(&root_dev),
        )?;
        let esp_dev = match image.esp_partition() {
            Some(number) => {
                let dev = disk.partition(number)?;
                shell::run(
                    Command::new("mkfs.vfat")
                        .args(["-F", "32", "-n", "ESP"])
                        .arg(&dev),
                )?;
                Some(dev)
            }
            None => None,
        };
        let root = self.work.join("root");
        let mut mounts = Mounts::default();
        mounts.mount(&[], &root_dev, &root)?;
        self.progress("the base system");
        let run = |cmd: &mut Command| self.run(cmd);
        let archive = base::ensure(&run)?;
        self.progress("unpacking the base system");
        base::unpack(&run, &archive, &root)?;
        // The ESP is filled in a tmpfs and copied onto its partition at the end (mtools): the
        // build host may have no vfat in its kernel, as in containers and microVMs; bootctl
        // wants the root of a file system.
        if esp_dev.is_some() {
            mounts.mount(&["-t", "tmpfs"], Path::new("tmpfs"), &root.join("boot/efi"))?;
        }
        for dir in ["dev", "dev/pts", "proc", "sys"] {
            mounts.mount(&["--bind"], &Path::new("/").join(dir), &root.join(dir))?;
        }
        let root_uuid = uuid(&root_dev)?;
        self.configure(&root, &root_uuid, esp_dev.as_deref())?;
        self.progress(&format!(
            "installing {}",
            image.bootloader_packages().join(" ")
        ));
        self.chroot(&root, &["apt-get", "update", "-q"])?;
        self.apt_install(&root, image.bootloader_packages())?;
        match image {
            Image::GrubBios => {
                self.progress("installing linux-image-amd64");
                self.apt_install(&root, &["initramfs-tools", "linux-image-amd64"])?;
                self.progress("grub-install and update-grub");
                let disk_dev = disk.device.to_string_lossy().into_owned();
                self.chroot(&root, &["grub-install", "--target=i386-pc", &disk_dev])?;
                self.chroot(&root, &["update-grub"])?;
                fix_grub_root(&root, &root_dev, &root_uuid)?;
            }
            Image::SystemdBootOvmf => {
                self.progress("bootctl install");
                self.chroot(
                    &root,
                    &[
                        "bootctl",
                        "install",
                        "--no-variables",
                        "--esp-path=/boot/efi",
                    ],
                )?;
                write(
                    &root.join("boot/efi/loader/loader.conf"),
                    image.loader_conf().unwrap_or_default(),
                    0o644,
                )?;
                self.progress("installing linux-image-amd64 (kernel-install makes the entry)");
                self.apt_install(&root, &["initramfs-tools", "linux-image-amd64"])?;
                check_loader_entry(&root, &root_uuid)?;
            }
        }
        if let Some(dev) = &esp_dev {
            self.progress("copying the ESP onto its partition");
            fill_esp(&root.join("boot/efi"), dev)?;
        }
        self.chroot(&root, &["apt-get", "clean"])?;
        std::fs::remove_file(root.join("usr/sbin/policy-rc.d"))?;
        mounts.unmount_all()?;
        drop(disk);
        self.progress("done");
        Ok(())
    }

    fn apt_install(&self, root: &Path, packages: &[&str]) -> Result<()> {
        let mut args = vec!["apt-get", "install", "-y", "-q", "--no-install-recommends"];
        args.extend_from_slice(packages);
        self.chroot(root, &args)?;
        Ok(())
    }

    /// The files written into the new system before its packages are installed.
    fn configure(&self, root: &Path, root_uuid: &str, esp: Option<&Path>) -> Result<()> {
        let image = self.image;
        let mut fstab = format!("UUID={root_uuid} / ext4 errors=remount-ro 0 1\n");
        if let Some(esp) = esp {
            fstab.push_str(&format!(
                "UUID={} /boot/efi vfat umask=0077 0 1\n",
                uuid(esp)?
            ));
        }
        write(&root.join("etc/fstab"), &fstab, 0o644)?;
        write(
            &root.join("etc/hostname"),
            &format!("lab-{}\n", image.name()),
            0o644,
        )?;
        write(&root.join("etc/apt/sources.list"), &sources_list(), 0o644)?;
        // Packages must not start their services in the chroot.
        write(
            &root.join("usr/sbin/policy-rc.d"),
            "#!/bin/sh\nexit 101\n",
            0o755,
        )?;
        if let Some(defaults) = image.grub_defaults() {
            write(&root.join("etc/default/grub"), &defaults, 0o644)?;
            // No install device is configured: the build runs grub-install itself.
            run_with_input(
                chroot_command(root, &[], &["debconf-set-selections"]),
                b"grub-pc grub-pc/install_devices_empty boolean true\n",
                "preseeding grub-pc",
            )?;
        }
        if image.esp_partition().is_some() {
            // kernel-install writes this into every loader entry; without it, it would take the
            // build host's /proc/cmdline.
            write(
                &root.join("etc/kernel/cmdline"),
                &format!("root=UUID={root_uuid} ro {}\n", recipe::base_cmdline()),
                0o644,
            )?;
        }
        write(
            &root.join("etc/systemd/system/lastgasp-lab-step.service"),
            STEP_UNIT,
            0o644,
        )?;
        write(
            &root.join("usr/local/sbin/lastgasp-lab-step"),
            STEP_SCRIPT,
            0o755,
        )?;
        let wants = root.join("etc/systemd/system/multi-user.target.wants");
        std::fs::create_dir_all(&wants)?;
        std::os::unix::fs::symlink(
            "/etc/systemd/system/lastgasp-lab-step.service",
            wants.join("lastgasp-lab-step.service"),
        )?;
        Ok(())
    }
}

/// The image's APT sources: the host's Debian mirror (and its security archive when the host
/// has one), so the kernel is the one the host's lab boots.
fn sources_list() -> String {
    let mirror = apt::host_mirror();
    let mut text = format!("deb {mirror} {SUITE} main\ndeb {mirror} {SUITE}-updates main\n");
    if let Some(security) = apt::host_archive("/debian-security") {
        text.push_str(&format!("deb {security} {SUITE}-security main\n"));
    }
    text
}

fn write(path: &Path, text: &str, mode: u32) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn uuid(device: &Path) -> Result<String> {
    let out = shell::stdout(
        Command::new("blkid")
            .args(["-s", "UUID", "-o", "value"])
            .arg(device),
    )?;
    let uuid = out.trim();
    if uuid.is_empty() {
        bail!("blkid found no UUID on {}", device.display());
    }
    Ok(uuid.to_owned())
}

fn chroot_command(root: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new("chroot");
    cmd.arg(root)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("LC_ALL", "C.UTF-8")
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd
}

/// grub-mkconfig in the chroot names the root by its loop device: udev is not there to make
/// /dev/disk/by-uuid, which it checks first. The booted system's own update-grub (run by
/// `lastgasp setup`) writes UUIDs again.
fn fix_grub_root(root: &Path, root_dev: &Path, root_uuid: &str) -> Result<()> {
    let path = root.join("boot/grub/grub.cfg");
    let text = std::fs::read_to_string(&path)?;
    let by_device = format!("root={} ", root_dev.display());
    let fixed = text.replace(&by_device, &format!("root=UUID={root_uuid} "));
    if !fixed.contains(&format!("root=UUID={root_uuid} ")) {
        bail!(
            "{} names the root neither as {} nor by UUID",
            path.display(),
            root_dev.display()
        );
    }
    std::fs::write(&path, fixed)?;
    Ok(())
}

/// Copies the ESP's staged contents onto its (vfat) partition with mtools.
fn fill_esp(staged: &Path, dev: &Path) -> Result<()> {
    let mut mcopy = Command::new("mcopy");
    mcopy.arg("-s").arg("-i").arg(dev);
    for entry in std::fs::read_dir(staged)? {
        mcopy.arg(entry?.path());
    }
    shell::run(mcopy.arg("::").env("MTOOLS_SKIP_CHECK", "1"))?;
    Ok(())
}

/// kernel-install (through the kernel package's hooks) must have made a loader entry on the
/// ESP that boots the root by UUID.
fn check_loader_entry(root: &Path, root_uuid: &str) -> Result<()> {
    let entries = root.join("boot/efi/loader/entries");
    let found = std::fs::read_dir(&entries)
        .with_context(|| format!("reading {}", entries.display()))?
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .any(|text| text.contains(&format!("root=UUID={root_uuid}")));
    if !found {
        bail!(
            "kernel-install made no loader entry for root=UUID={root_uuid} in {}",
            entries.display()
        );
    }
    Ok(())
}
