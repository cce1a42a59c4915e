//! The base system both disk images start from: debootstrap's minbase of the images' suite with
//! the base packages (recipe.rs), kept as one tar archive in the image cache and named by the
//! hash of its recipe. In CI both images build at once from a cold cache: the first build makes
//! the base under a lock while the second waits for it, so debootstrap (its downloads, its
//! unpacking and its package configuration) runs once instead of twice.

use super::build::{cache_dir, recipe_key};
use super::recipe;
use crate::lab::apt;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The options every tar run on the base passes: owners by number (the build host's names
/// are not the image's) and every extended attribute (file capabilities).
const TAR_OPTIONS: &[&str] = &["--numeric-owner", "--xattrs", "--xattrs-include=*"];

/// The base archive, made first when the cache does not hold its recipe. `run` runs a build
/// command with its output in the calling build's log.
pub fn ensure(run: &dyn Fn(&mut Command) -> Result<()>) -> Result<PathBuf> {
    let dir = cache_dir();
    let recipe = recipe::base_recipe();
    let key = recipe_key("base system", &recipe)?;
    let archive = dir.join(format!("base-{key}.tar"));
    let lock_path = dir.join("base.lock");
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("creating {}", lock_path.display()))?;
    // Held until this returns: a second build waits here for the first's base.
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    if archive.exists() {
        eprintln!("lab: base system: cached {}", archive.display());
        return Ok(archive);
    }
    let started = Instant::now();
    let work = dir.join(format!("base-{key}.build-{}", std::process::id()));
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    let root = work.join("root");
    std::fs::create_dir_all(&root)?;
    eprintln!(
        "lab: base system: debootstrap {} (once for both images)",
        recipe::SUITE
    );
    // One package cache, used under the lock only.
    let packages = dir.join("debootstrap");
    std::fs::create_dir_all(&packages)?;
    run(Command::new("debootstrap")
        .args(["--variant=minbase", "--merged-usr"])
        .arg(format!("--include={}", recipe::BASE_PACKAGES.join(",")))
        .arg(format!("--cache-dir={}", packages.display()))
        .arg(recipe::SUITE)
        .arg(&root)
        .arg(apt::host_mirror()))?;
    let partial = work.join("base.tar");
    run(Command::new("tar")
        .args(TAR_OPTIONS)
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&partial)
        .arg("."))?;
    std::fs::write(dir.join(format!("base-{key}.recipe")), &recipe)?;
    std::fs::rename(&partial, &archive)?;
    std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    eprintln!(
        "lab: base system made in {}s: {}",
        started.elapsed().as_secs(),
        archive.display()
    );
    Ok(archive)
}

/// Unpacks the base archive into `root` (the new image's mounted root file system).
pub fn unpack(run: &dyn Fn(&mut Command) -> Result<()>, archive: &Path, root: &Path) -> Result<()> {
    run(Command::new("tar")
        .args(TAR_OPTIONS)
        .arg("-C")
        .arg(root)
        .arg("-xpf")
        .arg(archive))
}
