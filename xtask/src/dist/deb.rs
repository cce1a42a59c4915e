//! The Debian package: the install step's tree (Debian flavour), its control file and the
//! maintainer scripts from dist/debian, built with dpkg-deb into
//! target/dist/lastgasp_<version>_amd64.deb (the path the disk-image lab installs).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::install::{self, Flavor};
use crate::shell;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// target/dist/lastgasp_<version>_amd64.deb: other tools rely on this name.
pub fn path(workspace: &Path) -> PathBuf {
    workspace.join(format!("target/dist/lastgasp_{VERSION}_amd64.deb"))
}

/// The maintainer scripts, from dist/debian.
const SCRIPTS: [&str; 3] = ["postinst", "prerm", "postrm"];

/// What the package needs besides itself. The binary is static, so there is no library to
/// depend on, and the maintainer scripts use only what is essential (sh, find, rm) or skip what
/// is missing (systemctl, systemd-tmpfiles): nothing is a hard dependency. systemd runs the boot
/// units; dracut is one way to make the capture initramfs; crash opens the dumps.
fn control(installed_kib: u64) -> String {
    format!(
        "Package: lastgasp
Version: {VERSION}
Architecture: amd64
Maintainer: lastgasp developers <lastgasp@users.noreply.github.com>
Installed-Size: {installed_kib}
Recommends: systemd
Suggests: dracut, crash
Section: admin
Priority: optional
Homepage: https://github.com/lastgasp/lastgasp
Description: collect the last words of a crashed Linux kernel
 lastgasp arms a machine to keep the kernel log across a crash (pstore: ramoops,
 UEFI variables, ACPI ERST, pstore/blk; or kdump with its own capture kernel
 loader and initramfs), collects what survived at the next boot into small,
 private reports with the crash analysed and a stable signature, and undoes its
 set-up cleanly.
"
    )
}

/// Builds the package from `binary` (the static build) and returns its path.
pub fn build(workspace: &Path, binary: &Path) -> Result<PathBuf> {
    let stage = workspace.join("target/dist/deb");
    super::fresh_dir(&stage)?;
    install::install(workspace, binary, &stage, Flavor::Debian)?;
    let files = super::files(&stage)?;
    let meta = stage.join("DEBIAN");
    fs::create_dir(&meta)?;
    let kib = files.iter().map(|f| f.size.div_ceil(1024)).sum::<u64>();
    fs::write(meta.join("control"), control(kib))?;
    let md5sums = shell::stdout(
        Command::new("md5sum")
            .args(files.iter().filter(|f| !f.link).map(|f| &f.path))
            .current_dir(&stage),
    )?;
    fs::write(meta.join("md5sums"), md5sums)?;
    // No conffiles: the only files under /etc are links (see the install step).
    for script in SCRIPTS {
        let to = meta.join(script);
        fs::copy(workspace.join("dist/debian").join(script), &to)
            .with_context(|| format!("copying dist/debian/{script}"))?;
        fs::set_permissions(&to, fs::Permissions::from_mode(0o755))?;
    }
    let deb = path(workspace);
    shell::run(
        Command::new("dpkg-deb")
            .args(["--build", "--root-owner-group"])
            .arg(&stage)
            .arg(&deb),
    )?;
    Ok(deb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changelog_names_the_workspace_version() {
        let changelog = fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/debian/changelog"),
        )
        .unwrap();
        let first = changelog.lines().next().unwrap();
        assert!(
            first.starts_with(&format!("lastgasp ({VERSION}) ")),
            "dist/debian/changelog starts with {first:?}, not version {VERSION}: add an entry"
        );
    }

    #[test]
    fn control_has_no_dependency_a_static_binary_does_not_need() {
        let text = control(42);
        assert!(text.contains("\nInstalled-Size: 42\n"));
        assert!(!text.contains("Depends:"), "{text}");
        // Every description line after the first is indented, as deb-control(5) requires.
        let description = text.split("Description: ").nth(1).unwrap();
        assert!(description.lines().skip(1).all(|l| l.starts_with(' ')));
    }
}
