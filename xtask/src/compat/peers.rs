//! The tools lastgasp's output must satisfy, installed when missing: Debian's crash, makedumpfile
//! and kexec-tools (vmcore-dmesg), and drgn from PyPI in a virtual environment cached under the
//! lab's directory (Debian's Python refuses system-wide pip installs).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::lab::assets::apt_install;
use crate::shell::{self, have};

/// The programs, by path.
#[derive(Debug, Clone)]
pub struct Peers {
    pub crash: PathBuf,
    pub makedumpfile: PathBuf,
    pub vmcore_dmesg: PathBuf,
    pub drgn: PathBuf,
}

pub const CRASH: &str = "/usr/bin/crash";
pub const MAKEDUMPFILE: &str = "/usr/bin/makedumpfile";
pub const VMCORE_DMESG: &str = "/usr/sbin/vmcore-dmesg";

/// Each Debian-packaged peer: where it lives and its package.
const DEBIAN: [(&str, &str); 3] = [
    (CRASH, "crash"),
    (MAKEDUMPFILE, "makedumpfile"),
    (VMCORE_DMESG, "kexec-tools"),
];

/// drgn's virtual environment, under the lab's cache.
fn drgn_venv(cache: &Path) -> PathBuf {
    cache.join("drgn-venv")
}

fn peers(drgn: PathBuf) -> Peers {
    Peers {
        crash: CRASH.into(),
        makedumpfile: MAKEDUMPFILE.into(),
        vmcore_dmesg: VMCORE_DMESG.into(),
        drgn,
    }
}

/// Installs the Debian-packaged peers that are missing (apt-get).
pub fn ensure_debian() -> Result<()> {
    let missing: Vec<&str> = DEBIAN
        .iter()
        .filter(|(path, _)| !Path::new(path).is_file())
        .map(|(_, package)| *package)
        .collect();
    if !missing.is_empty() {
        if !have("apt-get") {
            bail!(
                "the compatibility checks need {} (Debian package names)",
                missing.join(", ")
            );
        }
        apt_install(&missing)?;
    }
    Ok(())
}

/// Installs whatever peer is missing (Debian packages with apt-get, drgn with pip into a venv
/// under `cache`) and returns them all.
pub fn ensure(cache: &Path) -> Result<Peers> {
    ensure_debian()?;
    let venv = drgn_venv(cache);
    let drgn = venv.join("bin/drgn");
    if !drgn.is_file() {
        eprintln!("compat: installing drgn from PyPI into {}", venv.display());
        if !venv.join("bin/pip").is_file() {
            shell::run(Command::new("python3").arg("-m").arg("venv").arg(&venv))
                .context("python3 -m venv (Debian: apt-get install python3-venv)")?;
        }
        shell::run(Command::new(venv.join("bin/pip")).args([
            "install",
            "-q",
            "--disable-pip-version-check",
            "drgn",
        ]))?;
        if !drgn.is_file() {
            bail!("pip installed drgn but {} is missing", drgn.display());
        }
    }
    Ok(peers(drgn))
}

/// Whether `makedumpfile -v` lists zstd as enabled (Debian's 1.7.2 says `zstd\tdisabled`).
pub fn makedumpfile_has_zstd(makedumpfile: &Path) -> bool {
    let Ok(out) = Command::new(makedumpfile).arg("-v").output() else {
        return false;
    };
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines().any(|line| {
        let mut words = line.split_whitespace();
        words.next() == Some("zstd") && words.next() == Some("enabled")
    })
}

fn first_line(cmd: &mut Command) -> Option<String> {
    shell::run(cmd).ok().map(|out| {
        let text = if out.stdout.is_empty() {
            out.stderr
        } else {
            out.stdout
        };
        String::from_utf8_lossy(&text)
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or_default()
            .to_owned()
    })
}

/// The Debian package version of each Debian-packaged peer, for reports and the benchmark doc.
pub fn debian_versions() -> Vec<(String, String)> {
    let debian = |package: &str| {
        first_line(Command::new("dpkg-query").args(["-W", "-f", "${Version}", package]))
            .map_or_else(|| "unknown".into(), |v| format!("Debian {package} {v}"))
    };
    vec![
        ("crash".into(), debian("crash")),
        ("makedumpfile".into(), debian("makedumpfile")),
        ("vmcore-dmesg".into(), debian("kexec-tools")),
    ]
}

/// Every peer's version.
pub fn versions(peers: &Peers) -> Vec<(String, String)> {
    let mut all = debian_versions();
    let drgn = first_line(Command::new(&peers.drgn).arg("--version"))
        .map(|v| v.split(" (").next().unwrap_or_default().to_owned())
        .unwrap_or_else(|| "unknown".into());
    all.push(("drgn".into(), format!("{drgn} (PyPI)")));
    all
}
