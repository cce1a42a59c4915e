//! `lastgasp capture`: in the capture kernel, the crashed kernel's log (and, when configured, a
//! filtered, compressed dump) from /proc/vmcore to disk, then a reboot whatever happened. The
//! log is written and synced before the dump is started, so nothing that fails later can cost
//! it. Offline (`--vmcore FILE --out DIR`) the same steps run on a saved vmcore, without reboot.

mod dump;
mod progress;
mod target;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow};
use serde::Serialize;

use crate::cli::CaptureArgs;
use crate::config::Config;
use crate::config_kdump::DumpCompression;
use crate::kdump_capture::{self, CaptureDir, CaptureDump, CaptureManifest};
use crate::output;
use target::Target;

const PROC_VMCORE: &str = "/proc/vmcore";

/// What one capture wrote, for `--json` and the closing line.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct Captured {
    path: PathBuf,
    manifest: CaptureManifest,
}

/// The settings of one capture, the command line over the configuration.
struct Plan {
    vmcore: PathBuf,
    dump: bool,
    level: u8,
    compression: DumpCompression,
}

pub fn run(root: &Path, config: &Config, args: &CaptureArgs, quiet: bool) -> Result<()> {
    let offline = args.vmcore.is_some();
    let result = capture(config, args, quiet);
    if offline || args.no_reboot {
        return result;
    }
    if let Err(error) = &result {
        // The console is all a capture kernel has; say it there before the machine goes.
        tracing::error!("capture failed: {error:#}");
        eprintln!("lastgasp: capture failed: {error:#}");
    }
    reboot(root);
    result
}

/// The capture as /init of lastgasp's own initramfs runs it: the configured settings, and no
/// reboot here, since /init reboots whatever happens.
pub fn run_in_initramfs(config: &Config) -> Result<()> {
    let args = CaptureArgs {
        vmcore: None,
        out: None,
        dmesg_only: false,
        dump_level: None,
        compression: None,
        no_reboot: true,
        json: false,
    };
    capture(config, &args, false)
}

/// Reboots; only returns when neither reboot(2) nor SysRq worked.
fn reboot(root: &Path) {
    eprintln!("lastgasp: rebooting");
    sys::sync();
    if let Err(e) = sys::reboot() {
        tracing::error!("reboot(2) failed: {e}; trying SysRq");
        if let Err(e) = sys::sysrq_reboot(root, Duration::from_secs(2)) {
            tracing::error!("SysRq reboot failed too: {e}");
        }
    }
}

fn capture(config: &Config, args: &CaptureArgs, quiet: bool) -> Result<()> {
    let plan = Plan {
        vmcore: args
            .vmcore
            .clone()
            .unwrap_or_else(|| PathBuf::from(PROC_VMCORE)),
        dump: config.kdump.dump && !args.dmesg_only,
        level: args.dump_level.unwrap_or(config.kdump.dump_level),
        compression: match &args.compression {
            Some(name) => name.parse().map_err(|e: String| anyhow!(e))?,
            None => config.kdump.compression,
        },
    };
    let core = vmcore::Vmcore::open(&plan.vmcore).map_err(|e| anyhow!("{e}"))?;
    let mut manifest = CaptureManifest::new(std::fs::metadata(&plan.vmcore).map_or(0, |m| m.len()));
    manifest.machine = Some(core.machine().name().to_string());
    if let Some(info) = core.vmcoreinfo() {
        manifest.kernel_release = info.osrelease().map(str::to_string);
        manifest.crash_time = info.crash_time();
    }
    if core.is_incomplete() {
        manifest
            .warnings
            .push(format!("{} says it is incomplete", plan.vmcore.display()));
    }
    let dmesg = match core.dmesg() {
        Ok(log) => {
            manifest.log_records = log.records.len() as u64;
            manifest.log_complete = log.complete && !core.is_incomplete();
            manifest.warnings.extend(log.warnings.iter().cloned());
            log.to_makedumpfile_text()
        }
        Err(e) => {
            // No log, but a dump may still be worth having: say why in the capture.
            manifest.warnings.push(format!("no log: {e}"));
            Vec::new()
        }
    };
    if !quiet {
        eprintln!(
            "lastgasp: {} log records from {} ({})",
            manifest.log_records,
            plan.vmcore.display(),
            manifest
                .kernel_release
                .as_deref()
                .unwrap_or("unknown kernel")
        );
    }

    let target = match (&args.out, &config.kdump.target) {
        (Some(dir), _) => Target::directory(dir.clone()),
        (None, Some(spec)) => Target::mount(&config.kdump, spec, Path::new("/"))?,
        (None, None) => Target::directory(config.kdump.dir.clone()),
    };
    let name = kdump_capture::capture_name(manifest.crash_time, &dmesg);
    if plan.dump {
        // Said before the dump starts: should the capture kernel die or the disk fill before the
        // manifest can be rewritten, this is what the next boot finds, and it is true.
        manifest.dump = Some(CaptureDump {
            file: kdump_capture::DUMP.to_string(),
            level: plan.level,
            compression: plan.compression.name().to_string(),
            complete: false,
            pages: 0,
            bytes: 0,
            error: Some("the capture stopped while writing the dump".to_string()),
        });
    }
    let dir = CaptureDir::publish_log(&target.dir, &name, &dmesg, &manifest).map_err(|e| {
        anyhow!(
            "cannot write the log to {}: {e}",
            target.dir.join(&name).display()
        )
    })?;
    if !quiet {
        eprintln!("lastgasp: log saved in {}", dir.path.display());
    }

    let mut dump_error = None;
    if let Some(mut entry) = manifest.dump.take() {
        let part = dir.dump_part();
        let mut progress = progress::Console::new(quiet);
        let outcome = dump::write(
            &core,
            &part,
            plan.level,
            plan.compression,
            &mut |done, total| progress.update(done, total),
        );
        progress.finish();
        // The entry published with the log said "stopped while writing"; now say how it ended.
        match outcome {
            Ok(outcome) => {
                manifest.warnings.extend(outcome.warnings);
                entry.complete = outcome.error.is_none();
                entry.pages = outcome.pages;
                entry.bytes = outcome.bytes;
                entry.error = outcome.error;
            }
            Err(e) => {
                entry.bytes = std::fs::metadata(&part).map_or(0, |m| m.len());
                entry.error = Some(format!("{e:#}"));
            }
        }
        dump_error.clone_from(&entry.error);
        if part.exists() {
            manifest.dump = Some(entry);
        } else if let Some(error) = &entry.error {
            manifest.warnings.push(format!("no dump: {error}"));
        }
        if let Err(e) = dir.finish(&manifest) {
            // A full disk refuses the new manifest too; the one on disk already says the dump
            // is incomplete, so the dump's own error is the one to report.
            let why = format!("cannot update {}: {e}", dir.path.display());
            tracing::warn!("{why}");
            if dump_error.is_none() {
                dump_error = Some(why);
            }
        }
    }
    let released = target.release();

    let captured = Captured {
        path: dir.path.clone(),
        manifest,
    };
    if args.json {
        output::line(&serde_json::to_string_pretty(&captured)?)?;
    } else if !quiet {
        output::line(&closing_line(&captured))?;
    }
    released?;
    match dump_error {
        Some(error) => Err(anyhow!(
            "log saved in {}, but the dump is incomplete: {error}",
            captured.path.display()
        )),
        None => Ok(()),
    }
}

fn closing_line(captured: &Captured) -> String {
    let m = &captured.manifest;
    let dump = m.dump.as_ref().map_or_else(String::new, |d| {
        format!(
            ", dump {} pages in {} bytes (level {}, {})",
            d.pages, d.bytes, d.level, d.compression
        )
    });
    format!(
        "captured {}: {} log records{}{}",
        captured.path.display(),
        m.log_records,
        if m.log_complete { "" } else { " (incomplete)" },
        dump
    )
}
