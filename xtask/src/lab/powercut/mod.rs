//! Power cuts in a real guest (issue 9, item 4): `lastgasp save` runs on real pstore/blk records
//! with the reports directory on ext4 or xfs on a virtio disk, and the host SIGKILLs QEMU at a
//! random moment; the next boot saves again, and nothing may be lost, doubled, corrupt or left
//! half-written. The records are made once per series by real Oopses and kept as a snapshot of
//! the pstore disk, so every cut starts from the same records. The lab's CI scenarios
//! (`powercut-ext4`, `powercut-xfs`) run a short series; `cargo xtask soak` a long one.

mod check;
mod guest;

use super::arch::Arch;
use super::qemu::{self, RunDir};
use super::suite::Suite;
use super::{Lab, assets};
use crate::shell;
use anyhow::{Context, Result, bail};
use guest::{Disks, Guest, Mode, Timeline};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The filesystem the reports directory is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fs {
    Ext4,
    Xfs,
}

impl Fs {
    pub const ALL: [Fs; 2] = [Fs::Ext4, Fs::Xfs];

    pub fn name(self) -> &'static str {
        match self {
            Fs::Ext4 => "ext4",
            Fs::Xfs => "xfs",
        }
    }

    pub fn parse(word: &str) -> Option<Fs> {
        Fs::ALL.into_iter().find(|fs| fs.name() == word)
    }

    /// The lab scenario's name.
    pub fn scenario(self) -> String {
        format!("powercut-{}", self.name())
    }

    /// The reports disk's size: xfs refuses filesystems under 300 MiB.
    fn disk_mib(self) -> u64 {
        match self {
            Fs::Ext4 => 64,
            Fs::Xfs => 320,
        }
    }

    /// The host program that makes it, and its Debian package.
    fn mkfs(self) -> (&'static str, &'static str) {
        match self {
            Fs::Ext4 => ("mkfs.ext4", "e2fsprogs"),
            Fs::Xfs => ("mkfs.xfs", "xfsprogs"),
        }
    }
}

/// Cuts in a CI scenario: each is two boots (about 30 s under TCG on 2 cores).
pub const CI_CUTS: usize = 4;

/// A small, seedable generator (splitmix64): the same seed draws the same cut moments.
pub struct Draw(u64);

impl Draw {
    pub fn new(seed: u64) -> Self {
        Draw(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A fraction in [0, 1).
    fn fraction(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A seed from the clock, for runs that do not name one.
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

/// One cut's result.
pub struct Cut {
    pub index: usize,
    pub delay: Duration,
    /// Where the save was when the power went.
    pub moment: &'static str,
    /// Boot times (QEMU start to `/init`'s first word) of the cut boot and the finishing boot.
    pub boots: Vec<Duration>,
    /// What the cut left for the next boot (see [`check::found`]).
    pub found: &'static str,
    /// What went wrong: a failed check, or a boot that failed (`Err`).
    pub outcome: Result<check::Verdict, String>,
}

/// Everything a series found.
#[derive(Default)]
pub struct Tally {
    pub cuts: usize,
    pub lost: usize,
    pub doubled: usize,
    pub corrupt: usize,
    pub leftovers: usize,
    /// Cuts with another problem (a failed save, a boot that failed).
    pub failed: usize,
    pub boots: Vec<Duration>,
    /// Cuts before, during and after the save.
    pub moments: [usize; 3],
    /// How many cuts left each state for the next boot (see [`check::found`]).
    pub found: std::collections::BTreeMap<&'static str, usize>,
    /// How long a save took in the reference run.
    pub save_time: Duration,
}

impl Tally {
    pub fn clean(&self) -> bool {
        self.lost + self.doubled + self.corrupt + self.leftovers + self.failed == 0
    }

    fn add(&mut self, cut: &Cut) {
        self.cuts += 1;
        self.boots.extend(&cut.boots);
        if !cut.found.is_empty() {
            *self.found.entry(cut.found).or_default() += 1;
        }
        if let Some(slot) = ["before save", "during save", "after save"]
            .iter()
            .position(|moment| *moment == cut.moment)
        {
            self.moments[slot] += 1;
        }
        match &cut.outcome {
            Ok(verdict) => {
                self.lost += verdict.lost.len();
                self.doubled += verdict.doubled.len();
                self.corrupt += verdict.corrupt.len();
                self.leftovers += verdict.leftovers.len();
                self.failed += usize::from(!verdict.other.is_empty());
            }
            Err(_) => self.failed += 1,
        }
    }

    /// "state: count, ..." of what the cuts left for the next boot.
    pub fn found_summary(&self) -> String {
        let parts: Vec<String> = self
            .found
            .iter()
            .map(|(state, count)| format!("{state}: {count}"))
            .collect();
        parts.join(", ")
    }

    /// The median and the longest boot.
    pub fn boot_times(&self) -> (Duration, Duration) {
        let mut sorted = self.boots.clone();
        sorted.sort();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
        (median, sorted.last().copied().unwrap_or_default())
    }
}

/// Where a series runs, what it boots, and the records it starts from.
struct Series<'a> {
    lab: &'a Lab,
    guest: Guest,
    dir: PathBuf,
    snapshot: PathBuf,
    reference: check::Reference,
    /// From "ready" to the end of the reference save: cuts are drawn from 1.2 times this.
    span: Duration,
    limit: Duration,
}

/// Makes the guest, the records snapshot and the reference run of one series under `dir`.
fn start<'a>(lab: &'a Lab, fs: Fs, dir: PathBuf, limit: Duration) -> Result<Series<'a>> {
    let (program, package) = fs.mkfs();
    if !shell::have(program) {
        assets::apt_install(&[package])?;
    }
    assets::ensure_host_tools(Arch::X86_64)?;
    let kernel = assets::kernel(&lab.cache, Arch::X86_64, Suite::Bookworm)?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    let guest = guest::prepare(&lab.workspace, &lab.cache, &kernel, &lab.lastgasp, fs, &dir)?;

    let run = RunDir::create(dir.join("records"))?;
    let snapshot = dir.join("pstore-snapshot.img");
    // 16 zones of pstore/blk's 64 KiB (room for the four records): pstore/blk reads every
    // zone when it registers, and an 8 MiB disk's 128 took about 3 s of each TCG boot.
    qemu::sized_file(&snapshot, 1 << 20)?;
    let reports = run.dir.join("reports.img");
    guest::reports_disk(fs, &reports)?;
    qemu::sized_file(&run.out_disk, 1 << 20)?;
    let disks = Disks {
        out: &run.out_disk,
        pstore: &snapshot,
        reports: &reports,
        next: None,
    };
    guest::boot(&guest, &run, &disks, Mode::Records, None, limit).context("making the records")?;

    let run = RunDir::create(dir.join("reference"))?;
    let (out, timeline) = finish(&guest, &run, &snapshot, None, limit)?;
    let reference = check::reference(&out, &lab.lastgasp)
        .with_context(|| format!("the reference run (serial log: {})", run.serial.display()))?;
    let (Some(started), Some(done)) = (timeline.save_started, timeline.save_done) else {
        bail!("the reference run's console lacks the save's start or end");
    };
    Ok(Series {
        lab,
        guest,
        dir,
        snapshot,
        reference,
        span: guest::READY_GAP + (done - started),
        limit,
    })
}

/// A finishing boot on a fresh copy of `pstore` (or the one given), unpacked.
fn finish(
    guest: &Guest,
    run: &RunDir,
    snapshot: &Path,
    cut_disks: Option<&CutDisks>,
    limit: Duration,
) -> Result<(PathBuf, Timeline)> {
    let fresh;
    let disks = match cut_disks {
        Some(disks) => disks,
        None => {
            fresh = CutDisks::fresh(guest.fs, snapshot, &run.dir)?;
            &fresh
        }
    };
    qemu::sized_file(&run.out_disk, OUT_DISK_BYTES)?;
    let disks = Disks {
        out: &run.out_disk,
        pstore: &disks.pstore,
        reports: &disks.reports,
        next: None,
    };
    let timeline = guest::boot(guest, run, &disks, Mode::Finish, None, limit)?;
    Ok((unpacked(run)?, timeline))
}

/// The output disk of a finishing boot (whole or a chain boot's first part), unpacked.
fn unpacked(run: &RunDir) -> Result<PathBuf> {
    let out = run.dir.join("out");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    super::check::unpack(&run.out_disk, &out)?;
    Ok(out)
}

/// Room for what a finishing boot hands over: the records twice and the reports.
const OUT_DISK_BYTES: u64 = 32 << 20;

/// One cut's disks: a fresh copy of the records snapshot and an empty reports filesystem.
struct CutDisks {
    pstore: PathBuf,
    reports: PathBuf,
}

impl CutDisks {
    fn fresh(fs: Fs, snapshot: &Path, dir: &Path) -> Result<CutDisks> {
        std::fs::create_dir_all(dir)?;
        let disks = CutDisks {
            pstore: dir.join("pstore.img"),
            reports: dir.join("reports.img"),
        };
        std::fs::copy(snapshot, &disks.pstore)?;
        guest::reports_disk(fs, &disks.reports)?;
        Ok(disks)
    }
}

/// A cut whose power went, waiting for the boot that finishes it.
struct Pending {
    /// Its series' place in the plans.
    number: usize,
    cut: Cut,
    disks: CutDisks,
}

impl Cut {
    fn new(index: usize, delay: Duration) -> Cut {
        Cut {
            index,
            delay,
            moment: "",
            boots: Vec::new(),
            found: "",
            outcome: Err(String::new()),
        }
    }
}

fn flat(err: anyhow::Error) -> String {
    format!("{err:#}")
}

impl Series<'_> {
    /// Where guest slot `slot` keeps this series' runs and disks.
    fn slot_dir(&self, slot: usize) -> PathBuf {
        self.dir.join(format!("slot{slot}"))
    }

    /// A slot's first cut: a boot on fresh disks in `dir`, cut `cut.delay` after "ready".
    fn cut_boot(&self, slot_dir: &Path, dir: &Path, cut: &mut Cut) -> Result<CutDisks> {
        let disks = CutDisks::fresh(self.guest.fs, &self.snapshot, dir)?;
        let run = RunDir::create(slot_dir.join("cut"))?;
        qemu::sized_file(&run.out_disk, 1 << 20)?;
        let boot_disks = Disks {
            out: &run.out_disk,
            pstore: &disks.pstore,
            reports: &disks.reports,
            next: None,
        };
        let timeline = guest::boot(
            &self.guest,
            &run,
            &boot_disks,
            Mode::Cut,
            Some(cut.delay),
            self.limit,
        )
        .context("the cut boot")?;
        cut.moment = timeline.moment();
        cut.boots.extend(timeline.booted);
        Ok(disks)
    }

    /// A slot's last cut: a finishing boot of its own, then the checks.
    fn finish_alone(&self, slot_dir: &Path, mut pending: Pending) -> Cut {
        let outcome = RunDir::create(slot_dir.join("finish"))
            .and_then(|run| {
                let (out, finished) = finish(
                    &self.guest,
                    &run,
                    &self.snapshot,
                    Some(&pending.disks),
                    self.limit,
                )
                .context("the finishing boot")?;
                pending.cut.boots.extend(finished.booted);
                self.judge(&run, &out, &mut pending.cut)
            })
            .map_err(flat);
        pending.cut.outcome = outcome;
        pending.cut
    }

    /// One boot that finishes `pending` and makes the cut `next` on fresh disks in `dir`: the
    /// finished cut, and the next one's disks (or why it failed).
    fn chain(
        &self,
        slot_dir: &Path,
        mut pending: Pending,
        next: &mut Cut,
        dir: &Path,
    ) -> (Cut, Result<CutDisks>) {
        let booted = (|| {
            let disks = CutDisks::fresh(self.guest.fs, &self.snapshot, dir)?;
            let run = RunDir::create(slot_dir.join("chain"))?;
            qemu::sized_file(&run.out_disk, OUT_DISK_BYTES)?;
            let boot_disks = Disks {
                out: &run.out_disk,
                pstore: &pending.disks.pstore,
                reports: &pending.disks.reports,
                next: Some((&disks.pstore, &disks.reports)),
            };
            let timeline = guest::boot(
                &self.guest,
                &run,
                &boot_disks,
                Mode::Chain,
                Some(next.delay),
                self.limit,
            )
            .context("the chain boot (finishing one cut, making the next)")?;
            Ok::<_, anyhow::Error>((run, disks, timeline))
        })();
        match booted {
            Ok((run, disks, timeline)) => {
                // The boot counts for both: the finished cut's second, the next cut's first.
                pending.cut.boots.extend(timeline.booted);
                next.boots.extend(timeline.booted);
                next.moment = timeline.moment();
                let outcome = unpacked(&run)
                    .and_then(|out| self.judge(&run, &out, &mut pending.cut))
                    .map_err(flat);
                pending.cut.outcome = outcome;
                (pending.cut, Ok(disks))
            }
            Err(err) => {
                pending.cut.outcome = Err(flat(err));
                let why = anyhow::anyhow!("the chain boot that was to make this cut failed");
                (pending.cut, Err(why))
            }
        }
    }

    /// The checks of a finished cut, on what its finishing boot handed over in `out`.
    fn judge(&self, run: &RunDir, out: &Path, cut: &mut Cut) -> Result<check::Verdict> {
        cut.found = check::found(out);
        let context = || format!("serial log: {}", run.serial.display());
        let mut verdict = check::cut(&self.reference, out).with_context(context)?;
        check::host_verify(&self.lab.lastgasp, out, &mut verdict).with_context(context)?;
        Ok(verdict)
    }
}

/// What a series is to do.
pub struct Plan {
    pub fs: Fs,
    /// Its directory under the lab cache's `runs/`.
    pub name: String,
    pub cuts: usize,
    pub seed: u64,
    /// How long one boot may take.
    pub limit: Duration,
}

/// Runs the series of `plans` with their cuts interleaved, in `jobs` guests at once, reporting
/// each cut on stderr as it ends; the first `skip` cuts of the interleaved order are left out
/// (an earlier sitting ran them: their moments are still drawn, so the rest are the same); after
/// `deadline`, no new cut starts (the tallies say how many ran).
fn series(
    lab: &Lab,
    plans: &[Plan],
    jobs: usize,
    skip: usize,
    deadline: Option<Instant>,
) -> Result<Vec<Tally>> {
    let mut started = Vec::new();
    let mut queue = Vec::new();
    for (number, plan) in plans.iter().enumerate() {
        let series = start(
            lab,
            plan.fs,
            lab.cache.join("runs").join(&plan.name),
            plan.limit,
        )?;
        eprintln!(
            "{}: {} records in the snapshot ({}), reference report(s) {}; a save takes {:.2}s, \
             cuts drawn from 0..{:.2}s after \"ready\" (seed {})",
            plan.name,
            series.reference.records.len(),
            series
                .reference
                .records
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            series
                .reference
                .reports
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            (series.span - guest::READY_GAP).as_secs_f64(),
            series.span.as_secs_f64() * 1.2,
            plan.seed,
        );
        let mut draw = Draw::new(plan.seed);
        for index in 0..plan.cuts {
            queue.push((index, number, series.span.mul_f64(1.2 * draw.fraction())));
        }
        started.push(series);
    }
    // Interleaved: cut 0 of every plan, then cut 1, ...; a deadline leaves each plan its share.
    queue.sort_by_key(|(index, number, _)| (*index, *number));
    let queue = Mutex::new(queue.into_iter().skip(skip).collect::<Vec<_>>());
    // With a guest per plan, each keeps to one plan so its boots can chain; with fewer, they
    // take the cuts in order, so the plans keep their shares.
    let affinity = jobs >= plans.len();
    let tallies = Mutex::new(
        started
            .iter()
            .map(|series| Tally {
                save_time: series.span - guest::READY_GAP,
                ..Tally::default()
            })
            .collect::<Vec<_>>(),
    );
    let done = |number: usize, cut: Cut| {
        let mut tallies = tallies.lock().expect("tally lock");
        let tally = &mut tallies[number];
        tally.add(&cut);
        report(&plans[number].name, &cut, tally.cuts, plans[number].cuts);
    };
    std::thread::scope(|scope| {
        for slot in 0..jobs.max(1) {
            let (started, queue, done) = (&started, &queue, &done);
            scope.spawn(move || {
                let mut pending: Option<Pending> = None;
                let finish_alone = |last: Pending| {
                    let series = &started[last.number];
                    done(
                        last.number,
                        series.finish_alone(&series.slot_dir(slot), last),
                    );
                };
                // The two sets of disks a slot alternates between: the pending cut's and the
                // next one's.
                let mut set = 0;
                loop {
                    let next = if deadline.is_some_and(|deadline| Instant::now() > deadline) {
                        None
                    } else {
                        let mut queue = queue.lock().expect("queue lock");
                        let preferred = pending.as_ref().filter(|_| affinity).and_then(|p| {
                            queue.iter().position(|(_, number, _)| *number == p.number)
                        });
                        match preferred {
                            Some(at) => Some(queue.remove(at)),
                            None if queue.is_empty() => None,
                            None => Some(queue.remove(0)),
                        }
                    };
                    let Some((index, number, delay)) = next else {
                        if let Some(last) = pending.take() {
                            finish_alone(last);
                        }
                        break;
                    };
                    let series = &started[number];
                    let slot_dir = series.slot_dir(slot);
                    let disks_dir = slot_dir.join(format!("disks{set}"));
                    set = 1 - set;
                    let mut cut = Cut::new(index, delay);
                    let made = match pending.take() {
                        Some(before) if before.number == number => {
                            let (finished, made) =
                                series.chain(&slot_dir, before, &mut cut, &disks_dir);
                            done(number, finished);
                            made
                        }
                        other => {
                            if let Some(before) = other {
                                finish_alone(before);
                            }
                            series.cut_boot(&slot_dir, &disks_dir, &mut cut)
                        }
                    };
                    match made {
                        Ok(disks) => pending = Some(Pending { number, cut, disks }),
                        Err(err) => {
                            cut.outcome = Err(flat(err));
                            done(number, cut);
                        }
                    }
                }
            });
        }
    });
    Ok(tallies.into_inner().expect("tally lock"))
}

fn report(name: &str, cut: &Cut, done: usize, cuts: usize) {
    let boots: Vec<String> = cut
        .boots
        .iter()
        .map(|boot| format!("{:.1}s", boot.as_secs_f64()))
        .collect();
    let head = format!(
        "{name}: cut {done}/{cuts} (#{}) at {:.3}s, {}, left {}, boots {}",
        cut.index,
        cut.delay.as_secs_f64(),
        cut.moment,
        cut.found,
        boots.join("+")
    );
    match &cut.outcome {
        Ok(verdict) if verdict.clean() => eprintln!("{head}: ok"),
        Ok(verdict) => eprintln!("{head}: FAILED {}", verdict.describe()),
        Err(err) => eprintln!("{head}: FAILED {err}"),
    }
}

/// The lab's CI scenario for `fs`: a short series with a fresh seed (printed, so a failure can
/// be replayed with `cargo xtask soak --seed`).
pub(super) fn ci_scenario(lab: &Lab, fs: Fs, limit: Duration) -> Result<String> {
    let seed = clock_seed();
    let plan = Plan {
        fs,
        name: fs.scenario(),
        cuts: CI_CUTS,
        seed,
        limit,
    };
    let tally = series(lab, &[plan], 1, 0, None)?.remove(0);
    let (median, max) = tally.boot_times();
    let summary = format!(
        "{} cuts ({} before, {} during, {} after the save; left {}), seed {seed}, boots median \
         {:.1}s max {:.1}s",
        tally.cuts,
        tally.moments[0],
        tally.moments[1],
        tally.moments[2],
        tally.found_summary(),
        median.as_secs_f64(),
        max.as_secs_f64()
    );
    if !tally.clean() {
        bail!(
            "{summary}: {} lost, {} doubled, {} corrupt, {} left over, {} failed",
            tally.lost,
            tally.doubled,
            tally.corrupt,
            tally.leftovers,
            tally.failed
        );
    }
    Ok(summary)
}

/// `cargo xtask soak`'s series, interleaved in `jobs` guests, from cut `skip` on; none starts
/// after `deadline`.
pub fn soak(
    plans: &[Plan],
    jobs: usize,
    skip: usize,
    deadline: Option<Instant>,
) -> Result<Vec<Tally>> {
    series(&super::prepare(&[])?, plans, jobs, skip, deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_spread_over_the_whole_range_and_repeat_with_the_seed() {
        let fractions: Vec<f64> = {
            let mut draw = Draw::new(42);
            (0..1000).map(|_| draw.fraction()).collect()
        };
        assert!(fractions.iter().all(|f| (0.0..1.0).contains(f)));
        // Every tenth of the range gets its share (uniform: about 100 each).
        for tenth in 0..10 {
            let low = f64::from(tenth) / 10.0;
            let count = fractions
                .iter()
                .filter(|f| (low..low + 0.1).contains(*f))
                .count();
            assert!((60..140).contains(&count), "tenth {tenth}: {count}");
        }
        let mut again = Draw::new(42);
        assert_eq!(again.fraction(), fractions[0]);
        assert_ne!(Draw::new(43).fraction(), fractions[0]);
    }

    #[test]
    fn a_cut_counts_each_problem_once_per_record() {
        let mut tally = Tally::default();
        let verdict = check::Verdict {
            lost: vec!["dmesg-pstore_blk-1".into()],
            doubled: vec!["a".into(), "b".into()],
            ..check::Verdict::default()
        };
        tally.add(&Cut {
            index: 0,
            delay: Duration::ZERO,
            moment: "during save",
            boots: vec![Duration::from_secs(3), Duration::from_secs(5)],
            found: "records only",
            outcome: Ok(verdict),
        });
        tally.add(&Cut {
            index: 1,
            delay: Duration::ZERO,
            moment: "after save",
            boots: vec![Duration::from_secs(4)],
            found: "",
            outcome: Err("qemu exited".into()),
        });
        assert_eq!((tally.cuts, tally.lost, tally.doubled), (2, 1, 2));
        assert_eq!(tally.failed, 1);
        assert_eq!(tally.moments, [0, 1, 1]);
        assert_eq!(tally.found_summary(), "records only: 1");
        assert_eq!(
            tally.boot_times(),
            (Duration::from_secs(4), Duration::from_secs(5))
        );
        assert!(!tally.clean());
    }
}
