//! `lastgasp show ID`: the analysis first (what a reader wants), then the report's facts and the
//! end of the log; `--json` prints report.json as stored.

use std::fmt::Write as _;

use anyhow::Result;

use crate::cli::ShowArgs;
use crate::config::Config;
use crate::output;

/// Enough for any real dmesg; `show` only prints its tail.
const MAX_LOG_BYTES: u64 = 64 << 20;

pub fn run(config: &Config, args: &ShowArgs) -> Result<()> {
    let store = super::store(config);
    let loaded = store.load(&args.id)?;
    if args.json {
        let json = store.read_file(&loaded, "report.json", MAX_LOG_BYTES)?;
        output::emit(&String::from_utf8_lossy(&json))?;
        return Ok(());
    }
    let problems = store.verify(&loaded);
    let log = main_log(&loaded)
        .map(|name| {
            store
                .read_file(&loaded, name, MAX_LOG_BYTES)
                .map(|d| (name, d))
        })
        .transpose()?;
    output::emit(&render(&loaded, &problems, log, args.lines))?;
    Ok(())
}

/// dmesg.txt, or console.txt when the dmesg is empty.
fn main_log(loaded: &report::Loaded) -> Option<&'static str> {
    let size = |name: &str| {
        loaded
            .manifest
            .files
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.size)
    };
    match (size("dmesg.txt"), size("console.txt")) {
        (Some(d), _) if d > 0 => Some("dmesg.txt"),
        (_, Some(c)) if c > 0 => Some("console.txt"),
        (Some(_), _) => Some("dmesg.txt"),
        _ => None,
    }
}

/// One context item: what it is, whose it is (it was read after the crash), and its facts or
/// why it is missing.
fn context_line(item: &report::ContextItem) -> String {
    let whose = match item.describes {
        report::Describes::ThisBoot => "this boot",
        report::Describes::CrashedBoot => "the crashed boot",
    };
    let what = match (&item.missing, &item.file) {
        (Some(why), _) => format!("missing: {why}"),
        (None, file) => item
            .facts
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .chain(file.iter().map(|f| format!("in {f}")))
            .collect::<Vec<_>>()
            .join(", "),
    };
    format!(
        "{} (read after the crash, of {whose}): {what}",
        item.kind.name()
    )
}

fn render(
    loaded: &report::Loaded,
    problems: &[String],
    log: Option<(&str, Vec<u8>)>,
    lines: usize,
) -> String {
    let m = &loaded.manifest;
    let mut out = String::new();
    match &m.analysis {
        Some(analysis) => out.push_str(analysis.render_text().trim_end()),
        None => out.push_str("No kernel log text in this report."),
    }
    out.push_str("\n\n");
    let mut fact = |key: &str, value: &str| {
        let _ = writeln!(out, "{key:<14}{value}");
    };
    let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".to_string());
    fact("Report", &m.id);
    fact("Crash time", &or_unknown(&m.crash_time));
    fact("Saved", &m.created);
    let source = match (&m.backend, &m.dump_reason) {
        (Some(b), Some(r)) => format!("{} {b}, {r}", m.source),
        (Some(b), None) => format!("{} {b}", m.source),
        _ => m.source.clone(),
    };
    fact("Source", &source);
    fact("Kernel", &or_unknown(&m.kernel_release));
    fact("Partial", if m.partial { "yes" } else { "no" });
    for gap in &m.gaps {
        fact("Gap", gap);
    }
    for r in &m.records {
        let decoding = match &r.decoding {
            report::RecordDecoding::Plain => "plain".to_string(),
            report::RecordDecoding::Decompressed { algorithm } => algorithm.clone(),
            report::RecordDecoding::Raw { reason } => format!("raw: {reason}"),
        };
        fact(
            "Record",
            &format!("{} ({} bytes, {decoding})", r.file_name, r.size),
        );
    }
    for f in &m.files {
        fact("File", &format!("{} ({} bytes)", f.name, f.size));
    }
    if let Some(kdump) = &m.kdump {
        fact("Vmcore", &format!("{} bytes", kdump.vmcore_bytes));
        if let Some(dump) = &kdump.dump {
            fact(
                "Dump",
                &format!(
                    "{}: level {}, {}, {} pages{} (crash or drgn with the kernel's debug \
                     symbols open it)",
                    dump.file,
                    dump.level,
                    dump.compression,
                    dump.pages,
                    if dump.complete { "" } else { ", incomplete" }
                ),
            );
        }
    }
    for item in &m.context {
        fact("Context", &context_line(item));
    }
    if problems.is_empty() {
        fact("Integrity", "ok");
    } else {
        for p in problems {
            fact("Integrity", p);
        }
    }
    fact("Directory", &loaded.path.display().to_string());
    if let Some((name, data)) = log.filter(|_| lines > 0) {
        let text = String::from_utf8_lossy(&data);
        let all: Vec<&str> = text.lines().collect();
        let tail = all
            .get(all.len().saturating_sub(lines)..)
            .unwrap_or_default();
        let _ = match tail.len() {
            0 => writeln!(out, "\n{name} is empty."),
            n => writeln!(out, "\nLast {n} lines of {name}:"),
        };
        for line in tail {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
