//! `cargo xtask`: the project's own build tasks: the real-kernel lab (QEMU), the demo, the
//! whole test suite as CI runs it, and the benchmark against the peer tools.

mod bench;
mod ci;
mod compat;
mod dist;
mod lab;
mod load;
mod man;
mod server_process;
mod shell;
mod soak;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "lastgasp's development tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Boot Debian's kernel in QEMU, crash it for real and check what `lastgasp save` collects.
    Lab(lab::LabArgs),
    /// Install what the lab needs, crash a real kernel once and print `lastgasp show` of the report.
    Demo(DemoArgs),
    /// The whole test suite: fmt, clippy, every crate's tests, then the lab scenarios.
    Ci,
    /// Time lastgasp against the peer tools (systemd-pstore) on the same records.
    Bench(bench::BenchArgs),
    /// Write the man pages generated from the CLI definition to docs/man.
    Man,
    /// Check lastgasp's kdump output with crash, drgn, makedumpfile and vmcore-dmesg on the
    /// lab's vmcores.
    Compat(compat::CompatArgs),
    /// Build the packages: the static binary, the install tree, the Debian package
    /// (target/dist/lastgasp_<version>_amd64.deb, checked with lintian and a real install and
    /// removal) and the Arch package tree with its PKGBUILD (target/dist/arch).
    Dist(dist::DistArgs),
    /// Cut a real guest's power during `lastgasp save`, over and over (ext4 and xfs reports
    /// directories): nothing may be lost, doubled or left damaged.
    Soak(soak::SoakArgs),
    /// Load lastgasp-server on loopback with SQLite and PostgreSQL: uploads a second and p99
    /// latency against the goals, then a SIGKILL mid-load and a restart that must lose nothing
    /// acknowledged (example: cargo xtask load --reports 5000 --database both).
    Load(load::LoadArgs),
}

#[derive(clap::Args)]
struct DemoArgs {
    /// Capture the crash with kdump (a capture kernel and lastgasp capture) instead of pstore.
    #[arg(long)]
    kdump: bool,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Lab(args) => lab::run(&args),
        Command::Demo(args) => lab::demo(args.kdump),
        Command::Ci => ci::run(),
        Command::Bench(args) => bench::run(&args),
        Command::Man => man::run(),
        Command::Load(args) => load::run(&args),
        Command::Compat(args) => compat::run(&args),
        Command::Dist(args) => dist::run(&args),
        Command::Soak(args) => soak::run(&args),
    }
}
