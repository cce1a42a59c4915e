//! `cargo xtask ci`: the whole test suite, as CI runs it: formatting, lints, every crate's tests
//! (unit, property, golden, fuzz-corpus replay), the packages (`cargo xtask dist`), then the
//! server load test on both databases (`cargo xtask load`), then the real-kernel lab scenarios.
//! Each step's time is printed as it ends, and all of them at the end.

use anyhow::{Context, Result};
use std::process::Command;
use std::time::Instant;

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// The steps run so far, with their times in seconds.
#[derive(Default)]
struct Steps(Vec<(&'static str, u64)>);

impl Steps {
    fn run(&mut self, name: &'static str, step: impl FnOnce() -> Result<()>) -> Result<()> {
        eprintln!("ci: {name}");
        let started = Instant::now();
        let result = step();
        let seconds = started.elapsed().as_secs();
        eprintln!(
            "ci: {name}: {} after {seconds} s",
            if result.is_ok() { "done" } else { "failed" }
        );
        self.0.push((name, seconds));
        result.with_context(|| format!("ci step failed: {name}"))
    }

    fn command(&mut self, name: &'static str, cmd: &mut Command) -> Result<()> {
        self.run(name, || {
            let status = cmd.status()?;
            anyhow::ensure!(status.success(), "{cmd:?} exited with {status}");
            Ok(())
        })
    }

    fn print(&self) {
        let width = self.0.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        for (name, seconds) in &self.0 {
            eprintln!("ci: {name:<width$} {seconds:>5} s");
        }
    }
}

/// Runs every check; stops at the first failing step.
pub fn run() -> Result<()> {
    let started = Instant::now();
    // The lab's disk images are built (or found cached) meanwhile: a build is mostly
    // downloads, package unpacking and disk writes, which leave the compiler its cores.
    let images = std::thread::spawn(crate::lab::prepare_disk_images);
    let mut steps = Steps::default();
    let result = all_steps(&mut steps, images);
    steps.print();
    eprintln!("ci: {} s in all", started.elapsed().as_secs());
    result
}

fn all_steps(steps: &mut Steps, images: std::thread::JoinHandle<Result<()>>) -> Result<()> {
    steps.command(
        "cargo fmt --check",
        cargo().args(["fmt", "--all", "--", "--check"]),
    )?;
    steps.command(
        "cargo clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    steps.command("cargo test", cargo().args(["test", "--workspace"]))?;
    // The packages, before the lab: its disk-image scenarios install the .deb.
    steps.run("packages (cargo xtask dist)", crate::dist::ci)?;
    // Fails on any acknowledged upload lost across a SIGKILL or a report not counted once.
    steps.run(
        "lastgasp-server load on SQLite and PostgreSQL (cargo xtask load)",
        crate::load::ci,
    )?;
    steps.run(
        "the lab's disk images, built beside the steps above",
        || {
            images
                .join()
                .map_err(|_| anyhow::anyhow!("the image builder panicked"))?
        },
    )?;
    steps.run("lab (real kernels under QEMU)", crate::lab::ci)?;
    steps.run(
        "compatibility with crash, drgn, makedumpfile and vmcore-dmesg",
        crate::compat::ci,
    )
}
