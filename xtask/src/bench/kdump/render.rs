//! The kdump benchmark's output: the terminal table, its JSON, and its section of
//! docs/benchmarks.md (from [`HEADING`] to the hand-written notes).

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::contenders::{DUMP_PAIRS, LOG_PAIRS};
use super::results::{KdumpBench, PairRatios, Row, megabytes};
use crate::bench::print::ratio_text;
use crate::bench::stats::ms;

/// The heading that starts the kdump section of the doc.
pub const HEADING: &str = "## kdump: log extraction and level-31 dumps";

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn timing(row: &Row) -> String {
    format!("{} ({})", ms(row.summary.median), ms(row.summary.min))
}

/// The table printed after a run.
pub fn render_text(bench: &KdumpBench) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "kdump, on {} ({}, {}):",
        bench.vmcore.name,
        bench.vmcore.release,
        megabytes(bench.vmcore.bytes)
    );
    let _ = writeln!(
        out,
        "{:<28} {:>22} {:>10} {:>12}",
        "contender", "ms median (min)", "peak MiB", "output"
    );
    for (row, size) in bench
        .log
        .iter()
        .map(|row| (row, format!("{} B", row.bytes)))
        .chain(bench.dump.iter().map(|row| (row, megabytes(row.bytes))))
    {
        let _ = writeln!(
            out,
            "{:<28} {:>22} {:>10} {:>12}",
            row.contender.key(),
            timing(row),
            mib(row.peak_kib),
            size
        );
    }
    for pair in bench
        .ratios(&LOG_PAIRS)
        .iter()
        .chain(&bench.ratios(&DUMP_PAIRS))
    {
        let _ = writeln!(
            out,
            "{} / {}: time {} (medians), {} (minimums); size {}; peak memory {}",
            pair.lastgasp,
            pair.peer,
            ratio_text(pair.median),
            ratio_text(pair.min),
            ratio_text(pair.size),
            ratio_text(pair.peak)
        );
    }
    for verdict in bench.verdicts() {
        let _ = writeln!(out, "- {verdict}");
    }
    out
}

fn pair_json(p: &PairRatios) -> Value {
    json!({
        "lastgasp": p.lastgasp, "peer": p.peer,
        "time-ratio-of-medians": p.median, "time-ratio-of-minimums": p.min,
        "size-ratio": p.size, "peak-memory-ratio": p.peak,
    })
}

/// Everything the run found, for `--json`.
pub fn to_json(bench: &KdumpBench) -> Value {
    let rows = |rows: &[Row]| -> Vec<Value> {
        rows.iter()
            .map(|r| {
                json!({
                    "contender": r.contender.key(),
                    "runs": r.summary.runs,
                    "median-ms": r.summary.median.as_secs_f64() * 1000.0,
                    "min-ms": r.summary.min.as_secs_f64() * 1000.0,
                    "peak-kib": r.peak_kib,
                    "output-bytes": r.bytes,
                    "equal-to-makedumpfile": r.equal_to_makedumpfile,
                })
            })
            .collect()
    };
    json!({
        "vmcore": {
            "name": bench.vmcore.name, "bytes": bench.vmcore.bytes,
            "release": bench.vmcore.release, "origin": bench.vmcore.origin,
        },
        "iterations": bench.iterations,
        "elapsed-seconds": bench.elapsed.as_secs_f64(),
        "versions": bench.versions.iter().map(|(k, v)| json!({ "tool": k, "version": v })).collect::<Vec<_>>(),
        "log": rows(&bench.log),
        "dump": rows(&bench.dump),
        "pairs": bench.ratios(&LOG_PAIRS).iter().chain(&bench.ratios(&DUMP_PAIRS)).map(pair_json).collect::<Vec<_>>(),
        "not-run": bench.not_run.iter().map(|(k, why)| json!({ "contender": k, "why": why })).collect::<Vec<_>>(),
        "verdicts": bench.verdicts(),
    })
}

fn table(out: &mut String, rows: &[Row], log: bool) {
    if log {
        out.push_str(
            "| reader | wall ms, median (min) | peak memory MiB | output | equal to makedumpfile's |\n\
             |---|---:|---:|---:|---|\n",
        );
    } else {
        out.push_str(
            "| writer | wall ms, median (min) | peak memory MiB | dump size |\n\
             |---|---:|---:|---:|\n",
        );
    }
    for row in rows {
        let _ = write!(
            out,
            "| `{}` | {} | {} | {} |",
            row.contender.key(),
            timing(row),
            mib(row.peak_kib),
            if log {
                format!("{} bytes", row.bytes)
            } else {
                megabytes(row.bytes)
            }
        );
        if log {
            let equal = match row.equal_to_makedumpfile {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            };
            let _ = write!(out, " {equal} |");
        }
        out.push('\n');
    }
}

fn ratios(out: &mut String, pairs: &[PairRatios]) {
    out.push_str(
        "| lastgasp | peer | time, ratio of medians | time, ratio of minimums | size | peak memory |\n\
         |---|---|---:|---:|---:|---:|\n",
    );
    for p in pairs {
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} | {} | {} | {} |",
            p.lastgasp,
            p.peer,
            ratio_text(p.median),
            ratio_text(p.min),
            ratio_text(p.size),
            ratio_text(p.peak)
        );
    }
}

/// The doc's kdump section for this run, from [`HEADING`] on (no notes).
pub fn render_markdown(bench: &KdumpBench, command: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{HEADING}

The same `{command}` run, on one real vmcore from the lab:
`{name}`, {size} ({bytes} bytes), Linux {release}.

",
        name = bench.vmcore.name,
        size = megabytes(bench.vmcore.bytes),
        bytes = bench.vmcore.bytes,
        release = bench.vmcore.release,
    );
    for fact in &bench.vmcore.origin {
        let _ = writeln!(out, "- {fact}");
    }
    out.push_str("\n| tool | version |\n|---|---|\n");
    for (tool, version) in &bench.versions {
        let _ = writeln!(out, "| {tool} | {version} |");
    }
    let runs = |rows: &[Row]| rows.first().map_or(0, |r| r.summary.runs);
    let _ = write!(
        out,
        "\nWhole-process wall time in milliseconds, median (min); peak memory is the highest\n\
         resident set size over all runs. The log readers take a few milliseconds, so each runs\n\
         {} times; each dump writer {} times.\n\n### Log extraction\n\n",
        runs(&bench.log),
        runs(&bench.dump)
    );
    table(&mut out, &bench.log, true);
    out.push('\n');
    ratios(&mut out, &bench.ratios(&LOG_PAIRS));
    out.push_str("\n### Level-31 dumps\n\n");
    table(&mut out, &bench.dump, false);
    out.push('\n');
    ratios(&mut out, &bench.ratios(&DUMP_PAIRS));
    out.push_str("\nRatios are lastgasp's over the peer's: below 1, lastgasp is faster, smaller or leaner.\n\n### Targets\n\n");
    for verdict in bench.verdicts() {
        let _ = writeln!(out, "- {verdict}");
    }
    out.push_str(METHOD);
    out
}

const METHOD: &str = "
### Method

- The vmcore is a copy of `/proc/vmcore` taken by the capture kernel of a crashed 1 GiB guest
  whose memory was mostly in use (page cache, tmpfs, anonymous memory, slab), made by
  `cargo xtask lab --vmcores` under `target/lab/vmcores/`. It stays in the page cache between
  runs (all tools read the same warm file), as /proc/vmcore is memory too.
- Log readers: `lastgasp dmesg V > out`, `makedumpfile --dump-dmesg V out`,
  `vmcore-dmesg V > out`. Dump writers: `lastgasp capture --vmcore V --out D --dump-level 31
  --compression zstd|zlib|lzo` and `makedumpfile -c|-l -d 31 V D/dumpfile`. `lastgasp capture`
  does more than write the dump: it writes `dmesg.txt` and `capture.json` first, fsyncs each
  file and its directory, and renames into place; makedumpfile writes its one file.
- Every contender runs once untimed (a warm-up whose output is checked: the log readers' text
  is compared with makedumpfile's, a dump must start with the `KDUMP   ` signature), then the
  timed runs interleave all contenders of a group, in reverse order on odd iterations. Before
  each run the output directory is emptied and its filesystem flushed (`sync -f`), untimed.
- Wall time is measured around spawn and wait; peak memory is the child's `ru_maxrss` as
  GNU time (`/usr/bin/time -f %M`) reports it, so both cover the whole process.
- The machine is shared (two cores, other builds running): a median can be up to twice its
  minimum. Both are given, and each pair ran interleaved, so drift hits both sides alike.
- Debian's makedumpfile 1.7.2 is built without zstd: its `-z` prints no warning and writes
  every page uncompressed (the file is as big as the pages kept), so it is not a contender; the
  zstd dump is compared with `-c` (zlib, the smallest peer) and `-l` (lzo, the fastest).
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::kdump::results::sample;

    #[test]
    fn the_markdown_has_the_tables_ratios_and_verdicts() {
        let md = render_markdown(&sample(), "cargo xtask bench --write-doc");
        assert!(md.starts_with(HEADING));
        assert!(
            md.contains("| `lastgasp dmesg` | 20.00 (10.00) | 2.9 | 26771 bytes | yes |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| `lastgasp capture zstd` | `makedumpfile -c` | 0.80 | 0.80 | 0.93 | 0.86 |"
            ),
            "{md}"
        );
        assert!(md.contains("- zstd level-31 dump no slower than makedumpfile -l: NOT met"));
        assert!(md.contains("without zstd"));
    }

    #[test]
    fn text_and_json_carry_every_contender() {
        let bench = sample();
        let text = render_text(&bench);
        assert_eq!(text.matches("lastgasp capture").count(), 3 + 4);
        let json = to_json(&bench);
        assert_eq!(json["dump"].as_array().unwrap().len(), 5);
        assert_eq!(json["pairs"].as_array().unwrap().len(), 6);
        assert_eq!(json["log"][0]["equal-to-makedumpfile"], true);
    }
}
