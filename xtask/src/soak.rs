//! `cargo xtask soak`: a long series of power cuts during `lastgasp save` in a real guest (see
//! `lab::powercut`), with progress on stderr and a final table; fails on any loss.

use crate::lab::powercut::{self, Fs, Tally};
use anyhow::{Result, bail};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  cargo xtask soak --cuts 1000                 both filesystems, 500 cuts each
  cargo xtask soak --cuts 40 --fs xfs --seed 7 replay a series
  cargo xtask soak --cuts 200 --jobs 2         two guests at once (an otherwise idle machine)
  cargo xtask soak --cuts 1000 --minutes 90    as many of them as 90 minutes allow
  cargo xtask soak --cuts 1000 --seed 7 --from 217
                                               the same series' cuts 217..999, after a
                                               first sitting that ran cuts 0..216")]
pub struct SoakArgs {
    /// Power cuts in all (split evenly between the filesystems with --fs both). Each is two
    /// boots under TCG: about 30 s on 2 cores.
    #[arg(long)]
    cuts: usize,
    /// The reports directory's filesystem: ext4, xfs or both.
    #[arg(long, default_value = "both", value_parser = ["ext4", "xfs", "both"])]
    fs: String,
    /// Guests run at once.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Seed of the cut moments (default: from the clock; printed, so a series can be replayed).
    #[arg(long)]
    seed: Option<u64>,
    /// Seconds one boot may take.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Start no new cut after this many minutes; the table says how many ran.
    #[arg(long, value_name = "MINUTES")]
    minutes: Option<u64>,
    /// Resume a series: skip its first N cuts in the interleaved order (cut #0 of each
    /// filesystem, then #1, ...), the ones an earlier sitting with the same --cuts, --fs and
    /// --seed ran. The table counts only the cuts run now.
    #[arg(long, value_name = "N", default_value_t = 0)]
    from: usize,
}

pub fn run(args: &SoakArgs) -> Result<()> {
    let filesystems: Vec<Fs> = match Fs::parse(&args.fs) {
        Some(fs) => vec![fs],
        None => Fs::ALL.to_vec(),
    };
    let seed = args.seed.unwrap_or_else(powercut::clock_seed);
    let started = Instant::now();
    let plans: Vec<powercut::Plan> = filesystems
        .iter()
        .enumerate()
        .map(|(n, fs)| powercut::Plan {
            fs: *fs,
            name: format!("soak-{}", fs.name()),
            // The first filesystems take the remainder, so the counts add up to --cuts.
            cuts: args.cuts / filesystems.len() + usize::from(n < args.cuts % filesystems.len()),
            // Each filesystem its own moments, all from the one seed.
            seed: seed.wrapping_add(n as u64),
            limit: Duration::from_secs(args.timeout),
        })
        .collect();
    let deadline = args
        .minutes
        .map(|minutes| started + Duration::from_secs(minutes * 60));
    if args.from >= args.cuts {
        bail!(
            "--from {} leaves none of the {} cuts to run",
            args.from,
            args.cuts
        );
    }
    let tallies = powercut::soak(&plans, args.jobs, args.from, deadline)?;
    let rows: Vec<(Fs, Tally)> = filesystems.into_iter().zip(tallies).collect();
    println!("{}", table(&rows));
    for (fs, tally) in &rows {
        println!("{}: the cuts left {}", fs.name(), tally.found_summary());
    }
    eprintln!(
        "soak: seed {seed}, {:.0} minutes",
        started.elapsed().as_secs_f64() / 60.0
    );
    if rows.iter().any(|(_, tally)| !tally.clean()) {
        bail!("power cuts lost, doubled or damaged something (see above)");
    }
    Ok(())
}

fn table(rows: &[(Fs, Tally)]) -> String {
    let mut out = String::from(
        "fs    cuts  before/during/after save  lost  doubled  corrupt  leftovers  failed  \
         save   boot median  boot max\n",
    );
    for (fs, t) in rows {
        let (median, max) = t.boot_times();
        out.push_str(&format!(
            "{:<5} {:>4}  {:>24}  {:>4}  {:>7}  {:>7}  {:>9}  {:>6}  {:>4.2}s  {:>10.1}s  {:>7.1}s\n",
            fs.name(),
            t.cuts,
            format!("{}/{}/{}", t.moments[0], t.moments[1], t.moments[2]),
            t.lost,
            t.doubled,
            t.corrupt,
            t.leftovers,
            t.failed,
            t.save_time.as_secs_f64(),
            median.as_secs_f64(),
            max.as_secs_f64()
        ));
    }
    out.trim_end().to_owned()
}
