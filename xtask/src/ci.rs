//! `cargo xtask ci`: the whole test suite, as CI runs it: formatting, lints, every crate's tests
//! (unit, property, golden, fuzz-corpus replay), the packages (`cargo xtask dist`), then the
//! server load test on both databases (`cargo xtask load`), then the real-kernel lab scenarios.

use anyhow::Result;
use std::process::Command;

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn step(name: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("ci: {name}");
    let status = cmd.status()?;
    anyhow::ensure!(status.success(), "ci step failed: {name}");
    Ok(())
}

/// Runs every check; stops at the first failing step.
pub fn run() -> Result<()> {
    step(
        "cargo fmt --check",
        cargo().args(["fmt", "--all", "--", "--check"]),
    )?;
    step(
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
    step("cargo test", cargo().args(["test", "--workspace"]))?;
    // The packages, before the lab: its disk-image scenarios install the .deb.
    eprintln!("ci: packages (cargo xtask dist)");
    crate::dist::ci()?;
    // Fails on any acknowledged upload lost across a SIGKILL or a report not counted once.
    eprintln!("ci: lastgasp-server load on SQLite and PostgreSQL (cargo xtask load)");
    crate::load::ci()?;
    eprintln!("ci: lab (real kernels under QEMU)");
    crate::lab::ci()?;
    eprintln!("ci: compatibility with crash, drgn, makedumpfile and vmcore-dmesg");
    crate::compat::ci()
}
