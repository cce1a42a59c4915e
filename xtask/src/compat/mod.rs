//! `cargo xtask compat`: lastgasp's kdump output against the tools people already point at a
//! vmcore, on every vmcore the lab made. The log from `lastgasp dmesg` must equal makedumpfile's
//! and vmcore-dmesg's; each level-31 dump `lastgasp capture` writes must open in crash and drgn
//! with the kernel's debug symbols and show the crash, must be read back by `makedumpfile
//! --dump-dmesg`, and must hold exactly the vmcore's bytes in every page it keeps. makedumpfile's
//! own dumps go through the same checks (`--dumps makedumpfile`), which proves the checks.

mod checks;
mod crash;
mod drgn;
pub mod dumps;
mod expect;
mod header;
pub mod inventory;
mod log;
mod newer_crash;
mod pages;
pub mod peers;
mod report;
mod symbols;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use checks::check_all;
pub use checks::dump_opens;
use dumps::Maker;
use inventory::LabVmcore;

#[derive(clap::Args)]
pub struct CompatArgs {
    /// Lab vmcores to check, by directory name (default: every one).
    names: Vec<String>,
    /// Where the lab's vmcores are (default: target/lab/vmcores).
    #[arg(long, value_name = "DIR")]
    vmcores: Option<PathBuf>,
    /// Whose level-31 dumps to check: lastgasp (zstd, zlib, lzo), makedumpfile (-c, -l), or both.
    #[arg(long, value_delimiter = ',', default_value = "lastgasp")]
    dumps: Vec<DumpSource>,
    /// The dump level of the dumps checked (31 unless a lower level is being tried).
    #[arg(long, value_name = "N", default_value_t = dumps::LEVEL,
          value_parser = clap::value_parser!(u8).range(0..=31))]
    level: u8,
    /// A ready lastgasp binary to check instead of a fresh static `dist` build.
    #[arg(long, value_name = "FILE")]
    lastgasp: Option<PathBuf>,
    /// Check only that this dump (a capture's vmcore.kdump) opens in crash, drgn and
    /// makedumpfile and shows the crash of the log given with --log.
    #[arg(long, value_name = "DUMP", requires = "log", conflicts_with = "names")]
    open: Option<PathBuf>,
    /// The log the dump given with --open must show (the capture's dmesg.txt).
    #[arg(long, value_name = "FILE", requires = "open")]
    log: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DumpSource {
    Lastgasp,
    Makedumpfile,
}

/// The lab's cache, where vmcores, symbols, drgn and the checks' outputs live.
fn cache(workspace: &Path) -> PathBuf {
    workspace.join("target/lab")
}

pub fn run(args: &CompatArgs) -> Result<()> {
    if let (Some(dump), Some(log)) = (&args.open, &args.log) {
        let text = std::fs::read(log).with_context(|| format!("reading {}", log.display()))?;
        println!("{}", dump_opens(dump, &text)?);
        return Ok(());
    }
    let workspace = crate::bench::workspace_root()?;
    let cache = cache(&workspace);
    let dir = args
        .vmcores
        .clone()
        .unwrap_or_else(|| inventory::default_dir(&cache));
    let wanted = |name: &str| args.names.is_empty() || args.names.iter().any(|n| n == name);
    let vmcores: Vec<LabVmcore> = inventory::find(&dir, &[])?
        .into_iter()
        .filter(|v| wanted(&v.name))
        .collect();
    let qemu: Vec<(String, PathBuf)> = inventory::find_qemu(&dir)?
        .into_iter()
        .filter(|(name, _)| wanted(name))
        .collect();
    for name in &args.names {
        if !vmcores.iter().any(|v| &v.name == name) && !qemu.iter().any(|(n, _)| n == name) {
            bail!("{}: no lab vmcore named {name}", dir.display());
        }
    }
    if vmcores.is_empty() && qemu.is_empty() {
        bail!(
            "no vmcores under {} (`cargo xtask lab --vmcores` makes them)",
            dir.display()
        );
    }
    let mut makers = Vec::new();
    if args.dumps.contains(&DumpSource::Lastgasp) {
        makers.extend(Maker::LASTGASP);
    }
    if args.dumps.contains(&DumpSource::Makedumpfile) {
        makers.extend(Maker::MAKEDUMPFILE);
    }
    let lastgasp = match &args.lastgasp {
        Some(path) => path.clone(),
        None => crate::bench::build_lastgasp(&workspace)?,
    };
    check_all(&lastgasp, &cache, &vmcores, &qemu, &makers, args.level)
}

/// `cargo xtask ci`'s step: every lab vmcore, lastgasp's dumps; nothing to do without vmcores.
pub fn ci() -> Result<()> {
    let workspace = crate::bench::workspace_root()?;
    let cache = cache(&workspace);
    let dir = inventory::default_dir(&cache);
    let vmcores = inventory::find(&dir, &[])?;
    let qemu = inventory::find_qemu(&dir)?;
    if vmcores.is_empty() && qemu.is_empty() {
        eprintln!("compat: no lab vmcores under target/lab/vmcores; nothing to check");
        return Ok(());
    }
    let lastgasp = crate::bench::build_lastgasp(&workspace)?;
    check_all(
        &lastgasp,
        &cache,
        &vmcores,
        &qemu,
        &Maker::LASTGASP,
        dumps::LEVEL,
    )
}
