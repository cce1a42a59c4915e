//! The benchmark's outputs: the terminal table, the JSON document, and docs/benchmarks.md, which
//! is generated whole from a run so the numbers and the method beside them cannot drift apart.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::results::{Bench, SetResult};
use super::stats::ms;
use super::tools::{Produced, Tool};

/// The doc's path relative to the workspace.
pub const DOC_PATH: &str = "docs/benchmarks.md";

/// Everything from this heading on is written by hand and survives `--write-doc`.
const NOTES_HEADING: &str = "## Notes";

fn ratio_text(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".into(), |r| format!("{r:.2}"))
}

fn timing(set: &SetResult, tool: Tool) -> String {
    set.get(tool).map_or_else(
        || "n/a".into(),
        |t| format!("{} ({})", ms(t.summary.median), ms(t.summary.min)),
    )
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// The table printed after a run.
pub fn render_text(bench: &Bench) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:>18} {:>18} {:>14} {:>7} {:>7}",
        "record set", "lastgasp ms", "systemd-pstore ms", "namespace ms", "ratio", "net"
    );
    let _ = writeln!(
        out,
        "{:<24} {:>18} {:>18} {:>14}",
        "", "median (min)", "median (min)", "median (min)"
    );
    for set in &bench.sets {
        let _ = writeln!(
            out,
            "{:<24} {:>18} {:>18} {:>14} {:>7} {:>7}",
            set.key,
            timing(set, Tool::Lastgasp),
            timing(set, Tool::SystemdPstore),
            timing(set, Tool::Namespace),
            ratio_text(set.ratio()),
            ratio_text(set.net_ratio()),
        );
    }
    let _ = writeln!(
        out,
        "ratio = lastgasp / systemd-pstore (medians); net = the same with the namespace median \
         subtracted from both. {} iterations per tool per set, {:.0} s in all.",
        bench.iterations,
        bench.elapsed.as_secs_f64()
    );
    out
}

/// Everything the run found, for `--json`.
pub fn to_json(bench: &Bench) -> Value {
    let m = &bench.machine;
    let sets: Vec<Value> = bench
        .sets
        .iter()
        .map(|set| {
            let tools: serde_json::Map<String, Value> = set
                .tools
                .iter()
                .map(|t| {
                    let value = json!({
                        "runs": t.summary.runs,
                        "median-ms": t.summary.median.as_secs_f64() * 1000.0,
                        "min-ms": t.summary.min.as_secs_f64() * 1000.0,
                        "produced": produced_json(t.tool, &t.produced),
                    });
                    (t.tool.key().to_owned(), value)
                })
                .collect();
            json!({
                "set": set.key,
                "title": set.title,
                "origin": set.origin,
                "files": set.files,
                "bytes": set.bytes,
                "crashes": set.crashes,
                "tools": tools,
                "ratio-of-medians": set.ratio(),
                "net-ratio-of-medians": set.net_ratio(),
            })
        })
        .collect();
    json!({
        "command": bench.command,
        "iterations": bench.iterations,
        "elapsed-seconds": bench.elapsed.as_secs_f64(),
        "machine": {
            "date": m.date, "cpu": m.cpu, "cores": m.cores, "kernel": m.kernel,
            "outputs-dir": m.work_dir, "outputs-filesystem": m.filesystem,
            "records-dir": m.records_dir, "records-filesystem": m.records_filesystem,
            "lastgasp": m.lastgasp, "commit": m.commit,
            "systemd": m.systemd, "unshare": m.unshare, "rustc": m.rustc,
        },
        "sets": sets,
    })
}

fn produced_json(tool: Tool, p: &Produced) -> Value {
    match tool {
        Tool::Namespace => Value::Null,
        Tool::Lastgasp => json!({
            "reports": p.units, "files": p.files, "bytes": p.bytes,
            "analysed": p.signatures, "distinct-signatures": p.distinct_signatures,
        }),
        Tool::SystemdPstore => json!({ "dmesg-txt": p.units, "files": p.files, "bytes": p.bytes }),
    }
}

fn produced_text(tool: Tool, p: &Produced) -> String {
    match tool {
        Tool::Namespace => String::new(),
        Tool::Lastgasp => format!(
            "{} report{}, {} files, {}; {} analysed with a signature ({} distinct)",
            p.units,
            if p.units == 1 { "" } else { "s" },
            p.files,
            kib(p.bytes),
            p.signatures,
            p.distinct_signatures
        ),
        Tool::SystemdPstore => {
            format!("{} dmesg.txt, {} files, {}", p.units, p.files, kib(p.bytes))
        }
    }
}

/// docs/benchmarks.md for this run.
pub fn render_markdown(bench: &Bench) -> String {
    let m = &bench.machine;
    let mut out = String::new();
    let _ = write!(
        out,
        "# Benchmarks: `lastgasp save` against systemd-pstore

Generated by `cargo xtask bench --write-doc` (xtask/src/bench): rerun it rather than editing
the numbers. The table is the latest run and the method below it is what that run did; only the
last section, *Notes*, is written by hand and kept across runs.

## Latest run

```
{command}
```

| | |
|---|---|
| date | {date} |
| CPU | {cpu}, {cores} cores available |
| kernel | {kernel} |
| record copies in | {records_dir} ({records_fs}) |
| outputs in | {work_dir} ({fs}) |
| lastgasp | {lastgasp} (release build, commit {commit}) |
| systemd-pstore | Debian systemd {systemd} (`/lib/systemd/systemd-pstore`) |
| unshare | {unshare} |
| rustc | {rustc} |

Whole-process wall time per run in milliseconds, median (min) of {iterations} runs per tool per
set. *ratio* is lastgasp's median over systemd-pstore's (below 1: lastgasp faster); *net* is the
same after subtracting the namespace wrapper's median from both.

| record set | files | crashes | lastgasp | systemd-pstore | namespace alone | ratio | net |
|---|---:|---:|---:|---:|---:|---:|---:|
",
        command = bench.command,
        date = m.date,
        cpu = m.cpu,
        cores = m.cores,
        kernel = m.kernel,
        fs = m.filesystem,
        work_dir = m.work_dir,
        records_fs = m.records_filesystem,
        records_dir = m.records_dir,
        lastgasp = m.lastgasp,
        commit = m.commit,
        systemd = m.systemd,
        unshare = m.unshare,
        rustc = m.rustc,
        iterations = bench.iterations,
    );
    for set in &bench.sets {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            set.title,
            set.files,
            set.crashes,
            timing(set, Tool::Lastgasp),
            timing(set, Tool::SystemdPstore),
            timing(set, Tool::Namespace),
            ratio_text(set.ratio()),
            ratio_text(set.net_ratio()),
        );
    }
    let _ = write!(out, "\n{}\n", verdict(bench));
    out.push_str(
        "\n## What each tool produced (one run)\n\n\
         | record set | lastgasp | systemd-pstore |\n|---|---|---|\n",
    );
    for set in &bench.sets {
        let cell = |tool| {
            set.get(tool)
                .map_or_else(String::new, |t| produced_text(tool, &t.produced))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            set.title,
            cell(Tool::Lastgasp),
            cell(Tool::SystemdPstore)
        );
    }
    out.push_str(
        "
- **lastgasp**: one report directory per crash: `dmesg.txt`, the crash's log reassembled from
  its parts and dumps (part headers stripped, Oops and Panic merged without doubled lines), and
  `report.json`, a versioned manifest with the SHA-256 and size of every record it consumed and
  of every other file in the report, the backend, dump reasons, crash time, gaps, and the
  analysis of the log (class, crash signature, title, kernel release, call trace, modules,
  taint). The report is written in a temporary directory, its files and the directory are
  fsynced, it is renamed into place and the reports directory is fsynced, all before the records
  are unlinked from pstore.
- **systemd-pstore**: the records copied byte for byte into `/var/lib/systemd/pstore` (grouped into
  directories by efi id), plus a `dmesg.txt` per group that concatenates the parts, each behind a
  `<file name>:` line, part headers kept. No analysis, no hashes, no fsync.

## Method

Record sets (real records from the lab, Debian's 6.1 kernel under QEMU):

",
    );
    for set in &bench.sets {
        let _ = writeln!(
            out,
            "- *{}*: {} files, {}, {} crash{}: {}.",
            set.title,
            set.files,
            kib(set.bytes),
            set.crashes,
            if set.crashes == 1 { "" } else { "es" },
            set.origin
        );
    }
    out.push_str(
        "
Each run gets a fresh copy of its set in a new directory (files read-only, mtime set to the
record's time as pstore does): both tools move the records away, so the copy is setup and is
not timed. The copies live on a RAM filesystem (`/dev/shm` unless `--records-dir` says
otherwise), as `/sys/fs/pstore` does, and the outputs in the work directory (the system temp
directory unless `--work-dir` says otherwise), standing in for `/var/lib`: so, as on a real
system, neither tool can simply rename a record into its archive.

Before each timed run the outputs' filesystem is flushed (`sync -f`, untimed), so no run's
fsyncs pay for data an earlier run (or the cleanup after it) left dirty.

Every run's output is checked after the timing, and the benchmark fails loudly if a tool did
not do its work: no record may be left in the copy, lastgasp must have made exactly one report
(with `report.json` and `dmesg.txt`) per crash, and systemd-pstore at least one `dmesg.txt` per
crash.

systemd-pstore takes no options for its directories: it reads `/sys/fs/pstore` and writes
`/var/lib/systemd/pstore` (Storage=external and Unlink=yes, its defaults). So every run goes
through the same wrapper, a shell script the benchmark writes into its scratch directory:
`unshare --mount --propagation private /bin/sh in-namespace.sh <copy> <empty dir> <command>`, which
bind-mounts the copy over `/sys/fs/pstore` and the empty directory over `/var/lib/systemd/pstore`
and then execs the command. lastgasp runs inside the same wrapper as
`lastgasp save --pstore-dir <copy> --reports-dir <dir> --root <empty root>` (the root holds only a
config that lifts retention limits, so all reports stay countable). Both therefore pay the same
unshare, shell and mount cost; the *namespace alone* column is that wrapper running `true`, so
its median can be subtracted (*net*) to compare the tools' own work. The time is whole-process
wall time measured in the benchmark with `std::time::Instant` around spawn and wait: exec,
dynamic loading, reading, writing, unlinking, exit. Timing only the tool's process inside the
namespace would need a timer inside the wrapper; measuring from outside keeps one clock for all.

Runs are interleaved: after one untimed warm-up of each, every iteration runs the namespace
baseline, lastgasp and systemd-pstore, in reverse order on odd iterations, so drift in machine
load hits all three alike.

Differences that favour one side, left in on purpose because they are what each tool really does:

- lastgasp fsyncs every report file and directory before deleting records (it must never lose a
  crash); systemd-pstore copies with `copy_file_range` and renames, without fsync.
- systemd-pstore also sends every record, content included, to the journal. Where the benchmark
  ran there was no journald, so that `sendmsg` failed at once; on a real system it costs
  systemd-pstore more than measured here.
- Both tools write their outputs to the same filesystem (above); where it is a disk, lastgasp's
  fsyncs are real disk flushes, and on a machine shared with other work they are also the
  noisiest part of the timing.

Reproduce with the command above (as root: it needs `unshare --mount` and bind mounts).
`--iterations N` changes the number of runs, `--crashes N` the size of the generated set,
`--json` prints the results as JSON, `--write-doc` rewrites this file, and
`--export-sets DIR` writes the record sets out for profiling a tool by hand.
",
    );
    out
}

/// The doc for this run, keeping the hand-written notes section of `previous` (the doc as it
/// was), if it has one.
pub fn render_doc(bench: &Bench, previous: Option<&str>) -> String {
    let mut out = render_markdown(bench);
    let heading = format!("\n{NOTES_HEADING}");
    if let Some(notes) = previous.and_then(|p| p.find(&heading).and_then(|at| p.get(at + 1..))) {
        out.push('\n');
        out.push_str(notes);
    }
    out
}

/// One sentence per set on the target "no slower than systemd-pstore".
fn verdict(bench: &Bench) -> String {
    let lines: Vec<String> = bench
        .sets
        .iter()
        .map(|set| match set.ratio() {
            Some(r) if r <= 1.0 => format!(
                "- {}: lastgasp took {:.0}% of systemd-pstore's median time.",
                set.title,
                r * 100.0
            ),
            Some(r) => format!(
                "- {}: lastgasp was {:.2}× slower than systemd-pstore (median).",
                set.title, r
            ),
            None => format!("- {}: no ratio (a tool has no samples).", set.title),
        })
        .collect();
    format!(
        "Target: lastgasp no slower than systemd-pstore while doing more.\n\n{}",
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::machine::Machine;
    use crate::bench::results::ToolResult;
    use crate::bench::stats::Summary;
    use std::time::Duration;

    fn bench() -> Bench {
        let row = |tool, median_ms, units| ToolResult {
            tool,
            summary: Summary {
                runs: 3,
                median: Duration::from_millis(median_ms),
                min: Duration::from_millis(median_ms - 1),
            },
            produced: Produced {
                units,
                files: 2,
                bytes: 2048,
                signatures: units,
                distinct_signatures: 1,
            },
        };
        let fact = |s: &str| s.to_owned();
        Bench {
            command: "cargo xtask bench --iterations 3 --write-doc".into(),
            iterations: 3,
            machine: Machine {
                date: fact("2026-11-26 04:00 UTC"),
                cpu: fact("CPU"),
                cores: 2,
                kernel: fact("6.1.0"),
                filesystem: fact("ext4"),
                work_dir: fact("/tmp"),
                records_filesystem: fact("tmpfs"),
                records_dir: fact("/dev/shm"),
                lastgasp: fact("lastgasp 0.1.0"),
                commit: fact("abc1234"),
                systemd: fact("252"),
                unshare: fact("unshare 2.38"),
                rustc: fact("rustc 1.95.0"),
            },
            sets: vec![SetResult {
                key: "ramoops".into(),
                title: "ramoops pair".into(),
                origin: "fixtures".into(),
                files: 2,
                bytes: 4096,
                crashes: 1,
                tools: vec![
                    row(Tool::Namespace, 5, 0),
                    row(Tool::Lastgasp, 9, 1),
                    row(Tool::SystemdPstore, 13, 1),
                ],
            }],
            elapsed: Duration::from_secs(10),
        }
    }

    #[test]
    fn markdown_has_the_command_the_row_and_the_verdict() {
        let doc = render_markdown(&bench());
        assert!(doc.contains("cargo xtask bench --iterations 3 --write-doc\n"));
        assert!(doc.contains(
            "| ramoops pair | 2 | 1 | 9.00 (8.00) | 13.00 (12.00) | 5.00 (4.00) | 0.69 | 0.50 |"
        ));
        assert!(doc.contains("lastgasp took 69% of systemd-pstore's median time"));
        assert!(doc.contains("| ramoops pair | 1 report, 2 files, 2.0 KiB;"));
        assert!(!doc.contains(NOTES_HEADING));
    }

    #[test]
    fn notes_survive_a_rewrite_and_nothing_else_does() {
        let old = "# Benchmarks\n| stale | numbers |\n\n## Notes\n\nProfiled by hand.\n";
        let doc = render_doc(&bench(), Some(old));
        assert!(doc.ends_with("\n## Notes\n\nProfiled by hand.\n"), "{doc}");
        assert!(!doc.contains("stale"));
        assert_eq!(render_doc(&bench(), None), render_markdown(&bench()));
        assert_eq!(
            render_doc(&bench(), Some("no notes")),
            render_markdown(&bench())
        );
    }

    #[test]
    fn json_carries_ratio_and_products() {
        let json = to_json(&bench());
        let set = &json["sets"][0];
        assert_eq!(set["tools"]["lastgasp"]["produced"]["reports"], 1);
        assert_eq!(set["tools"]["systemd-pstore"]["produced"]["dmesg-txt"], 1);
        assert!((set["ratio-of-medians"].as_f64().unwrap() - 9.0 / 13.0).abs() < 1e-9);
        assert_eq!(json["machine"]["records-filesystem"], "tmpfs");
    }

    #[test]
    fn text_table_has_one_line_per_set() {
        let text = render_text(&bench());
        let row = text.lines().find(|l| l.starts_with("ramoops")).unwrap();
        assert!(row.contains("9.00 (8.00)") && row.contains("0.69"), "{row}");
    }
}
