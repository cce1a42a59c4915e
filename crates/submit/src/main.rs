//! `lastgasp-submit`: the sender `lastgasp submit` runs once it has read the configuration. Its
//! request (the effective `[submit]` settings and the command's options) comes as JSON on
//! standard input; it prints what it did, as text or JSON, and exits 1 when a report was
//! refused for good or the target refused the credentials.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use submit::run::{Attempt, Preview, Request, RunReport, run, time_text};
use submit::target::Outcome;

fn main() -> ExitCode {
    if std::env::args_os().len() > 1 {
        eprintln!(
            "lastgasp-submit takes no arguments: it is run by `lastgasp submit` (see lastgasp-submit(1))"
        );
        return ExitCode::from(2);
    }
    match serve() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> Result<bool> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("reading the request on standard input")?;
    let request: Request =
        serde_json::from_str(&input).context("the request on standard input is not valid")?;
    let report = run(&request)?;
    let mut out = std::io::stdout().lock();
    if request.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_text(&mut out, &report)?;
    }
    Ok(!report.failed())
}

fn print_text(out: &mut impl Write, report: &RunReport) -> std::io::Result<()> {
    if report.dry_run {
        writeln!(
            out,
            "Dry run: nothing is queued or sent. This would go to {} ({}):",
            report.target, report.destination
        )?;
        if report.previews.is_empty() {
            writeln!(out, "nothing: no report is waiting to be sent")?;
        }
        for preview in &report.previews {
            print_preview(out, preview)?;
        }
    }
    for id in &report.queued {
        writeln!(out, "queued {id}")?;
    }
    for attempt in &report.attempts {
        print_attempt(out, attempt)?;
    }
    for skipped in &report.skipped {
        writeln!(out, "skipped {skipped}")?;
    }
    if let Some(why) = &report.stopped {
        writeln!(out, "stopped: {why}")?;
    }
    let q = &report.queue;
    writeln!(
        out,
        "queue: {} pending ({} bytes), {} sent, {} rejected{}",
        q.pending,
        q.pending_bytes,
        q.sent,
        q.rejected,
        q.next_attempt
            .filter(|_| q.pending > 0)
            .map(|t| format!("; next attempt {}", time_text(t)))
            .unwrap_or_default()
    )
}

fn print_preview(out: &mut impl Write, preview: &Preview) -> std::io::Result<()> {
    writeln!(
        out,
        "\n=== {} ({} bytes, signature {}){}",
        preview.archive,
        preview.bytes,
        preview.signature.as_deref().unwrap_or("none"),
        if preview.queued { ", queued" } else { "" }
    )?;
    for file in &preview.files {
        writeln!(out, "--- {} ({} bytes)", file.name, file.bytes)?;
        write!(out, "{}", file.text)?;
        if !file.text.ends_with('\n') {
            writeln!(out)?;
        }
    }
    for name in &preview.left_out {
        writeln!(out, "--- {name}: left out (not text, cannot be scrubbed)")?;
    }
    Ok(())
}

fn print_attempt(out: &mut impl Write, attempt: &Attempt) -> std::io::Result<()> {
    let id = &attempt.id;
    match &attempt.outcome {
        Outcome::Accepted {
            duplicate,
            location,
        } => writeln!(
            out,
            "sent {id} ({} bytes){}{}",
            attempt.bytes,
            if *duplicate {
                ", the target already had it"
            } else {
                ""
            },
            location
                .as_deref()
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        ),
        Outcome::Retry { why, .. } => writeln!(
            out,
            "not sent {id}: {why}; next attempt {}",
            attempt.next_attempt.map(time_text).unwrap_or_default()
        ),
        Outcome::Rejected { why } => writeln!(out, "gave up on {id}: {why}"),
        Outcome::Refused { why } => writeln!(out, "not sent {id}: {why}"),
    }
}
