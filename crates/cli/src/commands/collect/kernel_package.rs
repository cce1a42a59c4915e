//! Which package installed the crashed kernel: its image found by release under the usual
//! places, then the owner asked of dpkg (`dpkg -S`, `dpkg-query`) or pacman (`pacman -Qo`).
//! When that cannot be told (release unknown, image gone, no package owns it, or a fake root
//! where no program is run), the running kernel's `/proc/version` stands in, marked as the
//! running kernel's and not necessarily the crashed one's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use report::{ContextItem, ContextKind, Describes};

use super::read_small;
use super::runner::Runner;
use crate::paths::under_root;

/// Where distributions put the image of kernel `release`, most specific first.
fn image_candidates(release: &str) -> [String; 3] {
    [
        format!("/boot/vmlinuz-{release}"),
        format!("/usr/lib/modules/{release}/vmlinuz"),
        format!("/lib/modules/{release}/vmlinuz"),
    ]
}

/// Enough for a package name and version.
const ANSWER_LIMIT: usize = 16 << 10;

pub fn collect(root: &Path, release: Option<&str>, runner: &dyn Runner) -> ContextItem {
    let lookup = match release {
        None => Err("the crashed kernel's release is not in its log".to_string()),
        Some(release) => owner(root, release, runner),
    };
    match lookup {
        Ok(facts) => {
            ContextItem::collected(ContextKind::KernelPackage, Describes::CrashedBoot, facts)
        }
        Err(why) => running_kernel(root, &why),
    }
}

/// The package owning the image of `release`, as facts.
fn owner(
    root: &Path,
    release: &str,
    runner: &dyn Runner,
) -> Result<BTreeMap<String, String>, String> {
    let image = image_candidates(release)
        .into_iter()
        .find(|path| under_root(root, Path::new(path)).is_file())
        .ok_or_else(|| format!("no image of kernel {release} in /boot or the module tree"))?;
    let (manager, package, version) = match dpkg_owner(&image, runner) {
        Ok(found) => found,
        Err(dpkg_said) => pacman_owner(&image, runner)
            .map_err(|pacman_said| format!("{dpkg_said}; {pacman_said}"))?,
    };
    Ok(BTreeMap::from([
        ("release".to_string(), release.to_string()),
        ("image".to_string(), image),
        ("manager".to_string(), manager.to_string()),
        ("package".to_string(), package),
        ("version".to_string(), version),
    ]))
}

fn answer(runner: &dyn Runner, program: &str, args: &[&str]) -> Result<String, String> {
    runner
        .run(program, args, ANSWER_LIMIT)
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `dpkg -S PATH` says `package[:arch][, other]: PATH`; the version comes from dpkg-query.
fn dpkg_owner(image: &str, runner: &dyn Runner) -> Result<(&'static str, String, String), String> {
    let said = answer(runner, "dpkg", &["-S", image])?;
    let package = said
        .lines()
        .filter(|line| !line.starts_with("diversion "))
        .find_map(|line| line.strip_suffix(image)?.strip_suffix(": "))
        .and_then(|owners| owners.split(", ").next())
        .map(str::to_string)
        .ok_or_else(|| format!("dpkg -S names no package for {image}"))?;
    let version = answer(runner, "dpkg-query", &["-W", "-f=${Version}", &package])?;
    let version = version.trim();
    if version.is_empty() {
        return Err(format!("dpkg-query has no version for {package}"));
    }
    Ok(("dpkg", package, version.to_string()))
}

/// `pacman -Qo PATH` says `PATH is owned by package version`.
fn pacman_owner(
    image: &str,
    runner: &dyn Runner,
) -> Result<(&'static str, String, String), String> {
    let said = answer(runner, "pacman", &["-Qo", image])?;
    let mut words = said
        .lines()
        .find_map(|line| line.split_once(" is owned by "))
        .map(|(_, owner)| owner.split_whitespace())
        .ok_or_else(|| format!("pacman -Qo names no package for {image}"))?;
    match (words.next(), words.next()) {
        (Some(package), Some(version)) => Ok(("pacman", package.to_string(), version.to_string())),
        _ => Err(format!("pacman -Qo names no package for {image}")),
    }
}

/// The running kernel's /proc/version, marked as such, with why the crashed one's package is
/// not known; missing when even that cannot be read.
fn running_kernel(root: &Path, why: &str) -> ContextItem {
    let path: PathBuf = under_root(root, Path::new("/proc/version"));
    match read_small(&path) {
        Ok(version) => ContextItem::collected(
            ContextKind::KernelPackage,
            Describes::ThisBoot,
            BTreeMap::from([
                ("running-kernel".to_string(), version.trim().to_string()),
                (
                    "crashed-kernel-package".to_string(),
                    format!("unknown: {why}"),
                ),
            ]),
        ),
        Err(read_error) => ContextItem::missing(
            ContextKind::KernelPackage,
            Describes::CrashedBoot,
            format!("{why}; {read_error}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::runner::fake::Fake;
    use super::*;

    const RELEASE: &str = "6.1.0-56-amd64";

    fn root_with_image(path: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let image = under_root(root.path(), Path::new(path));
        std::fs::create_dir_all(image.parent().unwrap()).unwrap();
        std::fs::write(image, b"MZ").unwrap();
        root
    }

    fn ok(text: &str) -> Result<String, String> {
        Ok(text.to_string())
    }

    #[test]
    fn debian_kernel_package_and_version() {
        let root = root_with_image("/boot/vmlinuz-6.1.0-56-amd64");
        let fake = Fake(vec![
            (
                "dpkg -S /boot/vmlinuz-6.1.0-56-amd64".into(),
                ok("diversion by x from: /boot/vmlinuz-6.1.0-56-amd64\n\
                    linux-image-6.1.0-56-amd64: /boot/vmlinuz-6.1.0-56-amd64\n"),
            ),
            (
                "dpkg-query -W -f=${Version} linux-image-6.1.0-56-amd64".into(),
                ok("6.1.192-1"),
            ),
        ]);
        let item = collect(root.path(), Some(RELEASE), &fake);
        assert_eq!(item.describes, Describes::CrashedBoot);
        assert_eq!(item.facts["package"], "linux-image-6.1.0-56-amd64");
        assert_eq!(item.facts["version"], "6.1.192-1");
        assert_eq!(item.facts["manager"], "dpkg");
        assert_eq!(item.facts["image"], "/boot/vmlinuz-6.1.0-56-amd64");
    }

    #[test]
    fn arch_kernel_through_pacman() {
        let root = root_with_image("/usr/lib/modules/6.12.1-arch1-1/vmlinuz");
        let fake = Fake(vec![(
            "pacman -Qo /usr/lib/modules/6.12.1-arch1-1/vmlinuz".into(),
            ok("/usr/lib/modules/6.12.1-arch1-1/vmlinuz is owned by linux 6.12.1.arch1-1\n"),
        )]);
        let item = collect(root.path(), Some("6.12.1-arch1-1"), &fake);
        assert_eq!(item.facts["package"], "linux");
        assert_eq!(item.facts["version"], "6.12.1.arch1-1");
        assert_eq!(item.facts["manager"], "pacman");
    }

    #[test]
    fn unknown_owner_falls_back_to_the_running_kernel_marked_as_such() {
        let root = root_with_image("/boot/vmlinuz-6.1.0-56-amd64");
        std::fs::create_dir_all(root.path().join("proc")).unwrap();
        std::fs::write(
            root.path().join("proc/version"),
            "Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org)\n",
        )
        .unwrap();
        let fake = Fake(vec![(
            "dpkg -S /boot/vmlinuz-6.1.0-56-amd64".into(),
            Err("dpkg failed (exit status: 1): no path found".into()),
        )]);
        let item = collect(root.path(), Some(RELEASE), &fake);
        assert!(item.is_collected());
        assert_eq!(item.describes, Describes::ThisBoot);
        assert!(item.facts["running-kernel"].starts_with("Linux version 6.1.0-57-amd64"));
        assert_eq!(
            item.facts["crashed-kernel-package"],
            "unknown: dpkg failed (exit status: 1): no path found; pacman: not found"
        );
        let item = collect(root.path(), None, &fake);
        assert!(item.facts["crashed-kernel-package"].contains("release is not in its log"));
    }

    #[test]
    fn nothing_readable_is_missing_with_both_reasons() {
        let root = tempfile::tempdir().unwrap();
        let item = collect(root.path(), Some(RELEASE), &Fake(vec![]));
        let reason = item.missing.unwrap();
        assert!(
            reason.starts_with("no image of kernel 6.1.0-56-amd64"),
            "{reason}"
        );
        assert!(reason.contains("proc/version"), "{reason}");
    }
}
