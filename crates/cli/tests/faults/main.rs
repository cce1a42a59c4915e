//! Fault injection over `lastgasp save` (issue 9, items 2 and 3): for every lab record set, a
//! clean traced run counts the syscalls `save` makes; then every occurrence of every faulted
//! syscall is failed once with each error it can meet (ENOSPC, EIO, EROFS, EINTR) and, in
//! another run, turned into a SIGKILL. After each run nothing may be lost or half-visible, a
//! failure must exit nonzero naming its cause in one line, and a plain `save` afterwards must
//! end with exactly the reports a clean run makes, nothing left in pstore, no temporary
//! directory. Needs strace (installed in CI); fails if it is missing.

#[path = "../common/mod.rs"]
mod common;
mod state;
mod strace;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use common::{FakeRoot, lab_dir};
use state::{Originals, check};
use strace::{FAULTED, Fault, strerror};

/// Copies `template` (a prepared fake root) into a fresh one, mtimes kept: pstore's mtime is
/// the dump time, which goes into the report id.
fn fresh(template: &Path) -> FakeRoot {
    let root = FakeRoot::new();
    copy_tree(template, root.path());
    root
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
            let mtime = entry.metadata().unwrap().modified().unwrap();
            let file = fs::File::options().write(true).open(&target).unwrap();
            file.set_modified(mtime).unwrap();
        }
    }
}

/// A plain `save` over `root`, which must succeed.
fn plain_save(root: &FakeRoot, case: &str) -> Result<(), String> {
    let out = root.cmd().arg("save").output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{case}: the save after the fault failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The report ids a save without faults makes from `template`.
fn clean_ids(template: &Path) -> Vec<String> {
    let root = fresh(template);
    plain_save(&root, "clean run").unwrap();
    let ids = root.report_ids();
    assert!(!ids.is_empty(), "a clean save made no report");
    ids
}

/// One faulted run and the plain save after it; `Ok(false)` when strace did not inject (the
/// occurrence did not happen this time).
fn run_case(template: &Path, expected: &[String], fault: Fault) -> Result<bool, String> {
    let case = format!("{fault:?}");
    let root = fresh(template);
    let originals = Originals::snapshot(root.path());
    let scratch = tempfile::tempdir().unwrap();
    let run = strace::inject(root.path(), scratch.path(), fault);
    if !run.injected {
        return Ok(false);
    }
    let stderr = String::from_utf8_lossy(&run.output.stderr).into_owned();
    let after = check(root.path(), &originals).map_err(|e| format!("{case}: {e}"))?;
    match fault.errno {
        None if run.output.status.signal() != Some(9) => {
            return Err(format!("{case}: not killed: {:?}", run.output.status));
        }
        None => {}
        Some(errno) if !run.output.status.success() => {
            let errors: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with("error:") || l.contains(LOADER))
                .collect();
            // std's create_dir_all reports mkdir's EEXIST when the stat after it fails, so a
            // statx fault may surface as "File exists": still one line, still a failure.
            let named = errors.len() == 1
                && (errors[0].contains(strerror(errno))
                    || errors[0].contains(LOADER)
                    || fault.syscall == "statx");
            if !named {
                return Err(format!(
                    "{case}: exit {:?} without one line naming {errno}: {stderr}",
                    run.output.status
                ));
            }
        }
        // The fault was absorbed (retried, or in something optional): then all is saved.
        Some(_) if after.unsaved > 0 => {
            return Err(format!(
                "{case}: exit 0 but {} records unsaved: {stderr}",
                after.unsaved
            ));
        }
        Some(_) => {}
    }
    plain_save(&root, &case)?;
    let last = check(root.path(), &originals).map_err(|e| format!("{case}, then save: {e}"))?;
    let ids: Vec<String> = last.reports.iter().map(|r| r.id.clone()).collect();
    let kdump_left = fs::read_dir(root.path().join("var/lib/lastgasp/kdump"))
        .map(|d| d.count())
        .unwrap_or(0);
    if last.unsaved > 0 || !last.leftovers.is_empty() || ids != expected || kdump_left > 0 {
        return Err(format!(
            "{case}, then save: {} unsaved, leftovers {:?}, {kdump_left} captures left, \
             reports {ids:?} instead of {expected:?}",
            last.unsaved, last.leftovers
        ));
    }
    if !root.pstore_files().is_empty() {
        return Err(format!(
            "{case}, then save: left in pstore {:?}",
            root.pstore_files()
        ));
    }
    Ok(true)
}

/// The dynamic loader's message when a fault hits it before `main` (it names errno by number).
const LOADER: &str = "error while loading shared libraries";

/// Calls that only read: a kill there is a kill before anything changed, so only errors go there.
const READ_ONLY: &[&str] = &["read", "getdents64", "statx"];

/// Every fault over the record set in `template`; panics listing every violation found.
fn every_fault(set: &str, template: &Path) {
    let expected = clean_ids(template);
    let scratch = tempfile::tempdir().unwrap();
    let strace::Counts {
        calls: counts,
        loader_openat,
    } = strace::count(fresh(template).path(), scratch.path());
    let (mut errors, mut kills, mut failures) = (0, 0, Vec::new());
    for (syscall, errnos) in FAULTED {
        let occurrences = counts.get(syscall).copied().unwrap_or(0);
        for when in 1..=occurrences {
            // Every error the call can meet, and a kill where the call changes the disk.
            let kill = !READ_ONLY.contains(syscall);
            let faults = errnos.iter().map(|e| Some(*e)).chain(kill.then_some(None));
            for errno in faults {
                let fault = Fault {
                    syscall,
                    when,
                    errno,
                };
                match run_case(template, &expected, fault) {
                    Ok(true) if errno.is_some() => errors += 1,
                    Ok(true) => kills += 1,
                    Ok(false) => {}
                    Err(e) => failures.push(e),
                }
            }
        }
    }
    // The counts go into docs/reliability.md; `cargo test -- --nocapture` shows them.
    println!(
        "faults {set}: syscalls {counts:?} ({loader_openat} of the openat calls the loader's), \
         {errors} errors injected, {kills} kills"
    );
    assert!(
        failures.is_empty(),
        "{set}: {} of {} faulted runs broke the promise:\n{}",
        failures.len(),
        errors + kills + failures.len(),
        failures.join("\n")
    );
    assert!(errors + kills > 0, "{set}: no fault was injected");
}

fn pstore_set(set: &str) {
    let template = FakeRoot::new();
    template.lab_records(set);
    every_fault(set, template.path());
}

#[test]
fn ramoops_survives_every_fault() {
    pstore_set("ramoops");
}

#[test]
fn efi_survives_every_fault() {
    pstore_set("efi");
}

#[test]
fn erst_survives_every_fault() {
    pstore_set("erst");
}

#[test]
fn pstore_blk_survives_every_fault() {
    pstore_set("blk");
}

#[test]
fn systemd_archive_survives_every_fault() {
    let template = FakeRoot::new();
    for entry in fs::read_dir(lab_dir("erst")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        template.archive_record(
            &format!("7712316750/{name}"),
            &fs::read(entry.path()).unwrap(),
        );
    }
    every_fault("systemd-archive", template.path());
}

#[test]
fn kdump_capture_survives_every_fault() {
    let template = FakeRoot::new();
    let vmcore = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/vmcore/kdump-x86_64-6.1/vmcore.dmesg-pages.elf");
    let out = template
        .cmd()
        .args(["capture", "--vmcore"])
        .arg(vmcore)
        .arg("--out")
        .arg(template.path().join("var/lib/lastgasp/kdump"))
        .args(["--dump-level", "31", "--compression", "none"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    every_fault("kdump", template.path());
}
