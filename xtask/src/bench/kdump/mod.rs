//! The kdump half of `cargo xtask bench`: on one lab vmcore (the busy 1 GiB guest's), the log
//! read by `lastgasp dmesg`, `makedumpfile --dump-dmesg` and `vmcore-dmesg`, and level-31 dumps
//! written by `lastgasp capture` (zstd, zlib, lzo) and `makedumpfile -c` / `-l`: interleaved
//! runs, wall time, output size and peak memory, ratios of medians and of minimums per pair.

mod contenders;
mod measure;
pub mod render;
pub mod results;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::bench::stats::Summary;
use crate::compat::inventory::{self, LabVmcore};
use contenders::{Contender, Programs};
use measure::Sample;
use results::{KdumpBench, Row, VmcoreFacts};

/// The lab vmcore the benchmark runs on by default: the busy guest's.
pub const DEFAULT_VMCORE: &str = "kdump-x86_64-6.12-busy";

/// The log readers take a few milliseconds, where spawning and noise weigh most: they run this
/// many times per iteration, so their medians are as steady as the dump writers'.
pub const LOG_RUNS_PER_ITERATION: usize = 10;

/// The dump signature of a kdump-compressed file.
const KDUMP_SIGNATURE: &[u8] = b"KDUMP   ";

/// The lab vmcore named `name` under the lab's cache, if it is there.
pub fn lab_vmcore(workspace: &Path, name: &str) -> Result<Option<LabVmcore>> {
    let dir = inventory::default_dir(&workspace.join("target/lab"));
    if !dir.join(name).is_dir() {
        return Ok(None);
    }
    Ok(inventory::find(&dir, &[name.to_owned()])?
        .into_iter()
        .next())
}

/// Runs both groups on `vmcore`, `iterations` timed runs per contender.
pub fn run(
    lastgasp: &Path,
    vmcore: &LabVmcore,
    iterations: usize,
    work_dir: &Path,
) -> Result<KdumpBench> {
    measure::ensure_gnu_time()?;
    crate::compat::peers::ensure_debian()?;
    let programs = Programs {
        lastgasp: lastgasp.to_path_buf(),
        makedumpfile: crate::compat::peers::MAKEDUMPFILE.into(),
        vmcore_dmesg: crate::compat::peers::VMCORE_DMESG.into(),
    };
    let started = Instant::now();
    let scratch =
        measure::empty_dir(work_dir.join(format!("lastgasp-bench-kdump-{}", std::process::id())))?;
    let result = (|| -> Result<KdumpBench> {
        let expected = reference_log(&programs, vmcore, &scratch)?;
        let mut not_run = Vec::new();
        let log = group(
            &programs,
            vmcore,
            &contenders::LOG,
            iterations * LOG_RUNS_PER_ITERATION,
            &scratch,
            Some(&expected),
            &mut not_run,
        )?;
        let dump = group(
            &programs,
            vmcore,
            &contenders::DUMP,
            iterations,
            &scratch,
            None,
            &mut not_run,
        )?;
        Ok(KdumpBench {
            vmcore: VmcoreFacts {
                name: vmcore.name.clone(),
                bytes: vmcore.bytes,
                release: vmcore.release.clone(),
                origin: origin(&vmcore.path),
            },
            iterations,
            versions: versions(&programs),
            log,
            dump,
            not_run,
            elapsed: started.elapsed(),
        })
    })();
    // Best effort: the dumps are tens of MB each.
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// makedumpfile's reading of the log, which the other readers' outputs are compared with.
fn reference_log(programs: &Programs, vmcore: &LabVmcore, scratch: &Path) -> Result<Vec<u8>> {
    let out = measure::empty_dir(scratch.join("reference"))?;
    let contender = contenders::LOG[1];
    let inv = contender.invocation(programs, &vmcore.path, &out);
    measure::run(&inv.program, &inv.args, inv.stdout.as_deref(), &out)?;
    let path = contender.output(&out)?;
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

/// One group: a checked warm-up of each contender, then interleaved timed runs. A lastgasp
/// contender that fails its warm-up is reported as not run (with why) instead of ending the
/// benchmark; a peer that fails does end it.
fn group(
    programs: &Programs,
    vmcore: &LabVmcore,
    candidates: &[Contender],
    iterations: usize,
    scratch: &Path,
    expected_log: Option<&[u8]>,
    not_run: &mut Vec<(String, String)>,
) -> Result<Vec<Row>> {
    let mut outputs = Vec::new();
    let mut members = Vec::new();
    for &contender in candidates {
        match run_once(programs, vmcore, contender, scratch, expected_log) {
            Ok((_, bytes, equal)) => {
                outputs.push((bytes, equal));
                members.push(contender);
            }
            Err(err) if contender.is_lastgasp() => {
                eprintln!("kdump: {} did not run: {err:#}", contender.key());
                not_run.push((contender.key(), format!("{err:#}")));
            }
            Err(err) => {
                return Err(err.context(format!("warm-up of {}", contender.key())));
            }
        }
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::with_capacity(iterations); members.len()];
    for i in 0..iterations {
        eprint!(
            "\rkdump: {} run {}/{iterations} ",
            members.first().map(|c| c.key()).unwrap_or_default(),
            i + 1
        );
        let mut order: Vec<usize> = (0..members.len()).collect();
        if i % 2 == 1 {
            order.reverse();
        }
        for slot in order {
            let Some(&contender) = members.get(slot) else {
                continue;
            };
            let (sample, _, _) = run_once(programs, vmcore, contender, scratch, None)
                .with_context(|| format!("run {} of {}", i + 1, contender.key()))?;
            if let Some(list) = samples.get_mut(slot) {
                list.push(sample);
            }
        }
    }
    eprintln!();
    let mut rows = Vec::new();
    for ((&contender, samples), (bytes, equal)) in members.iter().zip(&samples).zip(outputs) {
        let walls: Vec<_> = samples.iter().map(|s| s.wall).collect();
        rows.push(Row {
            contender,
            summary: Summary::of(&walls).context("no samples")?,
            peak_kib: samples.iter().map(|s| s.peak_kib).max().unwrap_or(0),
            bytes,
            equal_to_makedumpfile: equal,
        });
    }
    Ok(rows)
}

/// Empty output directory and a flush (untimed), the timed run, then the size of what it wrote
/// and, for a log given `expected_log`, whether it is that log.
fn run_once(
    programs: &Programs,
    vmcore: &LabVmcore,
    contender: Contender,
    scratch: &Path,
    expected_log: Option<&[u8]>,
) -> Result<(Sample, u64, Option<bool>)> {
    let out = measure::empty_dir(scratch.join("out"))?;
    let rusage_dir = measure::empty_dir(scratch.join("rusage"))?;
    measure::settle(scratch)?;
    let inv = contender.invocation(programs, &vmcore.path, &out);
    let sample = measure::run(&inv.program, &inv.args, inv.stdout.as_deref(), &rusage_dir)?;
    let output = contender.output(&out)?;
    let data_len = std::fs::metadata(&output)
        .with_context(|| format!("{} wrote no {}", contender.key(), output.display()))?
        .len();
    if data_len == 0 {
        bail!("{} wrote an empty {}", contender.key(), output.display());
    }
    let equal = match (contender, expected_log) {
        (Contender::Log(_), Some(expected)) => Some(std::fs::read(&output)? == expected),
        (Contender::Dump(_), _) => {
            check_signature(&output)?;
            None
        }
        _ => None,
    };
    Ok((sample, data_len, equal))
}

fn check_signature(dump: &Path) -> Result<()> {
    let mut head = [0u8; 8];
    std::fs::File::open(dump)
        .and_then(|f| std::os::unix::fs::FileExt::read_exact_at(&f, &mut head, 0))
        .with_context(|| format!("reading {}", dump.display()))?;
    if head != KDUMP_SIGNATURE {
        bail!("{}: not a kdump-compressed file", dump.display());
    }
    Ok(())
}

/// The lab's info.txt beside the vmcore, minus what the doc says elsewhere.
fn origin(vmcore: &Path) -> Vec<String> {
    let info: PathBuf = vmcore.with_file_name("info.txt");
    std::fs::read_to_string(info)
        .unwrap_or_default()
        .lines()
        .filter(|line| {
            [
                "guest memory:",
                "method:",
                "crash:",
                "busy:",
                "memory in use:",
            ]
            .iter()
            .any(|key| line.starts_with(key))
        })
        .map(str::to_owned)
        .collect()
}

fn versions(programs: &Programs) -> Vec<(String, String)> {
    // crash is no contender here.
    let mut versions: Vec<(String, String)> = crate::compat::peers::debian_versions()
        .into_iter()
        .filter(|(tool, _)| tool != "crash")
        .collect();
    let lastgasp = std::process::Command::new(&programs.lastgasp)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    versions.insert(
        0,
        ("lastgasp".into(), format!("{lastgasp} (static dist build)")),
    );
    versions
}
