//! Golden tests on real kernels' vmcores: the log read from each fixture equals what
//! makedumpfile and vmcore-dmesg wrote for the same dump. Fixtures live in this crate's tests/fixtures/<name>/
//! (`vmcore*` beside `dmesg.makedumpfile.txt` and/or `dmesg.vmcore-dmesg.txt`) and in the
//! project's tests/fixtures/vmcore/ (the lab's);
//! full-size lab dumps under target/lab/vmcores/ are checked by the ignored tests.

use std::fs;
use std::path::{Path, PathBuf};

use vmcore::Vmcore;

fn fixture_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Which tool's output a reference file holds.
#[derive(Debug, Clone, Copy)]
enum Tool {
    Makedumpfile,
    VmcoreDmesg,
}

/// The dumps in `dir`, each with the tool outputs it must match.
fn cases(dir: &Path) -> Vec<(PathBuf, Tool, PathBuf)> {
    let references: Vec<(Tool, PathBuf)> = [
        (Tool::Makedumpfile, "dmesg.makedumpfile.txt"),
        (Tool::Makedumpfile, "vmcore.makedumpfile-dmesg.txt"),
        (Tool::VmcoreDmesg, "dmesg.vmcore-dmesg.txt"),
        (Tool::VmcoreDmesg, "vmcore.vmcore-dmesg.txt"),
    ]
    .into_iter()
    .map(|(tool, name)| (tool, dir.join(name)))
    .filter(|(_, p)| p.is_file())
    .collect();
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dumps: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("vmcore") && !name.ends_with(".txt") && !name.ends_with(".err")
        })
        .collect();
    dumps.sort();
    dumps
        .into_iter()
        .flat_map(|dump| {
            references
                .iter()
                .map(move |(tool, reference)| (dump.clone(), *tool, reference.clone()))
        })
        .collect()
}

fn check(dump: &Path, tool: Tool, expected: &Path) -> Result<(), String> {
    let core = Vmcore::open(dump).map_err(|e| e.to_string())?;
    let log = core.dmesg().map_err(|e| e.to_string())?;
    assert!(log.complete, "{}: {:?}", dump.display(), log.warnings);
    let got = match tool {
        Tool::Makedumpfile => log.to_makedumpfile_text(),
        Tool::VmcoreDmesg => log.to_vmcore_dmesg_text(),
    };
    let want = fs::read(expected).unwrap();
    assert!(
        got == want,
        "{}: log differs from {}",
        dump.display(),
        expected.display()
    );
    Ok(())
}

#[test]
fn committed_fixtures_match_makedumpfile() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for root in [
        crate_dir.join("tests/fixtures"),
        crate_dir.join("../../tests/fixtures/vmcore"),
    ] {
        for dir in fixture_dirs(&root) {
            for (dump, tool, expected) in cases(&dir) {
                match check(&dump, tool, &expected) {
                    Ok(()) => checked += 1,
                    Err(e) if e.contains("kdump-compressed") => {
                        eprintln!("{}: {e} (skipped)", dump.display())
                    }
                    Err(e) => panic!("{}: {e}", dump.display()),
                }
            }
        }
    }
    // This crate's two cut-down dumps against makedumpfile, and the lab's four against
    // makedumpfile (kdump) and vmcore-dmesg (all).
    assert!(checked >= 8, "only {checked} golden comparisons");
}

/// QEMU `dump-guest-memory` ELF cores, which makedumpfile and vmcore-dmesg cannot read (no
/// kernel-virtual PT_LOADs): every line the guest printed on its serial console must be in the
/// log read from the dump, in order (the console leaves out messages below the console level,
/// and prints each line of a multi-line record with its own timestamp).
#[test]
fn qemu_fixtures_hold_every_console_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = 0;
    for dir in fixture_dirs(&root) {
        let Ok(console) = fs::read_to_string(dir.join("console.txt")) else {
            continue;
        };
        let core = Vmcore::open(dir.join("vmcore.min")).unwrap();
        let log = core.dmesg().unwrap();
        assert!(log.complete, "{}: {:?}", dir.display(), log.warnings);
        assert_console_lines_in_log(&console, &log, &dir);
        checked += 1;
    }
    assert!(checked >= 2, "QEMU fixtures missing");
}

/// Every timestamped line of `console` is in the log, in order (lines of multi-line records
/// each with the record's timestamp, as the console prints them), and the console shows most
/// of the log.
fn assert_console_lines_in_log(console: &str, log: &vmcore::Log, dir: &Path) {
    let ours: Vec<String> = log
        .records
        .iter()
        .flat_map(|r| {
            let prefix = format!(
                "[{:5}.{:06}] ",
                r.ts_nsec / 1_000_000_000,
                r.ts_nsec % 1_000_000_000 / 1000
            );
            String::from_utf8_lossy(&r.text)
                .split('\n')
                .map(|line| format!("{prefix}{line}"))
                .collect::<Vec<_>>()
        })
        .collect();
    let console: Vec<&str> = console
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| l.starts_with('[') && l.get(13..15) == Some("] ") && l.get(6..7) == Some("."))
        .collect();
    let mut rest = ours.iter();
    for line in &console {
        assert!(
            rest.any(|o| o == line),
            "{}: console line {line:?} is not in the log, in order",
            dir.display()
        );
    }
    assert!(console.len() * 10 > ours.len() * 9, "{}", dir.display());
}

/// The lab's QEMU dumps, full size: the ELF and the flattened kdump-compressed dump of the same
/// crash give the same log, and it holds every console line.
#[test]
#[ignore = "reads the lab's full-size dumps: run with --ignored after `cargo xtask lab --vmcores`"]
fn lab_qemu_dumps_agree_with_each_other_and_the_console() {
    let lab = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/lab/vmcores");
    let dirs = fixture_dirs(&lab);
    assert!(
        !dirs.is_empty(),
        "no vmcores in {}: make them with `cargo xtask lab --vmcores`",
        lab.display()
    );
    for dir in dirs {
        let (elf, flat) = (dir.join("vmcore.elf"), dir.join("vmcore.kdump-zlib"));
        let Ok(console) = fs::read_to_string(dir.join("serial.log")) else {
            continue;
        };
        if !elf.is_file() || !flat.is_file() {
            continue;
        }
        let from_elf = Vmcore::open(&elf).unwrap().dmesg().unwrap();
        let from_flat = Vmcore::open(&flat).unwrap().dmesg().unwrap();
        assert!(
            from_elf.complete,
            "{}: {:?}",
            elf.display(),
            from_elf.warnings
        );
        assert_eq!(from_elf, from_flat, "{}", dir.display());
        assert_console_lines_in_log(&console, &from_elf, &dir);
        eprintln!("{}: ELF, kdump-zlib and console agree", dir.display());
    }
}

#[test]
#[ignore = "reads the lab's full-size dumps: run with --ignored after `cargo xtask lab --vmcores`"]
fn lab_vmcores_match_makedumpfile() {
    let lab = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/lab/vmcores");
    let dirs = fixture_dirs(&lab);
    assert!(
        !dirs.is_empty(),
        "no vmcores in {}: make them with `cargo xtask lab --vmcores`",
        lab.display()
    );
    for dir in dirs {
        for (dump, tool, expected) in cases(&dir) {
            match check(&dump, tool, &expected) {
                Ok(()) => eprintln!("{}: matches", dump.display()),
                Err(e) if e.contains("kdump-compressed") => {
                    eprintln!("{}: {e} (skipped)", dump.display())
                }
                Err(e) => panic!("{}: {e}", dump.display()),
            }
        }
    }
}

/// /proc/vmcore's PT_LOADs carry the direct-map address of each RAM range: the page-table walk
/// from init_top_pgt must land on the same physical addresses.
#[test]
#[ignore = "reads the lab's full-size dumps: run with --ignored after `cargo xtask lab --vmcores`"]
fn page_walk_agrees_with_proc_vmcore_vaddrs() {
    let lab = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/lab/vmcores");
    let dirs = fixture_dirs(&lab);
    assert!(
        !dirs.is_empty(),
        "no vmcores in {}: make them with `cargo xtask lab --vmcores`",
        lab.display()
    );
    for dir in dirs {
        let dump = dir.join("vmcore");
        let Ok(file) = fs::File::open(&dump) else {
            continue;
        };
        let Ok(elf) = vmcore::ElfCore::read(&file) else {
            continue;
        };
        let core = Vmcore::open(&dump).unwrap();
        let memory = core.kernel_memory().unwrap();
        let mut checked = 0;
        for load in elf.loads.iter().filter(|l| l.vaddr != 0 && l.memsz > 0) {
            let step = (load.memsz / 7).max(1) & !0xfff;
            for k in 0..8 {
                let offset = (k * step.max(0x1000)).min(load.memsz - 1);
                let got = memory.translate(load.vaddr + offset).unwrap();
                assert_eq!(
                    got,
                    load.paddr + offset,
                    "{} vaddr {:#x}",
                    dump.display(),
                    load.vaddr + offset
                );
                checked += 1;
            }
        }
        eprintln!("{}: {checked} addresses agree", dump.display());
    }
}

/// In a kdump vmcore the crashing CPU's NT_PRSTATUS holds the registers of the oops: the pid
/// and kernel stack pointer the log printed ("CPU: 0 PID: 1 ...", "RSP: 0018:...").
#[test]
fn kdump_prstatus_matches_the_oops() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = [
        crate_dir.join("tests/fixtures/x86_64-6.1-null"),
        crate_dir.join("tests/fixtures/x86_64-6.12-null"),
        crate_dir.join("../../tests/fixtures/vmcore/kdump-x86_64-6.1"),
        crate_dir.join("../../tests/fixtures/vmcore/kdump-x86_64-6.12-busy"),
    ];
    let mut checked = 0;
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        let log = fs::read_to_string(dir.join("dmesg.makedumpfile.txt")).unwrap();
        let after = |marker: &str| {
            log.lines()
                .find_map(|l| l.split_once(marker).map(|(_, rest)| rest.to_owned()))
                .unwrap_or_else(|| panic!("{}: no {marker:?} line", dir.display()))
        };
        let pid: u32 = after(" PID: ")
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap();
        let rsp = u64::from_str_radix(&after("RSP: 0018:")[..16], 16).unwrap();
        let dump = fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                name.starts_with("vmcore") && !name.ends_with(".txt")
            })
            .unwrap();
        let cpus = Vmcore::open(&dump).unwrap().cpus();
        assert_eq!(cpus.len(), 1, "{}", dump.display());
        assert_eq!(cpus[0].pid, pid, "{}", dump.display());
        assert_eq!(cpus[0].sp, rsp, "{}", dump.display());
        assert!(
            cpus[0].pc >= 0xffff_ffff_c000_0000,
            "in the crash-test module"
        );
        checked += 1;
    }
    assert!(checked >= 2);
}
