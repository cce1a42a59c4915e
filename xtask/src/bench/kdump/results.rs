//! What the kdump benchmark found: per contender the wall-time summary, peak memory and output
//! size; per pair the ratios; and the verdict on each target.

use std::time::Duration;

use super::contenders::Contender;
use crate::bench::stats::{Summary, ratio};

/// 64 MiB, the memory target for lastgasp whatever the vmcore's size.
pub const PEAK_TARGET_KIB: u64 = 64 * 1024;

pub struct KdumpBench {
    pub vmcore: VmcoreFacts,
    pub iterations: usize,
    /// Tool versions, for the doc.
    pub versions: Vec<(String, String)>,
    pub log: Vec<Row>,
    pub dump: Vec<Row>,
    /// lastgasp contenders that failed their warm-up, with the reason.
    pub not_run: Vec<(String, String)>,
    pub elapsed: Duration,
}

/// The vmcore everything ran on.
pub struct VmcoreFacts {
    /// The lab's name for it.
    pub name: String,
    pub bytes: u64,
    pub release: String,
    /// What the lab says about how it was made (its info.txt), one fact a line.
    pub origin: Vec<String>,
}

pub struct Row {
    pub contender: Contender,
    pub summary: Summary,
    /// Highest peak resident memory over all runs, KiB.
    pub peak_kib: u64,
    /// Size of the output (the log text, or the dump file).
    pub bytes: u64,
    /// For a log: whether it equals makedumpfile's, byte for byte.
    pub equal_to_makedumpfile: Option<bool>,
}

/// lastgasp against one peer.
pub struct PairRatios {
    pub lastgasp: String,
    pub peer: String,
    pub median: Option<f64>,
    pub min: Option<f64>,
    pub size: Option<f64>,
    pub peak: Option<f64>,
}

impl KdumpBench {
    pub fn row(&self, contender: Contender) -> Option<&Row> {
        self.log
            .iter()
            .chain(&self.dump)
            .find(|row| row.contender == contender)
    }

    /// The ratios of `pairs` (lastgasp's over the peer's; below 1, lastgasp is faster/smaller).
    pub fn ratios(&self, pairs: &[(Contender, Contender)]) -> Vec<PairRatios> {
        pairs
            .iter()
            .filter_map(|&(a, b)| {
                let (a, b) = (self.row(a)?, self.row(b)?);
                Some(PairRatios {
                    lastgasp: a.contender.key(),
                    peer: b.contender.key(),
                    median: ratio(a.summary.median, b.summary.median),
                    min: ratio(a.summary.min, b.summary.min),
                    size: fraction(a.bytes, b.bytes),
                    peak: fraction(a.peak_kib, b.peak_kib),
                })
            })
            .collect()
    }

    /// One line per target of the issue, met or not, with the numbers that decide it.
    pub fn verdicts(&self) -> Vec<String> {
        use super::contenders::{DUMP, LOG};
        let mut lines: Vec<String> = self
            .not_run
            .iter()
            .map(|(key, why)| format!("{key} was not measured: {why}"))
            .collect();
        let median = |c: Contender| self.row(c).map(|r| r.summary.median);
        if let (Some(lg), Some(mk), Some(vd)) = (median(LOG[0]), median(LOG[1]), median(LOG[2])) {
            lines.push(format!(
                "log extraction no slower than either peer: {} (lastgasp {}, makedumpfile {}, \
                 vmcore-dmesg {}; medians)",
                met(lg <= mk && lg <= vd),
                millis(lg),
                millis(mk),
                millis(vd)
            ));
        }
        let (zstd, c, l) = (self.row(DUMP[0]), self.row(DUMP[3]), self.row(DUMP[4]));
        if let (Some(zstd), Some(c)) = (zstd, c) {
            lines.push(format!(
                "zstd level-31 dump no larger than makedumpfile -c's: {} ({} vs {})",
                met(zstd.bytes <= c.bytes),
                megabytes(zstd.bytes),
                megabytes(c.bytes)
            ));
        }
        if let (Some(zstd), Some(l)) = (zstd, l) {
            lines.push(format!(
                "zstd level-31 dump no slower than makedumpfile -l: {} ({} vs {}; medians)",
                met(zstd.summary.median <= l.summary.median),
                millis(zstd.summary.median),
                millis(l.summary.median)
            ));
        }
        let lastgasp_peak = self
            .log
            .iter()
            .chain(&self.dump)
            .filter(|r| r.contender.is_lastgasp())
            .map(|r| r.peak_kib)
            .max();
        if let Some(peak) = lastgasp_peak {
            lines.push(format!(
                "lastgasp's peak memory at most 64 MiB: {} (highest {:.1} MiB)",
                met(peak <= PEAK_TARGET_KIB),
                peak as f64 / 1024.0
            ));
        }
        lines
    }
}

fn fraction(a: u64, b: u64) -> Option<f64> {
    (b != 0).then(|| a as f64 / b as f64)
}

fn met(yes: bool) -> &'static str {
    if yes { "met" } else { "NOT met" }
}

/// Milliseconds with two decimals: the log readers take a few.
pub fn millis(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// A small finished run, for the output tests.
#[cfg(test)]
pub fn sample() -> KdumpBench {
    use super::contenders::{DUMP, LOG};
    let row = |contender, median_ms: u64, peak_kib, bytes| Row {
        contender,
        summary: Summary {
            runs: 3,
            median: Duration::from_millis(median_ms),
            min: Duration::from_millis(median_ms / 2),
        },
        peak_kib,
        bytes,
        equal_to_makedumpfile: matches!(contender, Contender::Log(_)).then_some(true),
    };
    KdumpBench {
        vmcore: VmcoreFacts {
            name: "kdump-x86_64-6.12-busy".into(),
            bytes: 850_000_000,
            release: "6.12.117+deb13-amd64".into(),
            origin: vec!["guest memory: 1024 MiB".into()],
        },
        iterations: 3,
        versions: vec![(
            "makedumpfile".into(),
            "Debian makedumpfile 1:1.7.2-1".into(),
        )],
        log: vec![
            row(LOG[0], 20, 3000, 26_771),
            row(LOG[1], 100, 20_000, 26_771),
            row(LOG[2], 40, 2000, 26_771),
        ],
        dump: vec![
            row(DUMP[0], 800, 30_000, 25_000_000),
            row(DUMP[1], 1500, 30_000, 27_000_000),
            row(DUMP[2], 400, 30_000, 34_000_000),
            row(DUMP[3], 1000, 35_000, 26_900_000),
            row(DUMP[4], 130, 35_000, 33_800_000),
        ],
        not_run: Vec::new(),
        elapsed: Duration::from_millis(60),
    }
}

#[cfg(test)]
mod tests {
    use super::super::contenders::{DUMP_PAIRS, LOG_PAIRS};
    use super::*;

    #[test]
    fn ratios_are_lastgasp_over_the_peer() {
        let bench = sample();
        let log = bench.ratios(&LOG_PAIRS);
        assert_eq!(log.len(), 2);
        let near = |got: Option<f64>, want: f64| (got.unwrap() - want).abs() < 1e-9;
        assert!(near(log[0].median, 0.2) && near(log[0].min, 0.2));
        assert!(near(log[1].peak, 1.5));
        let dump = bench.ratios(&DUMP_PAIRS);
        assert_eq!(dump[0].peer, "makedumpfile -c");
        assert!((dump[0].size.unwrap() - 25.0 / 26.9).abs() < 1e-9);
    }

    #[test]
    fn a_contender_that_did_not_run_is_said_so_and_judged_on_nothing() {
        let mut bench = sample();
        bench.dump.retain(|r| !r.contender.is_lastgasp());
        bench.not_run = vec![(
            "lastgasp capture zstd".into(),
            "dump level 31 needs the struct page filter".into(),
        )];
        let v = bench.verdicts();
        assert!(v[0].starts_with("lastgasp capture zstd was not measured: dump level 31"));
        assert!(
            v.iter().all(|line| !line.contains("zstd level-31 dump no")),
            "{v:?}"
        );
        assert_eq!(bench.ratios(&super::super::contenders::DUMP_PAIRS).len(), 0);
    }

    #[test]
    fn verdicts_say_which_targets_are_met() {
        let bench = sample();
        let v = bench.verdicts();
        assert_eq!(v.len(), 4, "{v:?}");
        assert!(v[0].starts_with("log extraction no slower than either peer: met"));
        assert!(v[1].contains("no larger than makedumpfile -c's: met"));
        assert!(
            v[2].contains("no slower than makedumpfile -l: NOT met"),
            "{}",
            v[2]
        );
        assert!(
            v[3].contains("at most 64 MiB: met (highest 29.3 MiB)"),
            "{}",
            v[3]
        );
    }
}
