//! `lastgasp dmesg VMCORE`: the kernel log of a vmcore on stdout, as `makedumpfile --dump-dmesg`
//! writes it; `--json` gives the records and what is known of the dump instead.

use anyhow::{Result, anyhow, bail};
use serde::Serialize;

use crate::cli::DmesgArgs;
use crate::output;

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct DmesgJson<'a> {
    vmcore: &'a std::path::Path,
    machine: &'static str,
    kernel_release: Option<&'a str>,
    crash_time: Option<i64>,
    complete: bool,
    warnings: &'a [String],
    records: Vec<RecordJson>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct RecordJson {
    seq: Option<u64>,
    ts_nsec: u64,
    caller: Option<String>,
    text: String,
}

pub fn run(args: &DmesgArgs) -> Result<()> {
    let core = vmcore::Vmcore::open(&args.vmcore).map_err(|e| anyhow!("{e}"))?;
    let log = core
        .dmesg()
        .map_err(|e| anyhow!("{}: {e}", args.vmcore.display()))?;
    if args.json {
        let info = core.vmcoreinfo();
        let json = DmesgJson {
            vmcore: &args.vmcore,
            machine: core.machine().name(),
            kernel_release: info.and_then(|i| i.osrelease()),
            crash_time: info.and_then(|i| i.crash_time()),
            complete: log.complete,
            warnings: &log.warnings,
            records: log.records.iter().map(record_json).collect(),
        };
        output::line(&serde_json::to_string_pretty(&json)?)?;
    } else {
        output::emit_bytes(&log.to_makedumpfile_text())?;
    }
    for warning in &log.warnings {
        tracing::warn!("{}: {warning}", args.vmcore.display());
    }
    if log.records.is_empty() {
        bail!(
            "{}: no log records could be read{}",
            args.vmcore.display(),
            log.warnings
                .first()
                .map_or_else(String::new, |w| format!(" ({w})"))
        );
    }
    Ok(())
}

fn record_json(record: &vmcore::printk::Record) -> RecordJson {
    RecordJson {
        seq: record.seq,
        ts_nsec: record.ts_nsec,
        caller: record.caller_id.map(|id| {
            if id & 0x8000_0000 != 0 {
                format!("C{}", id & 0x7fff_ffff)
            } else {
                format!("T{id}")
            }
        }),
        text: String::from_utf8_lossy(&record.text).into_owned(),
    }
}
