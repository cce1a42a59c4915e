//! What a run prints: the terminal table, or with `--json` the whole result as JSON; plus the
//! number formatting the doc shares.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::results::{Bench, SetResult};
use super::stats::ms;
use super::tools::{Produced, Tool};

pub(super) fn ratio_text(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".into(), |r| format!("{r:.2}"))
}

pub(super) fn timing(set: &SetResult, tool: Tool) -> String {
    set.get(tool).map_or_else(
        || "n/a".into(),
        |t| format!("{} ({})", ms(t.summary.median), ms(t.summary.min)),
    )
}

pub(super) fn kib(bytes: u64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::results::sample;

    #[test]
    fn json_carries_ratio_and_products() {
        let json = to_json(&sample());
        let set = &json["sets"][0];
        assert_eq!(set["tools"]["lastgasp"]["produced"]["reports"], 1);
        assert_eq!(set["tools"]["systemd-pstore"]["produced"]["dmesg-txt"], 1);
        assert!((set["ratio-of-medians"].as_f64().unwrap() - 9.0 / 13.0).abs() < 1e-9);
        assert_eq!(json["machine"]["records-filesystem"], "tmpfs");
    }

    #[test]
    fn text_table_has_one_line_per_set() {
        let text = render_text(&sample());
        let row = text.lines().find(|l| l.starts_with("ramoops")).unwrap();
        assert!(row.contains("9.00 (8.00)") && row.contains("0.69"), "{row}");
    }
}
