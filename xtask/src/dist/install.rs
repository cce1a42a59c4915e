//! The one install step: everything lastgasp installs, laid out under a DESTDIR as on the running
//! system. The Debian package and the Arch package are both made from its tree; the PKGBUILD's
//! package() runs it into "$pkgdir" (`cargo xtask dist --install "$pkgdir"`).

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::completions;

/// What differs between the distributions: where zsh looks for completions, which initramfs
/// generators and package-manager hooks exist, where the licence goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Flavor {
    Debian,
    Arch,
}

impl Flavor {
    fn zsh_completions(self) -> &'static str {
        match self {
            // Debian's zsh does not read site-functions under /usr/share.
            Flavor::Debian => "usr/share/zsh/vendor-completions",
            Flavor::Arch => "usr/share/zsh/site-functions",
        }
    }
}

/// The tree being filled: a DESTDIR and the workspace the files come from.
struct Tree<'a> {
    workspace: &'a Path,
    dest: &'a Path,
}

impl Tree<'_> {
    fn target(&self, path: &str) -> Result<PathBuf> {
        let target = self.dest.join(path);
        let parent = target.parent().expect("installed paths have a directory");
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        Ok(target)
    }

    /// Writes `bytes` as `path` (relative to the root) with `mode`.
    fn bytes(&self, path: &str, bytes: &[u8], mode: u32) -> Result<()> {
        let target = self.target(path)?;
        fs::write(&target, bytes).with_context(|| format!("writing {}", target.display()))?;
        fs::set_permissions(&target, fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", target.display()))
    }

    /// Installs the workspace file `source` as `path`.
    fn file(&self, source: &str, path: &str, mode: u32) -> Result<()> {
        let from = self.workspace.join(source);
        let bytes = fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
        self.bytes(path, &bytes, mode)
    }

    /// A symbolic link `path` to `to`, replacing what was there (installing twice into the same
    /// DESTDIR, or into /, works).
    fn link(&self, path: &str, to: &str) -> Result<()> {
        let target = self.target(path)?;
        match fs::remove_file(&target) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("replacing {}", target.display()));
            }
            _ => {}
        }
        symlink(to, &target).with_context(|| format!("linking {} to {to}", target.display()))
    }
}

/// Where the kernel hook script goes; every caller (kernel-install, pacman, Debian) runs it.
pub const KERNEL_HOOK: &str = "usr/lib/lastgasp/initramfs-hook";

/// Where the packages put the sender that `lastgasp submit` runs.
pub const SENDER: &str = "usr/lib/lastgasp/lastgasp-submit";

/// Fills `dest` (which should be empty) with lastgasp as installed on `flavor`, `binary` being
/// the static build, with the sender `lastgasp-submit` built beside it.
pub fn install(workspace: &Path, binary: &Path, dest: &Path, flavor: Flavor) -> Result<()> {
    let tree = Tree { workspace, dest };
    let bytes = fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    tree.bytes("usr/bin/lastgasp", &bytes, 0o755)?;
    let sender = binary.with_file_name("lastgasp-submit");
    let bytes = fs::read(&sender).with_context(|| {
        format!(
            "reading {} (the sender, built beside lastgasp by the static build)",
            sender.display()
        )
    })?;
    tree.bytes(SENDER, &bytes, 0o755)?;

    for unit in units(workspace)? {
        tree.file(
            &format!("dist/{unit}"),
            &format!("usr/lib/systemd/system/{unit}"),
            0o644,
        )?;
    }
    tree.file(
        "dist/lastgasp.toml",
        "usr/lib/lastgasp/lastgasp.toml",
        0o644,
    )?;
    tree.file(
        "dist/tmpfiles.d/lastgasp.conf",
        "usr/lib/tmpfiles.d/lastgasp.conf",
        0o644,
    )?;

    // The pages `cargo xtask man` writes to docs/man, rendered from the same CLI definition so
    // they cannot be stale here.
    for page in lastgasp::man::pages().context("rendering the man pages")? {
        let path = format!("usr/share/man/man1/{}.gz", page.file_name);
        tree.bytes(&path, &gzip(&page.roff)?, 0o644)?;
    }
    for (shell, script) in completions::scripts()? {
        let path = match shell {
            completions::Shell::Bash => "usr/share/bash-completion/completions/lastgasp".into(),
            completions::Shell::Zsh => format!("{}/_lastgasp", flavor.zsh_completions()),
            completions::Shell::Fish => "usr/share/fish/vendor_completions.d/lastgasp.fish".into(),
        };
        tree.bytes(&path, &script, 0o644)?;
    }

    // The capture initramfs: lastgasp's own, kept per kernel by the hook, or the distribution's.
    tree.file("dist/kernel/initramfs-hook", KERNEL_HOOK, 0o755)?;
    tree.file(
        "dist/kernel/50-lastgasp.install",
        "usr/lib/kernel/install.d/50-lastgasp.install",
        0o755,
    )?;
    for script in ["module-setup.sh", "lastgasp-capture.sh"] {
        tree.file(
            &format!("dist/dracut/99lastgasp/{script}"),
            &format!("usr/lib/dracut/modules.d/99lastgasp/{script}"),
            0o755,
        )?;
    }

    match flavor {
        Flavor::Debian => {
            // Links, not files: files under /etc would be conffiles, which `dpkg -r` leaves
            // behind; these go with the package. run-parts passes the release as $1 and the
            // hook tells postinst from postrm by the directory it was called through.
            for dir in ["postinst.d", "postrm.d"] {
                tree.link(
                    &format!("etc/kernel/{dir}/lastgasp"),
                    &format!("/{KERNEL_HOOK}"),
                )?;
            }
            tree.file(
                "dist/debian/copyright",
                "usr/share/doc/lastgasp/copyright",
                0o644,
            )?;
            // A native package (no Debian revision): changelog.gz, not changelog.Debian.gz.
            let changelog = fs::read(workspace.join("dist/debian/changelog"))
                .context("reading dist/debian/changelog")?;
            tree.bytes(
                "usr/share/doc/lastgasp/changelog.gz",
                &gzip(&changelog)?,
                0o644,
            )?;
            tree.file(
                "dist/debian/lintian-overrides",
                "usr/share/lintian/overrides/lastgasp",
                0o644,
            )?;
        }
        Flavor::Arch => {
            for hook in ["hooks", "install"] {
                tree.file(
                    &format!("dist/mkinitcpio/{hook}/lastgasp"),
                    &format!("usr/lib/initcpio/{hook}/lastgasp"),
                    0o644,
                )?;
            }
            for hook in ["60-lastgasp-remove.hook", "90-lastgasp-install.hook"] {
                tree.file(
                    &format!("dist/pacman/{hook}"),
                    &format!("usr/share/libalpm/hooks/{hook}"),
                    0o644,
                )?;
            }
            tree.file(
                "dist/debian/copyright",
                "usr/share/licenses/lastgasp/copyright",
                0o644,
            )?;
        }
    }
    Ok(())
}

/// The systemd units in dist/, sorted.
pub fn units(workspace: &Path) -> Result<Vec<String>> {
    let dir = workspace.join("dist");
    let mut units = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if [".service", ".timer", ".socket", ".path"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
        {
            units.push(name);
        }
    }
    units.sort();
    Ok(units)
}

/// gzip -9n: the best compression, no name or time in the header (Debian policy for man pages
/// and changelogs; the same bytes from the same input).
fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// Every file and link under `root`, relative, with its mode or link target.
    fn listing(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = fs::symlink_metadata(&path).unwrap();
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                if meta.is_dir() {
                    dirs.push(path);
                } else if meta.file_type().is_symlink() {
                    out.push(format!(
                        "{relative} -> {}",
                        fs::read_link(&path).unwrap().display()
                    ));
                } else {
                    out.push(format!(
                        "{relative} {:o}",
                        meta.permissions().mode() & 0o7777
                    ));
                }
            }
        }
        out.sort();
        out
    }

    fn installed(flavor: Flavor) -> (tempfile::TempDir, Vec<String>) {
        let dest = tempfile::tempdir().unwrap();
        let binary = dest.path().join("lastgasp.bin");
        fs::write(&binary, b"\x7fELF static").unwrap();
        fs::write(dest.path().join("lastgasp-submit"), b"\x7fELF sender").unwrap();
        let root = dest.path().join("root");
        install(&workspace(), &binary, &root, flavor).unwrap();
        let listing = listing(&root);
        (dest, listing)
    }

    #[test]
    fn both_trees_hold_the_binary_units_config_pages_completions_and_hooks() {
        for flavor in [Flavor::Debian, Flavor::Arch] {
            let (_dest, listing) = installed(flavor);
            let zsh = format!("{}/_lastgasp 644", flavor.zsh_completions());
            for expected in [
                "usr/bin/lastgasp 755",
                "usr/lib/lastgasp/lastgasp-submit 755",
                "usr/lib/systemd/system/lastgasp-save.service 644",
                "usr/lib/systemd/system/lastgasp-submit.service 644",
                "usr/lib/systemd/system/lastgasp-submit.timer 644",
                "usr/lib/systemd/system/lastgasp-kdump.service 644",
                "usr/lib/lastgasp/lastgasp.toml 644",
                "usr/lib/tmpfiles.d/lastgasp.conf 644",
                "usr/share/man/man1/lastgasp.1.gz 644",
                "usr/share/man/man1/lastgasp-save.1.gz 644",
                "usr/share/bash-completion/completions/lastgasp 644",
                zsh.as_str(),
                "usr/share/fish/vendor_completions.d/lastgasp.fish 644",
                "usr/lib/lastgasp/initramfs-hook 755",
                "usr/lib/kernel/install.d/50-lastgasp.install 755",
                "usr/lib/dracut/modules.d/99lastgasp/module-setup.sh 755",
                "usr/lib/dracut/modules.d/99lastgasp/lastgasp-capture.sh 755",
            ] {
                assert!(
                    listing.iter().any(|line| line == expected),
                    "{flavor:?}: no {expected:?} in {listing:#?}"
                );
            }
        }
    }

    #[test]
    fn each_distribution_gets_its_own_hooks_only() {
        let (_debian_dir, debian) = installed(Flavor::Debian);
        let (_arch_dir, arch) = installed(Flavor::Arch);
        for line in [
            "etc/kernel/postinst.d/lastgasp -> /usr/lib/lastgasp/initramfs-hook",
            "etc/kernel/postrm.d/lastgasp -> /usr/lib/lastgasp/initramfs-hook",
            "usr/share/doc/lastgasp/copyright 644",
            "usr/share/doc/lastgasp/changelog.gz 644",
            "usr/share/lintian/overrides/lastgasp 644",
        ] {
            assert!(debian.iter().any(|l| l == line), "Debian lacks {line}");
            assert!(!arch.iter().any(|l| l == line), "Arch has {line}");
        }
        for line in [
            "usr/lib/initcpio/install/lastgasp 644",
            "usr/lib/initcpio/hooks/lastgasp 644",
            "usr/share/libalpm/hooks/60-lastgasp-remove.hook 644",
            "usr/share/libalpm/hooks/90-lastgasp-install.hook 644",
            "usr/share/licenses/lastgasp/copyright 644",
        ] {
            assert!(arch.iter().any(|l| l == line), "Arch lacks {line}");
            assert!(!debian.iter().any(|l| l == line), "Debian has {line}");
        }
    }

    #[test]
    fn every_man_page_is_installed_compressed_and_readable_back() {
        let (dest, listing) = installed(Flavor::Debian);
        let pages = lastgasp::man::pages().unwrap();
        let installed: Vec<&String> = listing
            .iter()
            .filter(|l| l.starts_with("usr/share/man/"))
            .collect();
        assert_eq!(installed.len(), pages.len(), "{installed:#?}");
        for page in pages {
            let path = dest
                .path()
                .join("root/usr/share/man/man1")
                .join(format!("{}.gz", page.file_name));
            let mut roff = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(fs::File::open(&path).unwrap()),
                &mut roff,
            )
            .unwrap();
            assert_eq!(roff, page.roff, "{}", page.file_name);
        }
    }

    #[test]
    fn installing_twice_into_the_same_destdir_gives_the_same_tree() {
        let (dest, first) = installed(Flavor::Debian);
        let binary = dest.path().join("lastgasp.bin");
        let root = dest.path().join("root");
        install(&workspace(), &binary, &root, Flavor::Debian).unwrap();
        assert_eq!(listing(&root), first);
    }

    #[test]
    fn gzip_output_is_the_same_for_the_same_input() {
        assert_eq!(gzip(b"page").unwrap(), gzip(b"page").unwrap());
        // No mtime in the header (bytes 4..8).
        assert_eq!(&gzip(b"page").unwrap()[4..8], &[0, 0, 0, 0]);
    }
}
