//! `cargo xtask bench`: times `lastgasp save` against systemd-pstore on the same real record
//! sets, each run on a fresh copy, interleaved, and prints (or writes to docs/benchmarks.md) the
//! medians and their ratio. Both tools run under one mount-namespace wrapper; see `doc` for why.
//! Then the kdump half (`kdump`): log extraction and level-31 dumps against makedumpfile and
//! vmcore-dmesg on a lab vmcore.

mod doc;
mod kdump;
mod machine;
mod print;
mod results;
mod rewrite;
mod sandbox;
mod sets;
mod stats;
mod tools;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::shell;
use results::{Bench, SetResult, ToolResult};
use sandbox::{ARCHIVE_MOUNT, PSTORE_MOUNT, Sandbox};
use sets::RecordSet;
use stats::Summary;
use tools::{Produced, Programs, Tool};

const SYSTEMD_PSTORE: &str = "/lib/systemd/systemd-pstore";
/// A RAM filesystem most Linux systems have, for the record copies.
const SHM: &str = "/dev/shm";

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Timed runs per tool per record set.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    iterations: u32,
    /// Crashes in the generated many-crash set (copies of the efi crash).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    crashes: u32,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Rewrite docs/benchmarks.md with this run's table, machine facts and command.
    #[arg(long)]
    write_doc: bool,
    /// Directory for the tools' outputs (default: the system temp dir). Its filesystem
    /// matters: lastgasp fsyncs, systemd-pstore does not; /var/lib is usually on disk.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Directory for the record copies (default: /dev/shm when it exists, as /sys/fs/pstore
    /// is a RAM filesystem, else the work dir).
    #[arg(long, value_name = "DIR")]
    records_dir: Option<PathBuf>,
    /// Write each record set to DIR/<set>/ (as pstore would show it) and exit, to profile a
    /// tool by hand.
    #[arg(long, value_name = "DIR")]
    export_sets: Option<PathBuf>,
    /// The systemd-pstore binary.
    #[arg(long, value_name = "PATH", default_value = SYSTEMD_PSTORE)]
    systemd_pstore: PathBuf,
    /// Which half: pstore (against systemd-pstore), kdump (against makedumpfile and
    /// vmcore-dmesg), or all; kdump is skipped when its lab vmcore is not there.
    #[arg(long, value_enum, default_value_t = Suite::All)]
    suite: Suite,
    /// A ready lastgasp binary to time instead of a fresh static `dist` build.
    #[arg(long, value_name = "FILE")]
    lastgasp: Option<PathBuf>,
    /// The lab vmcore (a directory under target/lab/vmcores) the kdump half runs on.
    #[arg(long, value_name = "NAME", default_value = kdump::DEFAULT_VMCORE)]
    vmcore: String,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Suite {
    All,
    Pstore,
    Kdump,
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let workspace = workspace_root()?;
    if let Some(dir) = &args.export_sets {
        for set in sets::standard(&workspace, args.crashes as usize)? {
            let to = dir.join(&set.key);
            sandbox::export(&to, &set.files)?;
            eprintln!("{}: {} files in {}", set.key, set.files.len(), to.display());
        }
        return Ok(());
    }
    let lastgasp = match &args.lastgasp {
        Some(path) => path.clone(),
        None => build_lastgasp(&workspace)?,
    };
    let work_dir = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let pstore = match args.suite {
        Suite::Kdump => None,
        Suite::All | Suite::Pstore => Some(run_pstore(args, &workspace, &lastgasp, &work_dir)?),
    };
    let kdump = match (args.suite, kdump::lab_vmcore(&workspace, &args.vmcore)?) {
        (Suite::Pstore, _) => None,
        (_, Some(vmcore)) => Some(kdump::run(
            &lastgasp,
            &vmcore,
            args.iterations as usize,
            &work_dir,
        )?),
        (Suite::Kdump, None) => bail!(
            "no lab vmcore {} under target/lab/vmcores (`cargo xtask lab --vmcores` makes it)",
            args.vmcore
        ),
        (Suite::All, None) => {
            eprintln!(
                "kdump: no lab vmcore {} under target/lab/vmcores; the kdump half is skipped",
                args.vmcore
            );
            None
        }
    };
    if args.json {
        let mut json = pstore.as_ref().map_or_else(
            || serde_json::json!({ "command": command_line() }),
            print::to_json,
        );
        if let (Some(object), Some(kdump)) = (json.as_object_mut(), &kdump) {
            object.insert("kdump".into(), kdump::render::to_json(kdump));
        }
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        if let Some(bench) = &pstore {
            print!("{}", print::render_text(bench));
        }
        if let Some(kdump) = &kdump {
            print!("{}", kdump::render::render_text(kdump));
        }
    }
    if args.write_doc {
        let path = workspace.join(doc::DOC_PATH);
        let previous = std::fs::read_to_string(&path).ok();
        let kdump_section = kdump
            .as_ref()
            .map(|k| kdump::render::render_markdown(k, &command_line()));
        std::fs::write(
            &path,
            doc::render_doc(
                pstore.as_ref(),
                kdump_section.as_deref(),
                previous.as_deref(),
            ),
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", doc::DOC_PATH);
    }
    Ok(())
}

/// The pstore half: every record set, both tools.
fn run_pstore(
    args: &BenchArgs,
    workspace: &Path,
    lastgasp: &Path,
    work_dir: &Path,
) -> Result<Bench> {
    let programs = Programs {
        lastgasp: lastgasp.to_path_buf(),
        systemd_pstore: ensure_systemd_pstore(&args.systemd_pstore)?,
    };
    check_host()?;
    let started = Instant::now();
    let sets = sets::standard(workspace, args.crashes as usize)?;
    let records_dir = args.records_dir.clone().unwrap_or_else(|| {
        let shm = Path::new(SHM);
        if shm.is_dir() {
            shm.to_path_buf()
        } else {
            work_dir.to_path_buf()
        }
    });
    let mut sandbox = Sandbox::create(&records_dir, work_dir)?;
    let iterations = args.iterations as usize;
    let mut results = Vec::new();
    for set in &sets {
        results.push(bench_set(&mut sandbox, &programs, set, iterations)?);
    }
    Ok(Bench {
        command: command_line(),
        iterations,
        machine: machine::Machine::gather(workspace, &sandbox, &programs.lastgasp),
        sets: results,
        elapsed: started.elapsed(),
    })
}

/// One set: a warm-up of each tool, then `iterations` interleaved timed runs of each.
fn bench_set(
    sandbox: &mut Sandbox,
    programs: &Programs,
    set: &RecordSet,
    iterations: usize,
) -> Result<SetResult> {
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(iterations); Tool::ALL.len()];
    let mut produced: Vec<Produced> = vec![Produced::default(); Tool::ALL.len()];
    for (slot, &tool) in Tool::ALL.iter().enumerate() {
        let (_, first) = run_once(sandbox, programs, set, tool)
            .with_context(|| format!("warm-up of {} on the {} set", tool.key(), set.key))?;
        if let Some(p) = produced.get_mut(slot) {
            *p = first;
        }
    }
    let live = std::io::stderr().is_terminal();
    for i in 0..iterations {
        if live {
            eprint!("\r{}: run {}/{iterations} ", set.key, i + 1);
        }
        let mut order: Vec<(usize, Tool)> = Tool::ALL.iter().copied().enumerate().collect();
        if i % 2 == 1 {
            order.reverse();
        }
        for (slot, tool) in order {
            let (elapsed, _) = run_once(sandbox, programs, set, tool).with_context(|| {
                format!("run {} of {} on the {} set", i + 1, tool.key(), set.key)
            })?;
            if let Some(s) = samples.get_mut(slot) {
                s.push(elapsed);
            }
        }
    }
    if live {
        eprintln!();
    } else {
        eprintln!("{}: {iterations} runs of each tool", set.key);
    }
    let mut rows = Vec::new();
    for ((tool, samples), produced) in Tool::ALL.iter().zip(&samples).zip(produced) {
        let summary = Summary::of(samples).context("no samples")?;
        rows.push(ToolResult {
            tool: *tool,
            summary,
            produced,
        });
    }
    Ok(SetResult {
        key: set.key.clone(),
        title: set.title.clone(),
        origin: set.origin.clone(),
        files: set.files.len(),
        bytes: set.bytes(),
        crashes: set.crashes,
        tools: rows,
    })
}

/// Fresh copy and a flush of the output filesystem (untimed), the timed run, the check of its
/// output (untimed), cleanup.
fn run_once(
    sandbox: &mut Sandbox,
    programs: &Programs,
    set: &RecordSet,
    tool: Tool,
) -> Result<(Duration, Produced)> {
    let trial = sandbox.trial(&set.files)?;
    tools::prepare(tool, &trial)?;
    sandbox.settle()?;
    let elapsed = sandbox::time(&mut programs.command(sandbox, tool, &trial))?;
    let produced = tools::check(tool, &trial, set)?;
    trial.remove()?;
    Ok((elapsed, produced))
}

pub(crate) fn workspace_root() -> Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .context("xtask is not inside the workspace")
}

/// The binary that ships: the static `dist` build the lab puts in its guests (and checks
/// against the 4 MiB budget), so what is measured is what runs in a capture kernel.
pub(crate) fn build_lastgasp(workspace: &Path) -> Result<PathBuf> {
    crate::lab::assets::lastgasp_binary(workspace)
}

/// The systemd-pstore binary, installing Debian's systemd package when it is missing.
fn ensure_systemd_pstore(path: &Path) -> Result<PathBuf> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if path != Path::new(SYSTEMD_PSTORE) {
        bail!("{}: no such systemd-pstore binary", path.display());
    }
    eprintln!("{SYSTEMD_PSTORE} is missing: installing the systemd package");
    shell::run(Command::new("apt-get").args(["update", "-q"]))?;
    shell::run(Command::new("apt-get").args([
        "install",
        "-y",
        "--no-install-recommends",
        "systemd",
    ]))?;
    if !path.is_file() {
        bail!("{SYSTEMD_PSTORE}: still missing after installing systemd");
    }
    Ok(path.to_path_buf())
}

/// The wrapper needs unshare and both mount points.
fn check_host() -> Result<()> {
    if !shell::have("unshare") {
        bail!("unshare (util-linux) is not installed; the benchmark needs it for systemd-pstore");
    }
    if !Path::new(PSTORE_MOUNT).is_dir() {
        bail!("{PSTORE_MOUNT}: missing; is sysfs mounted?");
    }
    if !Path::new(ARCHIVE_MOUNT).is_dir() {
        // systemd's tmpfiles would make it at boot; the wrapper only needs it as a mount point.
        std::fs::create_dir_all(ARCHIVE_MOUNT)
            .with_context(|| format!("cannot create the mount point {ARCHIVE_MOUNT}"))?;
        eprintln!("created the mount point {ARCHIVE_MOUNT}");
    }
    Ok(())
}

/// `cargo xtask bench ...` as it was invoked.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("cargo xtask {}", args.join(" "))
}
