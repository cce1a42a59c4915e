//! The debug vmlinux of a lab kernel, which crash and drgn need to open a dump: Debian's
//! `linux-image-<release>-dbg` (an 858 MB download that installs 5.6 GB) is fetched through the
//! lab's APT for the release that ships it, and only `usr/lib/debug/boot/vmlinux-<release>` is
//! extracted from it and cached; the package itself is deleted.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::lab::apt::Apt;
use crate::lab::arch::Arch;
use crate::lab::suite::Suite;

/// Where extracted vmlinux files are kept, under the lab's cache.
fn dir(cache: &Path) -> PathBuf {
    cache.join("debug")
}

/// The cached vmlinux of `release`, if it is there.
pub fn cached(cache: &Path, release: &str) -> Option<PathBuf> {
    let path = dir(cache).join(format!("vmlinux-{release}"));
    path.is_file().then_some(path)
}

/// The debug vmlinux of `release` (e.g. `6.1.0-57-amd64`), downloaded and extracted once.
pub fn vmlinux(cache: &Path, release: &str) -> Result<PathBuf> {
    if let Some(path) = cached(cache, release) {
        return Ok(path);
    }
    check_release(release)?;
    let package = format!("linux-image-{release}-dbg");
    let work = dir(cache).join(format!(".fetch-{release}"));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let mut tried = Vec::new();
    let mut deb = None;
    for suite in Suite::ALL {
        let apt = Apt::new(cache, Arch::X86_64, suite)?;
        match apt.download(&package, &work) {
            Ok(path) => {
                deb = Some(path);
                break;
            }
            Err(err) => tried.push(format!("{}: {err:#}", suite.codename())),
        }
    }
    let Some(deb) = deb else {
        bail!(
            "no Debian release the lab knows has {package}:\n{}",
            tried.join("\n")
        );
    };
    eprintln!(
        "compat: extracting vmlinux-{release} from {}",
        deb.display()
    );
    extract(&deb, release, &work)?;
    let extracted = work.join(format!("usr/lib/debug/boot/vmlinux-{release}"));
    let target = dir(cache).join(format!("vmlinux-{release}"));
    std::fs::rename(&extracted, &target).with_context(|| {
        format!(
            "{package} holds no usr/lib/debug/boot/vmlinux-{release} ({})",
            extracted.display()
        )
    })?;
    std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    Ok(target)
}

/// A release names a file in a path: it must not climb out of the cache.
fn check_release(release: &str) -> Result<()> {
    let fine = !release.is_empty()
        && release
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
        && !release.starts_with('.');
    if !fine {
        bail!("{release:?} is not a kernel release this tool fetches symbols for");
    }
    Ok(())
}

/// `dpkg-deb --fsys-tarfile DEB | tar -x ./usr/lib/debug/boot/vmlinux-<release>`: only the one
/// file reaches the disk.
fn extract(deb: &Path, release: &str, into: &Path) -> Result<()> {
    let mut dpkg = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .context("running dpkg-deb")?;
    let stdout = dpkg.stdout.take().context("dpkg-deb has no stdout")?;
    let status = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(into)
        .arg(format!("./usr/lib/debug/boot/vmlinux-{release}"))
        .stdin(stdout)
        .status()
        .context("running tar")?;
    let dpkg_status = dpkg.wait().context("waiting for dpkg-deb")?;
    if !status.success() || !dpkg_status.success() {
        bail!(
            "extracting vmlinux-{release} from {} failed (dpkg-deb {dpkg_status}, tar {status})",
            deb.display()
        );
    }
    std::fs::remove_file(deb).with_context(|| format!("removing {}", deb.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_that_could_escape_the_cache_are_refused() {
        for good in ["6.1.0-57-amd64", "6.12.117+deb13-amd64"] {
            assert!(check_release(good).is_ok(), "{good}");
        }
        for bad in ["", "../etc", "6.1/../../x", ".hidden", "a b"] {
            assert!(check_release(bad).is_err(), "{bad:?}");
        }
    }
}
