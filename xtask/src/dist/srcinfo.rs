//! The PKGBUILD as makepkg itself reads it: Debian packages makepkg (with pacman), so the real
//! `makepkg --printsrcinfo` lints the PKGBUILD, writes target/dist/arch/.SRCINFO, and must agree
//! with the fields the .PKGINFO was written from. makepkg refuses to run as root, so as root it
//! runs as `nobody` in a copy of the directory that user owns.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail, ensure};

use super::arch::Pkgbuild;
use crate::shell::{self, have};

/// Runs makepkg on the PKGBUILD in `dir` (with its install script) and checks it against `pkg`;
/// writes `dir`/.SRCINFO.
pub fn check(dir: &Path, pkg: &Pkgbuild) -> Result<()> {
    if !have("makepkg") || !have("pacman") {
        if !have("apt-get") {
            bail!("checking the PKGBUILD needs makepkg and pacman, and there is no apt-get");
        }
        crate::lab::assets::apt_install(&["makepkg", "pacman-package-manager"])?;
    }
    let scratch = dir.join("srcinfo");
    super::fresh_dir(&scratch)?;
    for file in ["PKGBUILD", "lastgasp.install"] {
        fs::copy(dir.join(file), scratch.join(file))?;
    }
    let root = shell::stdout(Command::new("id").arg("-u"))?.trim() == "0";
    let mut makepkg = if root {
        shell::run(
            Command::new("chown")
                .args(["-R", "nobody:nogroup"])
                .arg(&scratch),
        )?;
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "makepkg",
        ]);
        cmd
    } else {
        Command::new("makepkg")
    };
    let text = shell::stdout(
        makepkg
            .arg("--printsrcinfo")
            .env("HOME", &scratch)
            .current_dir(&scratch),
    )?;
    fs::remove_dir_all(&scratch)?;
    let mismatches = compare(&text, pkg);
    ensure!(
        mismatches.is_empty(),
        "makepkg reads the PKGBUILD differently from the .PKGINFO written: {}",
        mismatches.join("; ")
    );
    fs::write(dir.join(".SRCINFO"), text)?;
    Ok(())
}

/// Each field where .SRCINFO's `key = value` lines differ from `pkg`.
fn compare(srcinfo: &str, pkg: &Pkgbuild) -> Vec<String> {
    let values = |key: &str| -> Vec<String> {
        srcinfo
            .lines()
            .filter_map(|line| line.trim().strip_prefix(key)?.strip_prefix(" = "))
            .map(str::to_owned)
            .collect()
    };
    let one = |value: &String| vec![value.clone()];
    let fields: [(&str, Vec<String>); 11] = [
        ("pkgbase", one(&pkg.pkgname)),
        ("pkgname", one(&pkg.pkgname)),
        ("pkgver", one(&pkg.pkgver)),
        ("pkgrel", one(&pkg.pkgrel)),
        ("pkgdesc", one(&pkg.pkgdesc)),
        ("url", one(&pkg.url)),
        ("arch", pkg.arch.clone()),
        ("license", pkg.license.clone()),
        ("makedepends", pkg.makedepends.clone()),
        ("optdepends", pkg.optdepends.clone()),
        ("depends", pkg.depends.clone()),
    ];
    fields
        .into_iter()
        .filter(|(key, want)| values(key) != *want)
        .map(|(key, want)| format!("{key}: makepkg {:?}, .PKGINFO {want:?}", values(key)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg() -> Pkgbuild {
        Pkgbuild {
            pkgname: "lastgasp".into(),
            pkgver: "0.1.0".into(),
            pkgrel: "1".into(),
            pkgdesc: "Collect".into(),
            url: "https://example.org".into(),
            arch: vec!["x86_64".into()],
            license: vec!["MIT OR Apache-2.0".into()],
            depends: vec![],
            optdepends: vec!["systemd: units".into()],
            makedepends: vec!["cargo".into()],
        }
    }

    const SRCINFO: &str = "pkgbase = lastgasp\n\tpkgdesc = Collect\n\tpkgver = 0.1.0\n\
        \tpkgrel = 1\n\turl = https://example.org\n\tarch = x86_64\n\
        \tlicense = MIT OR Apache-2.0\n\tmakedepends = cargo\n\toptdepends = systemd: units\n\
        \toptions = !strip\n\npkgname = lastgasp\n";

    #[test]
    fn makepkgs_fields_agree_or_each_difference_is_named() {
        assert_eq!(compare(SRCINFO, &pkg()), Vec::<String>::new());
        let mut other = pkg();
        other.pkgver = "0.2.0".into();
        other.depends = vec!["kmod".into()];
        let found = compare(SRCINFO, &other);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("pkgver: makepkg [\"0.1.0\"]"),
            "{found:?}"
        );
        assert!(found[1].starts_with("depends:"), "{found:?}");
    }
}
