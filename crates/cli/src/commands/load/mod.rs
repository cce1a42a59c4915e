//! `lastgasp load`: arm what setup chose (`arm`: the pstore backend in `pstore`, the crash-loop
//! guard's boot record in crate::boots), and here the kdump half: load the capture kernel into
//! the crash reservation with kexec_file_load, so a panic boots it and it can save the crashed
//! kernel's log; and `load --unload` to take it out again. Everything that can be known before
//! the syscall is checked first, and every failure is one line saying what to do.

mod arm;
mod checks;
mod cmdline;
pub(crate) mod image;
mod pstore;

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use sys::kexec_state::{self, KexecState};

use crate::cli::LoadArgs;
use crate::config::Config;
use crate::output;
use crate::paths::under_root;
use checks::{Attempt, Sizes};
use image::{Handling, ImageKind};

const PROC_CMDLINE: &str = "/proc/cmdline";
const OSRELEASE: &str = "/proc/sys/kernel/osrelease";

/// What is (or would be) loaded.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct Plan {
    release: String,
    kernel: PathBuf,
    kernel_format: &'static str,
    kernel_bytes: u64,
    initramfs: PathBuf,
    initramfs_format: &'static str,
    initramfs_bytes: u64,
    cmdline: String,
    /// How the kernel file is handed to the syscall.
    #[serde(skip)]
    handling: Handling,
    /// The longest command line the kernel's header allows, NUL included (x86).
    #[serde(skip)]
    cmdline_size: Option<u32>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct LoadOutput {
    /// "loaded", "dry-run" or "unloaded".
    action: &'static str,
    #[serde(flatten)]
    plan: Option<Plan>,
    crash_reservation_bytes: Option<u64>,
    /// A capture kernel was loaded before this command.
    was_loaded: Option<bool>,
    /// `/sys/kernel/kexec_crash_loaded` after the command.
    crash_loaded: Option<bool>,
}

pub fn run(config: &Config, root: &Path, args: &LoadArgs, quiet: bool) -> Result<()> {
    if args.unload {
        let state = KexecState::read(root)?;
        return unload(root, &state, args, quiet);
    }
    if args.shutdown {
        return arm::shutdown(root, args, quiet);
    }
    if args.kdump && !args.boot {
        return kdump_only(config, root, args, quiet);
    }
    arm::run(config, root, args, quiet)
}

/// `load --kdump`: the capture kernel alone, whatever setup chose.
fn kdump_only(config: &Config, root: &Path, args: &LoadArgs, quiet: bool) -> Result<()> {
    let done = kdump(config, root, args.dry_run)?;
    if args.dry_run {
        print(args.json, &done.out)?;
        // The plan is printed either way; the exit status says whether a load would be tried.
        return match done.refused {
            Some(why) => Err(anyhow!("a load would fail: {why}")),
            None => Ok(()),
        };
    }
    if args.json {
        print(true, &done.out)
    } else if quiet {
        Ok(())
    } else {
        Ok(output::line(&done.summary)?)
    }
}

/// The kdump half's result: what was loaded (or planned), and its one-line summary.
struct KdumpDone {
    out: LoadOutput,
    /// Dry run: why a load would be refused.
    refused: Option<String>,
    summary: String,
}

/// Checks, then loads the capture kernel (a dry run: plans and checks only).
fn kdump(config: &Config, root: &Path, dry_run: bool) -> Result<KdumpDone> {
    let state = KexecState::read(root)?;
    let running = read_trimmed(&under_root(root, Path::new(PROC_CMDLINE)))?;
    checks::not_in_capture_kernel(&running)
        .map_err(|why| anyhow!("cannot load the capture kernel: {why}"))?;
    let plan = plan(config, root, &running)?;
    let sizes = Sizes {
        kernel: plan.kernel_bytes,
        initramfs: plan.initramfs_bytes,
    };
    let checked = checks::before_load(&state, &running, sizes)
        .and_then(|()| checks::cmdline_fits(plan.cmdline.len(), plan.cmdline_size));
    if dry_run {
        let summary = format!(
            "would load the capture kernel {} ({}) with {}",
            plan.release,
            plan.kernel.display(),
            plan.initramfs.display()
        );
        return Ok(KdumpDone {
            out: LoadOutput {
                action: "dry-run",
                crash_reservation_bytes: state.crash_size,
                was_loaded: state.crash_loaded,
                crash_loaded: state.crash_loaded,
                plan: Some(plan),
            },
            refused: checked.err(),
            summary,
        });
    }
    checked.map_err(|why| anyhow!("cannot load the capture kernel: {why}"))?;
    only_into_this_machine(root)?;
    load(root, &state, plan, sizes)
}

/// Finds the kernel and initramfs, checks the kernel's format and builds the command line.
fn plan(config: &Config, root: &Path, running: &str) -> Result<Plan> {
    let release = read_trimmed(&under_root(root, Path::new(OSRELEASE)))?;
    let kernel = image::resolve_kernel(&config.kdump, root, &release)?;
    let header = image::read_header(&kernel)?;
    let kind = ImageKind::detect(&header);
    let handling = image::handling(kind, std::env::consts::ARCH)
        .map_err(|why| anyhow!("{} {why}", kernel.display()))?;
    let initramfs = image::resolve_initramfs(&config.kdump, root, &release)?;
    let initramfs_format = image::check_initramfs(&initramfs)?;
    let defaults = cmdline::defaults(std::env::consts::ARCH);
    Ok(Plan {
        kernel_format: kind.name(),
        kernel_bytes: file_size(&kernel)?,
        initramfs_format,
        initramfs_bytes: file_size(&initramfs)?,
        cmdline: cmdline::capture_cmdline(running, &defaults, &config.kdump.cmdline_append),
        handling,
        cmdline_size: sys::kexec_image::bzimage_cmdline_size(&header),
        release,
        kernel,
        initramfs,
    })
}

fn load(root: &Path, state: &KexecState, plan: Plan, sizes: Sizes) -> Result<KdumpDone> {
    let kernel = open_kernel(&plan)?;
    let initramfs = File::open(&plan.initramfs)
        .with_context(|| format!("cannot open {}", plan.initramfs.display()))?;
    tracing::info!(kernel = %plan.kernel.display(), cmdline = %plan.cmdline, "kexec_file_load");
    let loaded = sys::kexec_file_load(
        kernel.as_fd(),
        Some(initramfs.as_fd()),
        &plan.cmdline,
        sys::KexecFlags::ON_CRASH,
    );
    let after = kexec_state::read_crash_loaded(root)?;
    if let Err(error) = loaded {
        let why = match error.errno() {
            Some(errno) => checks::explain_failure(
                errno,
                state,
                &Attempt {
                    sizes,
                    kernel: &plan.kernel.display().to_string(),
                    cmdline_len: plan.cmdline.len(),
                    as_root: sys::running_as_root(),
                },
            ),
            None => error.to_string(),
        };
        // A crash load frees the previous capture kernel before it tries the new one.
        let lost = if state.crash_loaded == Some(true) && after == Some(false) {
            " (the capture kernel loaded before is unloaded now)"
        } else {
            ""
        };
        return Err(anyhow!("cannot load the capture kernel: {why}{lost}"));
    }
    if after == Some(false) {
        return Err(anyhow!(
            "kexec_file_load succeeded but /sys/kernel/kexec_crash_loaded still reads 0"
        ));
    }
    let summary = format!(
        "capture kernel {} loaded into the {} crash reservation{}",
        plan.release,
        checks::mib(state.crash_size.unwrap_or(0)),
        match after {
            Some(true) => " (kexec_crash_loaded = 1)",
            _ => " (kexec_crash_loaded unreadable)",
        }
    );
    Ok(KdumpDone {
        out: LoadOutput {
            action: "loaded",
            crash_reservation_bytes: state.crash_size,
            was_loaded: state.crash_loaded,
            crash_loaded: after,
            plan: Some(plan),
        },
        refused: None,
        summary,
    })
}

/// The syscall acts on the running kernel whatever --root says, so a load or unload planned
/// from another tree's state (a test's fake root, a mounted system) would be a lie.
fn only_into_this_machine(root: &Path) -> Result<()> {
    if root == Path::new("/") {
        Ok(())
    } else {
        Err(anyhow!(
            "--root {} works only with --dry-run: loading acts on the running kernel",
            root.display()
        ))
    }
}

/// The kernel as kexec_file_load takes it: the file itself, or its decompressed Image.
fn open_kernel(plan: &Plan) -> Result<File> {
    match plan.handling {
        Handling::Gunzip => image::gunzip_to_memfd(&plan.kernel),
        Handling::AsIs => File::open(&plan.kernel)
            .with_context(|| format!("cannot open {}", plan.kernel.display())),
    }
}

fn unload(root: &Path, state: &KexecState, args: &LoadArgs, quiet: bool) -> Result<()> {
    checks::before_unload(state)
        .map_err(|why| anyhow!("cannot unload the capture kernel: {why}"))?;
    let mut after = state.crash_loaded;
    if !args.dry_run {
        only_into_this_machine(root)?;
        sys::kexec_file_unload(true).map_err(|error| {
            let why = match error.errno() {
                Some(errno) => checks::explain_failure(
                    errno,
                    state,
                    &Attempt {
                        sizes: Sizes {
                            kernel: 0,
                            initramfs: 0,
                        },
                        kernel: "the capture kernel",
                        cmdline_len: 0,
                        as_root: sys::running_as_root(),
                    },
                ),
                None => error.to_string(),
            };
            anyhow!("cannot unload the capture kernel: {why}")
        })?;
        after = kexec_state::read_crash_loaded(root)?;
        if after == Some(true) {
            return Err(anyhow!(
                "the unload succeeded but /sys/kernel/kexec_crash_loaded still reads 1"
            ));
        }
    }
    let out = LoadOutput {
        action: if args.dry_run { "dry-run" } else { "unloaded" },
        plan: None,
        crash_reservation_bytes: state.crash_size,
        was_loaded: state.crash_loaded,
        crash_loaded: after,
    };
    if args.json {
        return print(true, &out);
    }
    if quiet {
        return Ok(());
    }
    let line = match (args.dry_run, state.crash_loaded) {
        (true, Some(true)) => "would unload the loaded capture kernel",
        (true, _) => "no capture kernel is loaded; nothing to unload",
        (false, Some(false)) => "no capture kernel was loaded",
        (false, _) => "capture kernel unloaded",
    };
    Ok(output::line(line)?)
}

/// The JSON document, or in text the dry run's plan (what the user asked to see, even with
/// --quiet).
fn print(json: bool, out: &LoadOutput) -> Result<()> {
    if json {
        return Ok(output::line(&serde_json::to_string_pretty(out)?)?);
    }
    let Some(plan) = &out.plan else {
        return Ok(());
    };
    let reservation = out
        .crash_reservation_bytes
        .map_or_else(|| "none (no kexec_crash_size)".to_string(), checks::mib);
    let loaded = match out.crash_loaded {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    Ok(output::emit(&format!(
        "kernel       {} ({}, {})\n\
         initramfs    {} ({}, {})\n\
         cmdline      {}\n\
         reservation  {reservation}\n\
         loaded now   {loaded}\n",
        plan.kernel.display(),
        plan.kernel_format,
        checks::mib(plan.kernel_bytes),
        plan.initramfs.display(),
        plan.initramfs_format,
        checks::mib(plan.initramfs_bytes),
        plan.cmdline,
    ))?)
}

fn read_trimmed(path: &Path) -> Result<String> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.trim().to_string())
}

fn file_size(path: &Path) -> Result<u64> {
    Ok(fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len())
}
