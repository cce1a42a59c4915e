//! `cargo xtask dist`: the packages. Builds the static `lastgasp` (the `dist` profile, as the
//! lab runs it), stages the install tree with the one install step, makes
//! target/dist/lastgasp_<version>_amd64.deb and the Arch package (its tree, archive, PKGBUILD)
//! under target/dist/arch, and checks them: dpkg-deb's view of the .deb, lintian, makepkg's of the
//! PKGBUILD, and a real install and removal of each package (dpkg, pacman) in a throwaway root.

mod arch;
mod check;
mod completions;
mod deb;
mod install;
mod pacman;
mod srcinfo;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};

pub use install::Flavor;

#[derive(clap::Args)]
pub struct DistArgs {
    /// Only run the install step into DESTDIR (what the PKGBUILD's package() does).
    #[arg(
        long,
        value_name = "DESTDIR",
        conflicts_with = "binary_only",
        requires = "flavor"
    )]
    install: Option<PathBuf>,
    /// The distribution whose layout --install uses.
    #[arg(long, value_enum, requires = "install")]
    flavor: Option<Flavor>,
    /// Only build the static binary and print its path (what the PKGBUILD's build() does).
    #[arg(long)]
    binary_only: bool,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the workspace exists")
}

pub fn run(args: &DistArgs) -> Result<()> {
    let workspace = workspace();
    let binary = static_binary(&workspace)?;
    if args.binary_only {
        println!("{}", binary.display());
        return Ok(());
    }
    if let (Some(dest), Some(flavor)) = (&args.install, args.flavor) {
        return install::install(&workspace, &binary, dest, flavor);
    }
    let deb = packages(&workspace, &binary)?;
    println!("{}", deb.display());
    Ok(())
}

/// What `cargo xtask ci` runs: the packages, checked, so the lab's disk images find the .deb.
pub fn ci() -> Result<()> {
    let workspace = workspace();
    let binary = static_binary(&workspace)?;
    let deb = packages(&workspace, &binary)?;
    eprintln!("dist: {}", deb.display());
    Ok(())
}

/// The Debian package made from `binary` (the static build), without the checks: for the lab's
/// disk-image guests, which install it for real. Built once per process, so scenarios running
/// in parallel do not restage the tree under each other.
pub fn deb_package(workspace: &Path, binary: &Path) -> Result<PathBuf> {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(deb) = built.as_ref() {
        return Ok(deb.clone());
    }
    let deb = deb::build(workspace, binary)?;
    *built = Some(deb.clone());
    Ok(deb)
}

fn packages(workspace: &Path, binary: &Path) -> Result<PathBuf> {
    let deb = deb::build(workspace, binary)?;
    let arch = arch::build(workspace, binary)?;
    eprintln!("dist: {}", arch.display());
    check::deb(workspace, &deb)?;
    pacman::install_and_remove(workspace, &arch)?;
    Ok(deb)
}

/// The static build the lab also boots, checked to need no loader (a stray RUSTFLAGS in the
/// environment would silently override the static flag).
fn static_binary(workspace: &Path) -> Result<PathBuf> {
    let binary = crate::lab::assets::lastgasp_binary(workspace)?;
    let bytes = fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
    match ::initramfs::elf::linking(&bytes) {
        Ok(::initramfs::elf::Linking::Static) => Ok(binary),
        Ok(::initramfs::elf::Linking::Dynamic { interpreter }) => bail!(
            "{} is dynamically linked (it needs {interpreter}): is RUSTFLAGS set? It overrides \
             the static build's target flags",
            binary.display()
        ),
        Err(e) => bail!("{}: {e}", binary.display()),
    }
}

/// Empties `dir` (ours, under target/dist) and creates it.
fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// One file or link of a tree.
struct Entry {
    /// Relative to the tree's root.
    path: PathBuf,
    size: u64,
    link: bool,
}

/// Every file and link under `root`, sorted by path.
fn files(root: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            let meta = fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                dirs.push(path);
                continue;
            }
            out.push(Entry {
                path: path.strip_prefix(root)?.to_path_buf(),
                size: meta.size(),
                link: meta.file_type().is_symlink(),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
