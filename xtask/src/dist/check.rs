//! Checks of the built .deb: dpkg-deb's view of it (fields, maintainer scripts, every staged file
//! with its mode and owner), lintian, and a real `dpkg -i`, reinstall, `dpkg -r` and `--purge`
//! into a throwaway root (maintainer scripts run chrootless, with DPKG_ROOT) that must leave
//! nothing behind but the crash data.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use super::deb::VERSION;
use crate::shell::{self, have};

pub fn deb(workspace: &Path, deb: &Path) -> Result<()> {
    fields(deb)?;
    contents(workspace, deb)?;
    lintian(deb)?;
    throwaway_root(workspace, deb)
}

fn fields(deb: &Path) -> Result<()> {
    let info = shell::stdout(Command::new("dpkg-deb").arg("--info").arg(deb))?;
    for wanted in ["Package: lastgasp", &format!("Version: {VERSION}")] {
        ensure!(
            info.lines().any(|line| line.trim() == wanted),
            "{}: dpkg-deb --info has no {wanted:?}:\n{info}",
            deb.display()
        );
    }
    for script in ["postinst", "prerm", "postrm"] {
        ensure!(
            // "     1286 bytes,    27 lines   *  postinst             #!/bin/sh"
            info.lines().any(|line| {
                line.split_whitespace().any(|word| word == script)
                    && line.trim_end().ends_with("#!/bin/sh")
            }),
            "{}: no {script} shell script in dpkg-deb --info:\n{info}",
            deb.display()
        );
    }
    Ok(())
}

/// Every staged file is in the archive, owned by root, with the staged mode; nothing else is.
fn contents(workspace: &Path, deb: &Path) -> Result<()> {
    let listing = shell::stdout(Command::new("dpkg-deb").arg("--contents").arg(deb))?;
    let mut archived = BTreeSet::new();
    for line in listing.lines() {
        // -rwxr-xr-x root/root   3670016 2026-12-01 07:00 ./usr/bin/lastgasp
        let fields: Vec<&str> = line.split_whitespace().collect();
        ensure!(
            fields.len() >= 6,
            "unexpected dpkg-deb --contents line {line:?}"
        );
        ensure!(fields[1] == "root/root", "{line}: not owned by root");
        if fields[0].starts_with('d') {
            continue;
        }
        let path = fields[5].trim_start_matches("./");
        archived.insert(format!("{} {path}", fields[0]));
    }
    let stage = workspace.join("target/dist/deb");
    let mut staged = BTreeSet::new();
    for entry in super::files(&stage)? {
        if entry.path.starts_with("DEBIAN") {
            continue;
        }
        let meta = fs::symlink_metadata(stage.join(&entry.path))?;
        let kind = if entry.link { 'l' } else { '-' };
        let mode = if entry.link {
            "rwxrwxrwx".to_owned()
        } else {
            rwx(meta.permissions().mode())
        };
        staged.insert(format!("{kind}{mode} {}", entry.path.display()));
    }
    if archived != staged {
        bail!(
            "{} differs from the staged tree: only in the package {:?}, only staged {:?}",
            deb.display(),
            archived.difference(&staged).collect::<Vec<_>>(),
            staged.difference(&archived).collect::<Vec<_>>()
        );
    }
    Ok(())
}

/// `ls -l`'s nine permission characters.
fn rwx(mode: u32) -> String {
    (0..9)
        .map(|bit| {
            let set = mode & (0o400 >> bit) != 0;
            match (set, bit % 3) {
                (false, _) => '-',
                (true, 0) => 'r',
                (true, 1) => 'w',
                (true, _) => 'x',
            }
        })
        .collect()
}

fn lintian(deb: &Path) -> Result<()> {
    if !have("lintian") {
        if !have("apt-get") {
            bail!("checking the .deb needs lintian (a Debian package), and there is no apt-get");
        }
        crate::lab::assets::apt_install(&["lintian"])?;
    }
    // The tags that are right for this package are overridden, with the reasons, in
    // dist/debian/lintian-overrides (shipped, so lintian run by hand agrees).
    let out = Command::new("lintian")
        .args(["--fail-on", "error,warning", "--display-info"])
        .arg(deb)
        .output()
        .context("running lintian")?;
    let report = String::from_utf8_lossy(&out.stdout);
    if !report.trim().is_empty() {
        eprintln!("lintian:\n{}", report.trim_end());
    }
    ensure!(
        out.status.success(),
        "lintian finds errors or warnings in {} (above){}",
        deb.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// A Debian system's directories that exist before the package comes and stay after it goes.
const SKELETON: [&str; 9] = [
    "var/lib/dpkg/info",
    "var/lib/dpkg/updates",
    "var/lib/dpkg/triggers",
    "var/log",
    "etc/systemd/system/sysinit.target.wants",
    "etc/systemd/system/multi-user.target.wants",
    "etc/kernel",
    "etc/sysctl.d",
    "etc/default/grub.d",
];

/// A Debian 12 machine booted through GRUB, as `lastgasp setup` reads and edits it: the lab's
/// 1 GiB QEMU guest's memory map, Debian's /etc/default/grub, the kernel's module index.
const MACHINE: [(&str, &str); 9] = [
    (
        "proc/iomem",
        include_str!("../../../crates/setup/tests/fixtures/iomem/qemu-1g.txt"),
    ),
    ("proc/sys/kernel/osrelease", "6.1.0-57-amd64\n"),
    (
        "proc/cmdline",
        "BOOT_IMAGE=/boot/vmlinuz-6.1.0-57-amd64 root=UUID=1b2c3d4e ro quiet\n",
    ),
    (
        "usr/lib/modules/6.1.0-57-amd64/modules.dep",
        "kernel/fs/pstore/ramoops.ko.xz: kernel/lib/reed_solomon/reed_solomon.ko.xz\n",
    ),
    (
        "usr/lib/modules/6.1.0-57-amd64/modules.builtin",
        "kernel/fs/pstore/pstore.ko\n",
    ),
    ("etc/machine-id", "0123456789abcdef0123456789abcdef\n"),
    (
        "etc/default/grub",
        "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n",
    ),
    ("boot/grub/grub.cfg", "# generated by grub-mkconfig\n"),
    ("usr/sbin/update-grub", "#!/bin/sh\n"),
];

/// The crash data a machine has after some use, which removal must keep.
pub(super) const CRASH_DATA: [&str; 2] = [
    "var/lib/lastgasp/reports/2026-12-01T07-00-00Z-abc123/report.json",
    "var/lib/lastgasp/kdump/2026-12-01T07-10-00Z/dmesg.txt",
];

/// State lastgasp keeps while installed, which removal must delete.
pub(super) const STATE: [&str; 3] = [
    "var/lib/lastgasp/boots.json",
    "var/lib/lastgasp/selftest.json",
    "var/lib/lastgasp/initramfs-6.1.0-99-amd64.img",
];

fn dpkg(root: &Path, args: &[&str]) -> Result<String> {
    shell::stdout(
        Command::new("dpkg")
            .arg(format!("--root={}", root.display()))
            .arg("--force-script-chrootless")
            .args(args),
    )
}

fn throwaway_root(workspace: &Path, deb: &Path) -> Result<()> {
    let root = workspace.join("target/dist/dpkg-root");
    super::fresh_dir(&root)?;
    for dir in SKELETON {
        fs::create_dir_all(root.join(dir))?;
    }
    for (path, text) in MACHINE {
        let path = root.join(path);
        fs::create_dir_all(path.parent().expect("machine files are in directories"))?;
        fs::write(&path, text)?;
    }
    fs::write(root.join("var/lib/dpkg/status"), "")?;
    let before = tree(&root)?;
    let deb = deb.to_str().context("the .deb's path is not UTF-8")?;

    dpkg(&root, &["--install", deb])?;
    installed(&root)?;
    // The administrator disables a unit; an upgrade (the same version again: postinst gets the
    // old version) leaves it disabled, and prunes the capture images of kernels not installed.
    shell::run(
        Command::new("systemctl")
            .arg(format!("--root={}", root.display()))
            .args(["disable", "lastgasp-save.service"]),
    )?;
    plant(&root, &STATE[2..])?;
    dpkg(&root, &["--install", deb])?;
    ensure!(
        !root.join(STATE[2]).exists(),
        "reinstalling did not prune {}, whose kernel is not installed",
        STATE[2]
    );
    ensure!(
        !enabled(&root, "lastgasp-save.service")?,
        "an upgrade enabled lastgasp-save.service again after the administrator disabled it"
    );

    // The installed lastgasp arms the machine; removal must undo it through prerm's unsetup.
    let armed = setup(&root)?;
    // Stand-ins for what load, selftest and setup's kdump mode would have written since.
    plant(&root, &STATE)?;
    plant(&root, &CRASH_DATA)?;
    dpkg(&root, &["--remove", "lastgasp"])?;
    left_only_crash_data(&root, &before, "dpkg -r after lastgasp setup")?;
    // Installed again after a removal (dpkg passes the old version, as on an upgrade), the
    // units are enabled again.
    dpkg(&root, &["--install", deb])?;
    installed(&root)?;
    dpkg(&root, &["--remove", "lastgasp"])?;
    left_only_crash_data(&root, &before, "a second dpkg -r")?;
    dpkg(&root, &["--purge", "lastgasp"])?;
    left_only_crash_data(&root, &before, "dpkg --purge")?;
    let status = fs::read_to_string(root.join("var/lib/dpkg/status"))?;
    ensure!(
        !status.contains("Package: lastgasp"),
        "dpkg still knows lastgasp after --purge:\n{status}"
    );
    fs::remove_dir_all(&root)?;
    eprintln!(
        "dist: in a throwaway root, dpkg -i, upgrade, lastgasp setup ({armed}), dpkg -r, \
         reinstall, -r and --purge left only the crash data"
    );
    Ok(())
}

/// Runs the installed `lastgasp setup` on the planted machine; returns what it changed.
fn setup(root: &Path) -> Result<String> {
    let before = tree(root)?;
    shell::run(
        Command::new(root.join("usr/bin/lastgasp"))
            .arg("--root")
            .arg(root)
            .arg("setup"),
    )?;
    let after = tree(root)?;
    let changed: Vec<&String> = after
        .iter()
        .filter(|(path, bytes)| before.get(*path) != Some(bytes) && path.starts_with("etc/"))
        .map(|(path, _)| path)
        .collect();
    ensure!(
        root.join("var/lib/lastgasp/setup.json").exists() && !changed.is_empty(),
        "lastgasp setup wrote no setup.json or changed nothing under /etc"
    );
    Ok(changed
        .iter()
        .map(|path| path.as_str())
        .collect::<Vec<_>>()
        .join(", "))
}

/// After `dpkg -i`: the files, the units enabled, the state directories with their modes.
fn installed(root: &Path) -> Result<()> {
    for path in [
        "usr/bin/lastgasp",
        super::install::SENDER,
        "usr/lib/lastgasp/initramfs-hook",
        "etc/kernel/postinst.d/lastgasp",
    ] {
        // symlink_metadata: the hook links are absolute, meant for inside the root.
        ensure!(
            fs::symlink_metadata(root.join(path)).is_ok(),
            "dpkg -i did not install {path}"
        );
    }
    for unit in ["lastgasp-load.service", "lastgasp-save.service"] {
        ensure!(enabled(root, unit)?, "postinst did not enable {unit}");
    }
    for (dir, mode) in [
        ("var/lib/lastgasp", 0o755),
        ("var/lib/lastgasp/reports", 0o700),
    ] {
        let meta = fs::metadata(root.join(dir))
            .with_context(|| format!("postinst did not create {dir} (tmpfiles.d)"))?;
        let actual = meta.permissions().mode() & 0o7777;
        ensure!(actual == mode, "{dir} has mode {actual:o}, not {mode:o}");
    }
    Ok(())
}

/// A link to `unit` in one of the .wants directories under `root`.
fn enabled(root: &Path, unit: &str) -> Result<bool> {
    Ok(fs::read_dir(root.join("etc/systemd/system"))?
        .flatten()
        .any(|dir| dir.path().join(unit).is_symlink()))
}

pub(super) fn plant(root: &Path, files: &[&str]) -> Result<()> {
    for file in files {
        let path = root.join(file);
        fs::create_dir_all(path.parent().expect("planted files are in directories"))?;
        fs::write(&path, "{}\n")?;
    }
    Ok(())
}

/// Every path under `root` but the package manager's own database, cache and log, with a file's
/// bytes or a link's target; directories end in '/' and have no content.
pub(super) fn tree(root: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![PathBuf::from(root)];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let relative = path.strip_prefix(root)?.display().to_string();
            let own = [
                "var/lib/dpkg",
                "var/lib/pacman",
                "var/cache/pacman",
                "var/log/",
            ];
            if own.iter().any(|prefix| relative.starts_with(prefix)) {
                continue;
            }
            let meta = fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                out.insert(format!("{relative}/"), Vec::new());
                dirs.push(path);
            } else if meta.file_type().is_symlink() {
                let target = fs::read_link(&path)?;
                out.insert(relative, target.as_os_str().as_encoded_bytes().to_vec());
            } else {
                out.insert(relative, fs::read(&path)?);
            }
        }
    }
    Ok(out)
}

/// Every file under `root` is as it was before, byte for byte, but the crash data, which is all
/// still there; nothing else was added. (Directories of the skeleton may go: systemctl removes
/// the .wants directories it empties.)
pub(super) fn left_only_crash_data(
    root: &Path,
    before: &BTreeMap<String, Vec<u8>>,
    step: &str,
) -> Result<()> {
    let now = tree(root)?;
    let crash_data = |path: &str| {
        CRASH_DATA
            .iter()
            .any(|file| *file == path || (file.starts_with(path) && path.ends_with('/')))
    };
    let left: Vec<&String> = now
        .keys()
        .filter(|path| !before.contains_key(*path) && !crash_data(path))
        .collect();
    ensure!(left.is_empty(), "after {step}: left behind {left:?}");
    let changed: Vec<&String> = before
        .iter()
        .filter(|(path, bytes)| !path.ends_with('/') && now.get(*path) != Some(bytes))
        .map(|(path, _)| path)
        .collect();
    ensure!(
        changed.is_empty(),
        "after {step}: not restored byte for byte {changed:?}"
    );
    let lost: Vec<&str> = CRASH_DATA
        .into_iter()
        .filter(|file| !now.contains_key(*file))
        .collect();
    ensure!(lost.is_empty(), "{step} deleted crash data {lost:?}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_as_ls_shows_them() {
        assert_eq!(rwx(0o755), "rwxr-xr-x");
        assert_eq!(rwx(0o644), "rw-r--r--");
        assert_eq!(rwx(0o700), "rwx------");
    }
}
