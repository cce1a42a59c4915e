//! The checks themselves: one lab vmcore's log and dumps against the peers, a QEMU dump's log
//! against vmcore-dmesg, and a dump on its own (does it open, does it show the crash); each
//! outcome recorded in the report.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::dumps::{self, Maker, Programs};
use super::expect::Expected;
use super::inventory::LabVmcore;
use super::peers::{self, Peers};
use super::report::{Outcome, Report};
use super::{crash, drgn, header, log, newer_crash, pages, symbols};

/// What every vmcore is checked with.
struct Setup<'a> {
    peers: Peers,
    lastgasp: &'a Path,
    cache: &'a Path,
    makers: &'a [Maker],
    level: u8,
}

pub fn check_all(
    lastgasp: &Path,
    cache: &Path,
    vmcores: &[LabVmcore],
    qemu: &[(String, PathBuf)],
    makers: &[Maker],
    level: u8,
) -> Result<()> {
    let started = Instant::now();
    let peers = peers::ensure(cache)?;
    for (tool, version) in peers::versions(&peers) {
        eprintln!("compat: {tool}: {version}");
    }
    let setup = Setup {
        peers,
        lastgasp,
        cache,
        makers,
        level,
    };
    let mut report = Report::default();
    for vmcore in vmcores {
        eprintln!(
            "compat: {} ({}, {} MiB)",
            vmcore.name,
            vmcore.release,
            vmcore.bytes >> 20
        );
        let scratch = cache.join("compat").join(&vmcore.name);
        std::fs::create_dir_all(&scratch)
            .with_context(|| format!("creating {}", scratch.display()))?;
        check_vmcore(&mut report, &setup, vmcore, &scratch);
    }
    for (name, elf) in qemu {
        check_qemu_log(&mut report, &setup, name, elf);
    }
    print!("{}", report.render());
    eprintln!("compat: {:.0} s", started.elapsed().as_secs_f64());
    let failed = report.failures();
    if failed > 0 {
        bail!("{failed} compatibility check(s) failed");
    }
    Ok(())
}

/// All checks of one vmcore, each recorded whether it passes or not.
fn check_vmcore(report: &mut Report, setup: &Setup, vmcore: &LabVmcore, scratch: &Path) {
    let Setup {
        peers,
        lastgasp,
        cache,
        makers,
        level,
    } = setup;
    let mut outcome = |subject: &str, check: &str, result: Result<String>| {
        report.push(Outcome::new(&vmcore.name, subject, check, result));
    };
    let expected_log = match log::makedumpfile(&peers.makedumpfile, &vmcore.path, scratch) {
        Ok(text) => text,
        Err(err) => {
            outcome("vmcore", "makedumpfile --dump-dmesg", Err(err));
            return;
        }
    };
    let expected =
        match Expected::from_log(&String::from_utf8_lossy(&expected_log), &vmcore.release) {
            Ok(expected) => expected,
            Err(err) => {
                outcome("vmcore", "a crash in its log", Err(err));
                return;
            }
        };
    outcome(
        "vmcore",
        "vmcore-dmesg = makedumpfile",
        log::vmcore_dmesg(&peers.vmcore_dmesg, &vmcore.path)
            .and_then(|text| log::agree(&expected_log, &text)),
    );
    outcome(
        "lastgasp dmesg",
        "= makedumpfile",
        log::lastgasp(lastgasp, &vmcore.path).and_then(|text| log::equal(&expected_log, &text)),
    );
    let programs = Programs {
        lastgasp: lastgasp.to_path_buf(),
        makedumpfile: peers.makedumpfile.clone(),
    };
    for &maker in *makers {
        let subject = maker.key();
        let mut record = |check: &str, result: Checked| {
            report.push(match result {
                Checked::Done(result) => Outcome::new(&vmcore.name, &subject, check, result),
                Checked::Skipped(why) => Outcome::skipped(&vmcore.name, &subject, check, why),
            });
        };
        let mut outcome =
            |check: &str, result: Result<String>| record(check, Checked::Done(result));
        let started = Instant::now();
        let dump = match dumps::make(
            maker,
            &programs,
            &vmcore.path,
            &scratch.join(&subject),
            *level,
        ) {
            Ok(dump) => dump,
            Err(err) => {
                outcome("written", Err(err));
                continue;
            }
        };
        let bytes = std::fs::metadata(&dump).map_or(0, |m| m.len());
        outcome(
            "written",
            Ok(format!(
                "{:.1} MB in {:.2} s",
                bytes as f64 / 1e6,
                started.elapsed().as_secs_f64()
            )),
        );
        if let Maker::Lastgasp(_) = maker {
            outcome(
                "capture's dmesg.txt = makedumpfile",
                capture_log(&dump, &expected_log),
            );
        }
        outcome(
            "headers = the vmcore's VMCOREINFO",
            vmcoreinfo_of(&vmcore.path).and_then(|info| header::check(&dump, &info, *level)),
        );
        outcome(
            "pages = the vmcore's",
            pages::compare(&dump, &vmcore.path)
                .map(|count| format!("{} pages equal, {} excluded", count.dumped, count.excluded)),
        );
        outcome(
            "lastgasp dmesg reads it back",
            log::lastgasp(lastgasp, &dump).and_then(|text| log::equal(&expected_log, &text)),
        );
        for (check, result) in opening_checks(peers, cache, &dump, &expected, &expected_log) {
            record(check, result);
        }
    }
}

/// A QEMU ELF dump's log: `lastgasp dmesg` must print what vmcore-dmesg does, where
/// vmcore-dmesg can read the dump at all (makedumpfile 1.7.2 reads none of them).
fn check_qemu_log(report: &mut Report, setup: &Setup, name: &str, elf: &Path) {
    let (subject, check) = ("lastgasp dmesg", "= vmcore-dmesg (QEMU ELF)");
    let reference = match log::vmcore_dmesg(&setup.peers.vmcore_dmesg, elf) {
        Ok(text) => text,
        Err(err) => {
            let why = format!("vmcore-dmesg cannot read it: {err:#}");
            let why = why.lines().last().unwrap_or_default().to_owned();
            report.push(Outcome::skipped(name, subject, check, why));
            return;
        }
    };
    report.push(Outcome::new(
        name,
        subject,
        check,
        log::lastgasp(setup.lastgasp, elf).and_then(|text| log::equal(&reference, &text)),
    ));
}

/// A check made, or one that could not be made and why.
enum Checked {
    Done(Result<String>),
    Skipped(String),
}

/// makedumpfile reads the log back from `dump`, unless the dump is zstd-compressed and this
/// makedumpfile was built without zstd (Debian's 1.7.2), which it then says.
fn makedumpfile_reads_back(peers: &Peers, dump: &Path, expected_log: &[u8]) -> Checked {
    match log::makedumpfile(&peers.makedumpfile, dump, &dump_scratch(dump)) {
        Ok(text) => Checked::Done(log::equal(expected_log, &text)),
        Err(err)
            if format!("{err:#}").contains("zstd compression unsupported")
                && !peers::makedumpfile_has_zstd(&peers.makedumpfile) =>
        {
            Checked::Skipped(
                "this makedumpfile is built without zstd (\"zstd compression unsupported\")".into(),
            )
        }
        Err(err) => Checked::Done(Err(err)),
    }
}

/// The checks a dump of a crash must pass without its source vmcore: makedumpfile reads the log
/// back, crash and drgn open it with the kernel's debug symbols and show the crash.
fn opening_checks(
    peers: &Peers,
    cache: &Path,
    dump: &Path,
    expected: &Expected,
    expected_log: &[u8],
) -> Vec<(&'static str, Checked)> {
    let mut checks = vec![(
        "makedumpfile --dump-dmesg reads it back",
        makedumpfile_reads_back(peers, dump, expected_log),
    )];
    let (crash_result, drgn_result) = match symbols::vmlinux(cache, &expected.release) {
        Ok(vmlinux) => {
            let crash_program = match newer_crash::suite_of(&expected.release) {
                crate::lab::suite::Suite::Bookworm => {
                    Ok(newer_crash::CrashProgram::Host(peers.crash.clone()))
                }
                crate::lab::suite::Suite::Trixie => newer_crash::trixie(cache),
            };
            let crash_result = crash_program
                .context("no crash for this kernel")
                .and_then(|program| crash::run(&program, &vmlinux, dump, &dump_scratch(dump)))
                .and_then(|out| crash::check(&out, expected))
                .map(|()| describe_crash(expected));
            let drgn_result = drgn::run(&peers.drgn, &vmlinux, dump)
                .and_then(|out| drgn::check(&out, expected))
                .map(|()| format!("{} log lines equal", expected.tail.len()));
            (crash_result, drgn_result)
        }
        Err(err) => (
            Err(anyhow::anyhow!("no debug vmlinux: {err:#}")),
            Err(anyhow::anyhow!("no debug vmlinux: {err:#}")),
        ),
    };
    checks.push(("crash: log, sys, bt", Checked::Done(crash_result)));
    checks.push(("drgn: release, printk", Checked::Done(drgn_result)));
    checks
}

/// For the lab's kdump scenario: the dump a capture wrote opens in crash and drgn with the
/// kernel's debug symbols and shows the crash in `log` (the capture's dmesg.txt), and
/// makedumpfile reads that log back from it. Fails with every check that did not pass.
pub fn dump_opens(dump: &Path, log: &[u8]) -> Result<String> {
    let cache = super::cache(&crate::bench::workspace_root()?);
    let info = kdumpfile::KdumpFile::open_path(dump)
        .with_context(|| format!("{}: not a dump lastgasp can read", dump.display()))?
        .vmcoreinfo()
        .map(vmcore::VmcoreInfo::parse)
        .with_context(|| format!("{}: no VMCOREINFO", dump.display()))?;
    let release = info
        .osrelease()
        .with_context(|| format!("{}: no OSRELEASE in VMCOREINFO", dump.display()))?;
    let expected = Expected::from_log(&String::from_utf8_lossy(log), release)?;
    let peers = peers::ensure(&cache)?;
    let mut passed = Vec::new();
    let mut failed = Vec::new();
    for (check, result) in opening_checks(&peers, &cache, dump, &expected, log) {
        match result {
            Checked::Done(Ok(seen)) => passed.push(format!("{check}: {seen}")),
            Checked::Skipped(why) => passed.push(format!("{check}: skipped, {why}")),
            Checked::Done(Err(err)) => failed.push(format!("{check}: {err:#}")),
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(passed.join("; "))
}

/// The VMCOREINFO of an ELF vmcore.
fn vmcoreinfo_of(path: &Path) -> Result<vmcore::VmcoreInfo> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    vmcore::ElfCore::read(&file)
        .with_context(|| format!("reading {}", path.display()))?
        .vmcoreinfo()
        .with_context(|| format!("{}: no VMCOREINFO", path.display()))
}

/// Where per-dump scratch files go: beside the dump.
fn dump_scratch(dump: &Path) -> PathBuf {
    dump.parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The dmesg.txt `lastgasp capture` wrote beside its dump must be the vmcore's log.
fn capture_log(dump: &Path, expected: &[u8]) -> Result<String> {
    let path = dump_scratch(dump).join("dmesg.txt");
    let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    log::equal(expected, &text)
}

fn describe_crash(expected: &Expected) -> String {
    let what = format!("{:?}, {}", expected.crash_line, expected.release);
    match &expected.task {
        Some(task) => format!("{what}, PID {} {}", task.pid, task.comm),
        None => what,
    }
}
