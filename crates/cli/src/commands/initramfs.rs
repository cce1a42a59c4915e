//! `lastgasp initramfs`: a minimal capture initramfs whose /init is the static lastgasp binary
//! itself, with the capture settings and only the kernel modules needed to reach the capture
//! target (its device chain's drivers and its filesystem). `init` is what that binary does
//! when it runs there as PID 1.

mod device_modules;
mod image;
pub(crate) mod init;
mod layout;
mod mountinfo;
mod plan;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use initramfs::elf::{self, Linking};
use initramfs::{ImageCompression, KernelTree};
use serde::Serialize;

use crate::cli::InitramfsArgs;
use crate::config::Config;
use crate::output;

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct Built {
    path: PathBuf,
    release: String,
    size: u64,
    compression: &'static str,
    target: plan::Target,
    modules: Vec<Module>,
    builtin: Vec<String>,
    missing: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct Module {
    name: String,
    path: String,
    compression: &'static str,
    size: u64,
}

pub fn run(config: &Config, root: &Path, args: &InitramfsArgs, quiet: bool) -> Result<()> {
    let release = match &args.kernel_version {
        Some(release) => release.clone(),
        None => running_release(root)?,
    };
    let dir = match &args.dir {
        Some(dir) if dir.is_absolute() => dir.clone(),
        Some(dir) => bail!("--dir must be an absolute path, not {}", dir.display()),
        None => system_path(root, &config.kdump.dir),
    };
    let given = args.target.as_deref().or(config.kdump.target.as_deref());
    let (target, device) = plan::target(root, given, &dir)?;
    let tree = match &args.modules_dir {
        Some(dir) => KernelTree::open_dir(dir, &release, &config_candidates(root, dir, &release))?,
        None => KernelTree::open(root, &release)?,
    };
    let choice = plan::modules(root, &tree, &device, &target.fstype);
    let settings = image_config(config, &release, &target)?;
    if args.print_config {
        return Ok(output::emit(&settings)?);
    }
    if args.print_modules {
        return Ok(output::emit(
            &choice
                .load
                .iter()
                .map(|m| format!("{m}\n"))
                .collect::<String>(),
        )?);
    }
    // The binary is checked only now: the distributions' hooks above run a dynamic build.
    let binary = match &args.binary {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("finding this program's own file")?,
    };
    let init = std::fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
    check_static(&binary, &init)?;
    let modules = choice
        .load
        .iter()
        .map(|name| tree.module_file(name))
        .collect::<Result<Vec<_>, _>>()?;
    let archive = image::build(&image::Contents {
        init: &init,
        config: &settings,
        modules: &modules,
    })?;
    let compression = if args.uncompressed {
        ImageCompression::None
    } else {
        ImageCompression::Gzip
    };
    let bytes = initramfs::compress_image(archive, compression);
    let path = match &args.output {
        Some(path) => path.clone(),
        None => crate::paths::under_root(
            root,
            Path::new(&format!("/var/lib/lastgasp/initramfs-{release}.img")),
        ),
    };
    // Replaced whole: a crash while writing leaves the old image or the new, never half of one.
    setup::atomic::write_atomic(&path, &bytes, 0o644)?;
    let built = Built {
        path,
        release,
        size: bytes.len() as u64,
        compression: match compression {
            ImageCompression::None => "none",
            ImageCompression::Gzip => "gzip",
        },
        target,
        modules: modules
            .iter()
            .map(|m| Module {
                name: m.name.clone(),
                path: m.image_path.clone(),
                compression: m.compression.name(),
                size: m.data.len() as u64,
            })
            .collect(),
        builtin: choice.builtin,
        missing: choice.unknown,
    };
    if args.json {
        return Ok(output::line(&serde_json::to_string_pretty(&built)?)?);
    }
    if !quiet {
        output::emit(&summary(&built))?;
    }
    Ok(())
}

/// Where a module directory given on the command line has its kernel's config: beside it in
/// the tree it belongs to (an unpacked kernel package, a sysroot: `<tree>/boot/config-<release>`
/// for `<tree>/[usr/]lib/modules/<release>`), in it, or in the root's /boot.
fn config_candidates(root: &Path, dir: &Path, release: &str) -> Vec<PathBuf> {
    let name = format!("config-{release}");
    let mut candidates = Vec::new();
    for layout in ["usr/lib/modules", "lib/modules"] {
        let suffix = Path::new(layout).join(release);
        if dir.ends_with(&suffix) {
            let tree = dir
                .ancestors()
                .nth(suffix.components().count())
                .unwrap_or(dir);
            candidates.push(tree.join("boot").join(&name));
            break;
        }
    }
    candidates.push(dir.join("config"));
    candidates.push(crate::paths::under_root(
        root,
        &Path::new("/boot").join(&name),
    ));
    candidates
}

/// The release of the running kernel, from /proc under the root.
fn running_release(root: &Path) -> Result<String> {
    let path = root.join("proc/sys/kernel/osrelease");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.trim().to_string())
}

/// /init runs with no loader and no C library: only a static executable works there.
fn check_static(path: &Path, bytes: &[u8]) -> Result<()> {
    match elf::linking(bytes) {
        Ok(Linking::Static) => Ok(()),
        Ok(Linking::Dynamic { interpreter }) => bail!(
            "{} is dynamically linked (it needs {interpreter}), so it cannot be an initramfs' \
             /init: use the static build, or name it with --binary",
            path.display()
        ),
        Err(e) => bail!("{}: {e}", path.display()),
    }
}

/// A configured path is under --root; the image needs it as the system sees it.
fn system_path(root: &Path, path: &Path) -> PathBuf {
    match path.strip_prefix(root) {
        Ok(relative) => Path::new("/").join(relative),
        Err(_) => path.to_path_buf(),
    }
}

/// The capture settings the image carries, as a `[kdump]` section the configuration loader
/// reads inside the capture kernel. With a target, `capture` takes `dir` from the target
/// filesystem's top, so `dir` is written as a path inside it.
fn image_config(config: &Config, release: &str, target: &plan::Target) -> Result<String> {
    let mut kdump = toml::Table::new();
    kdump.insert("target".into(), target.spec.clone().into());
    kdump.insert("dir".into(), target.dir_inside.display().to_string().into());
    kdump.insert("dump".into(), config.kdump.dump.into());
    kdump.insert(
        "dump_level".into(),
        i64::from(config.kdump.dump_level).into(),
    );
    kdump.insert(
        "compression".into(),
        config.kdump.compression.name().to_string().into(),
    );
    let mut table = toml::Table::new();
    table.insert("kdump".into(), kdump.into());
    Ok(format!(
        "# Written by `lastgasp initramfs` for the capture kernel {release}: the {} filesystem \
         on {} when it was made; dir is a path inside it.\n{}",
        target.fstype,
        target.device.display(),
        toml::to_string(&table)?
    ))
}

fn summary(built: &Built) -> String {
    let mut text = format!(
        "wrote {} ({} KiB, {}) for kernel {}\n",
        built.path.display(),
        built.size.div_ceil(1024),
        built.compression,
        built.release
    );
    text += &format!(
        "target: {} ({}, {}), captures in {} there\n",
        built.target.spec,
        built.target.device.display(),
        built.target.fstype,
        built.target.dir_inside.display()
    );
    if built.modules.is_empty() {
        text += "modules: none needed\n";
    } else {
        text += "modules, in load order:\n";
        for module in &built.modules {
            text += &format!(
                "  {:<20} {:>6} KiB  {}\n",
                module.name,
                module.size.div_ceil(1024),
                module.path
            );
        }
    }
    if !built.builtin.is_empty() {
        text += &format!("built in: {}\n", built.builtin.join(" "));
    }
    if !built.missing.is_empty() {
        text += &format!(
            "not in this kernel (skipped): {}\n",
            built.missing.join(" ")
        );
    }
    text
}
