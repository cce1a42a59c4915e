//! Debian 13's crash for Debian 13's kernels. Debian 12's crash (8.0.2, its gdb 10.2) exits
//! at once, without a word, on the 6.12 vmlinux; Debian 13's crash (8.0.6) opens it. It is
//! unpacked from trixie's package index with the libraries it links against (no installation:
//! they need trixie's newer C library) and run through trixie's dynamic loader.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::lab::apt::Apt;
use crate::lab::arch::Arch;
use crate::lab::suite::Suite;

/// crash and what it links against (its Depends in trixie, and zlib, which they need).
const PACKAGES: &[&str] = &[
    "crash",
    "libc6",
    "libgcc-s1",
    "liblzo2-2",
    "libncursesw6",
    "libsnappy1v5",
    "libstdc++6",
    "libtinfo6",
    "libzstd1",
    "zlib1g",
];

const LIBS: &str = "usr/lib/x86_64-linux-gnu";

/// Which Debian release's crash reads a kernel: Debian 13's kernels carry `+deb13` in their
/// release (`6.12.117+deb13-amd64`); Debian 12's do not (`6.1.0-57-amd64`).
pub fn suite_of(release: &str) -> Suite {
    if release.contains("+deb13") {
        Suite::Trixie
    } else {
        Suite::Bookworm
    }
}

/// A crash program to run.
#[derive(Debug, Clone)]
pub enum CrashProgram {
    /// The host's own `/usr/bin/crash`.
    Host(PathBuf),
    /// An unpacked crash, run by the dynamic loader beside it with its own libraries.
    Unpacked { root: PathBuf },
}

impl CrashProgram {
    /// The command that starts crash; arguments follow.
    pub fn command(&self) -> Command {
        match self {
            CrashProgram::Host(path) => Command::new(path),
            CrashProgram::Unpacked { root } => {
                let libs = root.join(LIBS);
                let mut cmd = Command::new(libs.join("ld-linux-x86-64.so.2"));
                cmd.arg("--library-path")
                    .arg(format!(
                        "{}:{}",
                        libs.display(),
                        root.join("lib/x86_64-linux-gnu").display()
                    ))
                    .arg(root.join("usr/bin/crash"));
                cmd
            }
        }
    }
}

/// Trixie's crash, unpacked once under `cache`.
pub fn trixie(cache: &Path) -> Result<CrashProgram> {
    let root = cache.join("crash-trixie");
    let done = root.join("usr/bin/crash");
    if !done.is_file() || !root.join(LIBS).join("ld-linux-x86-64.so.2").is_file() {
        let apt = Apt::new(cache, Arch::X86_64, Suite::Trixie)?;
        for package in PACKAGES {
            apt.unpack(package, cache, &root)
                .with_context(|| format!("unpacking trixie's {package}"))?;
        }
        if !done.is_file() {
            bail!("trixie's crash package left no {}", done.display());
        }
    }
    Ok(CrashProgram::Unpacked { root })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kernel_gets_its_release_s_crash() {
        assert_eq!(suite_of("6.12.117+deb13-amd64"), Suite::Trixie);
        assert_eq!(suite_of("6.1.0-57-amd64"), Suite::Bookworm);
    }

    #[test]
    fn an_unpacked_crash_runs_through_its_own_loader() {
        let cmd = CrashProgram::Unpacked { root: "/c".into() }.command();
        assert_eq!(
            cmd.get_program(),
            "/c/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
        );
        let args: Vec<_> = cmd.get_args().collect();
        assert_eq!(
            args,
            [
                "--library-path",
                "/c/usr/lib/x86_64-linux-gnu:/c/lib/x86_64-linux-gnu",
                "/c/usr/bin/crash"
            ]
        );
    }
}
