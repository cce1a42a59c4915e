//! The kdump scenario: a 1 GiB guest with `crashkernel=<N>M` arms kdump with lastgasp's own
//! commands (`lastgasp initramfs` for a capture initramfs whose `/init` is the static lastgasp,
//! writing to an ext4 disk found by LABEL; `lastgasp load --kdump`), crashes through the
//! crash-test module, the capture kernel runs `lastgasp capture` (log, manifest, level-31 dump)
//! and reboots, and the next boot's `lastgasp save` makes a report with source kdump. The host
//! checks that report as the pstore scenarios' are checked, plus the dump. Two variants arm
//! the same machine through setup.json, as the units do (`lastgasp load --boot`, then
//! `load --boot --kdump`): the fallback scenario in mode pstore with a ramoops region its boot
//! did not reserve (and no EFI, no ERST), where load must say why pstore cannot be armed and
//! fall back to the capture kernel; and the both scenario in mode both with `memmap=` on the
//! command line, where load loads ramoops itself (module tree, dependencies, parameters) and
//! reads the registered backend back, on both boots, besides the capture kernel. The guard
//! scenario is the both scenario after three boots that ended without a clean shutdown
//! (boots.json as load keeps it): the crash-loop guard holds kdump back, and the crash is
//! collected from ramoops instead.

use super::assets::{self, Kernel};
use super::check;
use super::qemu::{self, RunDir};
use super::suite::Suite;
use crate::shell;
use anyhow::{Context, Result, bail, ensure};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One kdump run.
#[derive(Clone, Debug)]
pub struct KdumpScenario {
    pub name: String,
    pub suite: Suite,
    pub crashkernel_mib: u32,
    pub arming: Arming,
}

/// The label of the ext4 filesystem captures go to, as `lastgasp initramfs --target` names it.
pub const DUMP_LABEL: &str = "lastgasp-dumps";

/// The crash kind, and the corpus golden the report's signature must equal.
pub const CRASH: &str = "null";

/// `crashkernel=` the scenario uses by default: the smallest that worked for both kernels in
/// `--crashkernel-search` (96M on 6.1, 80M on 6.12; docs/kdump.md), plus one 8 MiB step of
/// margin.
pub const DEFAULT_CRASHKERNEL_MIB: u32 = 104;

/// Modules of the capture path the guest carries as the distribution installs them, with
/// their dependencies, for `lastgasp initramfs` to choose from: the disk's drivers and ext4.
const CAPTURE_PATH_MODULES: &[&str] = &[
    // Not for the capture: the pstore backend `lastgasp load` arms in the both scenario.
    "ramoops",
    "virtio_blk",
    "virtio_pci",
    "virtio_pci_modern_dev",
    "virtio_pci_legacy_dev",
    "virtio_mmio",
    "ext4",
    // ext4's soft dependency (modules.softdep: `pre: crypto-crc32c`), both providers.
    "crc32c_generic",
    "crc32c_intel",
];

/// Modules the lab's `/init` loads itself to mount the dump disk, in load order.
pub const DUMP_DISK_MODULES: &[&str] = &[
    "lib/crc16.ko",
    "fs/mbcache.ko",
    "fs/jbd2/jbd2.ko",
    "crypto/crc32c_generic.ko",
    "fs/ext4/ext4.ko",
];

/// The kdump scenario on one kernel.
pub fn scenario(suite: Suite, crashkernel_mib: u32) -> KdumpScenario {
    KdumpScenario {
        name: format!("kdump{}-{crashkernel_mib}M", suite.name_suffix()),
        suite,
        crashkernel_mib,
        arming: Arming::Direct,
    }
}

/// How the guest arms kdump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arming {
    /// `lastgasp load --kdump`.
    Direct,
    /// setup.json in mode pstore with a ramoops region nobody reserved: load falls back.
    Fallback,
    /// setup.json in mode both, ramoops reserved with `memmap=`: load arms both.
    Both,
    /// As `Both` after three unclean boot ends: load arms ramoops only.
    Guard,
}

impl Arming {
    /// The guest's `lab.kdump=` word.
    fn guest_name(self) -> &'static str {
        match self {
            Arming::Direct => "lastgasp",
            Arming::Fallback => "fallback",
            Arming::Both => "both",
            Arming::Guard => "guard",
        }
    }

    /// What `lastgasp load` must print on the console.
    fn expected_lines(self) -> &'static [&'static str] {
        match self {
            Arming::Direct => &[],
            Arming::Fallback => &FALLBACK_LINES,
            Arming::Both => &BOTH_LINES,
            Arming::Guard => &GUARD_LINES,
        }
    }
}

/// The scenario arming through setup.json on one kernel: `Fallback` (pstore cannot be armed,
/// `lastgasp load` arms kdump) or `Both`.
pub fn setup_scenario(suite: Suite, arming: Arming) -> KdumpScenario {
    KdumpScenario {
        name: format!("kdump-{}{}", arming.guest_name(), suite.name_suffix()),
        suite,
        crashkernel_mib: DEFAULT_CRASHKERNEL_MIB,
        arming,
    }
}

/// What `lastgasp load --boot` and `load --boot --kdump` must print in the fallback scenario.
const FALLBACK_LINES: [&str; 3] = [
    // setup's region is ordinary RAM in a boot without memmap=.
    "pstore: ramoops not armed: the ramoops region at 0x30000000 (1024 KiB) is ordinary RAM",
    "kdump: the fallback, since pstore could not be armed: left to lastgasp-kdump.service",
    "kdump: fallback to kdump: capture kernel",
];

/// The both scenario: ramoops loaded by lastgasp (the line appears once per boot: armed before
/// the crash and again at the boot that collects), then the capture kernel.
const BOTH_LINES: [&str; 3] = [
    "pstore: ramoops armed: ramoops loaded with mem_address=0x30000000 mem_size=0x100000 \
     record_size=0x10000 ecc=0; pstore's backend is ramoops",
    "kdump: left to lastgasp-kdump.service, later in boot",
    "kdump: capture kernel",
];

/// The guard scenario: the guard's verdict, ramoops armed, kdump held back by both calls.
const GUARD_LINES: [&str; 4] = [
    "crash-loop guard: the last 3 boots ended without a clean shutdown",
    BOTH_LINES[0],
    "kdump: held back by the crash-loop guard",
    "kdump: skipped: held back by the crash-loop guard",
];

/// The region setup.json names in the both scenario, reserved on the command line.
const BOTH_REGION: &str = "memmap=1M$0x30000000";

/// The distribution's module tree, cut to [`CAPTURE_PATH_MODULES`] and what they depend on,
/// with every text index (`modules.dep`, `modules.alias`, ...), as `(path inside the tree,
/// bytes)`.
fn module_tree(kernel: &Kernel) -> Result<Vec<(String, Vec<u8>)>> {
    let tree = kernel
        .modules
        .parent()
        .context("the modules directory has no parent")?;
    let dep = std::fs::read_to_string(tree.join("modules.dep"))
        .with_context(|| format!("reading {}/modules.dep", tree.display()))?;
    let name_of = |path: &str| {
        let file = path.rsplit('/').next().unwrap_or(path);
        file.split(".ko").next().unwrap_or(file).replace('-', "_")
    };
    let mut wanted = BTreeSet::new();
    for line in dep.lines() {
        let Some((module, deps)) = line.split_once(':') else {
            continue;
        };
        if CAPTURE_PATH_MODULES.contains(&name_of(module).as_str()) {
            wanted.insert(module.to_owned());
            wanted.extend(deps.split_whitespace().map(str::to_owned));
        }
    }
    ensure!(
        !wanted.is_empty(),
        "modules.dep of {} names none of the capture path's modules",
        kernel.release
    );
    let mut files = Vec::new();
    for module in wanted {
        let bytes = std::fs::read(tree.join(&module))
            .with_context(|| format!("reading {}", tree.join(&module).display()))?;
        files.push((module, bytes));
    }
    for entry in std::fs::read_dir(tree)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("modules.") && !name.ends_with(".bin") && entry.file_type()?.is_file() {
            files.push((name, std::fs::read(entry.path())?));
        }
    }
    Ok(files)
}

/// The guest's initramfs: the lab's, plus what a distribution has that lastgasp's kdump
/// commands read: the kernel image and config under /boot and the module tree.
fn image(workspace: &Path, cache: &Path, kernel: &Kernel, lastgasp: &Path) -> Result<Vec<u8>> {
    let mut image = super::guest_image(workspace, cache, kernel, Some(lastgasp))?;
    let release = &kernel.release;
    image.dir("boot");
    image.file(
        &format!("boot/vmlinuz-{release}"),
        0o644,
        &std::fs::read(&kernel.vmlinuz)?,
    );
    let config = kernel.vmlinuz.with_file_name(format!("config-{release}"));
    image.file(
        &format!("boot/config-{release}"),
        0o644,
        &std::fs::read(&config).with_context(|| format!("reading {}", config.display()))?,
    );
    let mut dirs = BTreeSet::new();
    for (path, bytes) in module_tree(kernel)? {
        let inside = format!("lib/modules/{release}/{path}");
        let mut prefix = String::new();
        for part in inside
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |(_, dirs)| dirs)
        {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if prefix != "lib" && prefix != "lib/modules" && dirs.insert(prefix.clone()) {
                image.dir(&prefix);
            }
        }
        image.file(&inside, 0o644, &bytes);
    }
    for relative in DUMP_DISK_MODULES {
        let module = kernel
            .module(relative)?
            .with_context(|| format!("{} has no {relative}", kernel.release))?;
        let name = relative.rsplit('/').next().unwrap_or(relative);
        image.file(&format!("lib/modules/{name}"), 0o644, &module);
    }
    Ok(image.finish())
}

/// An ext4 filesystem labelled [`DUMP_LABEL`] on a sparse raw file.
fn dump_disk(path: &Path, mib: u64) -> Result<()> {
    let file = std::fs::File::create(path)?;
    file.set_len(mib << 20)?;
    drop(file);
    shell::run(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", DUMP_LABEL])
            .arg(path),
    )?;
    Ok(())
}

/// What a kdump run left: the collected files, and the console.
pub struct KdumpRun {
    pub out: PathBuf,
    pub serial: PathBuf,
    pub arming: Arming,
}

/// Boots `scenario` through crash, capture and the next boot; unpacks what the guest wrote.
pub fn run(
    workspace: &Path,
    cache: &Path,
    lastgasp: &Path,
    scenario: &KdumpScenario,
    limit: Duration,
) -> Result<KdumpRun> {
    let arch = super::arch::Arch::X86_64;
    let kernel = assets::kernel(cache, arch, scenario.suite)?;
    if !shell::have("mkfs.ext4") {
        assets::apt_install(&["e2fsprogs"])?;
    }
    let run = RunDir::create(cache.join("runs").join(&scenario.name))?;
    let initramfs = run.dir.join("initramfs.cpio");
    std::fs::write(&initramfs, image(workspace, cache, &kernel, lastgasp)?)?;
    let boot = || -> Result<()> {
        let dumps = run.dir.join("dumps.img");
        dump_disk(&dumps, 1024)?;
        // The output disk holds the whole report, dump included.
        let out = std::fs::File::create(&run.out_disk)?;
        out.set_len(512 << 20)?;
        drop(out);
        let (mut cmd, console) = qemu::kernel_guest(arch, &run, &kernel.vmlinuz, &initramfs, None);
        qemu::virtio_disk(&mut cmd, "raw", &dumps)
            .arg("-append")
            .arg(format!(
                "{console} {} panic=1 oops=panic printk.time=1 lab.backend=none lab.crash={CRASH} \
                 lab.kdump={} crashkernel={}M{}",
                qemu::GUEST_PARAMETERS,
                scenario.arming.guest_name(),
                scenario.crashkernel_mib,
                if matches!(scenario.arming, Arming::Both | Arming::Guard) {
                    format!(" {BOTH_REGION}")
                } else {
                    String::new()
                }
            ));
        qemu::supervise(&mut cmd, arch.qemu(), &run, limit, || Ok(()))
    };
    qemu::boot_retrying_a_stall(&scenario.name, boot)?;
    let out = run.dir.join("out");
    check::unpack(&run.out_disk, &out)?;
    Ok(KdumpRun {
        out,
        serial: run.serial,
        arming: scenario.arming,
    })
}

/// What the guest's console says went wrong before any report could exist: the lines that are
/// not the kernel's (the lab's `LASTGASP-LAB:` lines, lastgasp's own messages and errors) and
/// the kernel's lines from lastgasp.
fn lab_lines(serial: &[u8]) -> String {
    String::from_utf8_lossy(serial)
        .lines()
        .filter(|line| !line.starts_with('[') || line.contains("] lastgasp: "))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Checks a finished run: the report is there with source kdump, its log holds every console
/// line of the crashed boot from its first line to the last before the capture kernel, its
/// signature is the pstore golden of the same crash, the capture was removed, and the dump
/// opens and holds the same log.
pub fn verify(workspace: &Path, lastgasp: &Path, run: &KdumpRun) -> Result<String> {
    let serial = std::fs::read(&run.serial)?;
    let console = String::from_utf8_lossy(&serial);
    for wanted in run.arming.expected_lines() {
        ensure!(
            console.lines().any(|line| line.contains(wanted)),
            "the console lacks {wanted:?} from lastgasp load; its lines: {}",
            lab_lines(&serial)
        );
    }
    if run.arming == Arming::Guard {
        return verify_guard(workspace, run, &serial);
    }
    if run.arming == Arming::Both {
        let armed = console
            .lines()
            .filter(|line| line.contains(BOTH_LINES[0]))
            .count();
        ensure!(
            armed == 2,
            "lastgasp load armed ramoops on {armed} boots, not on both; its lines: {}",
            lab_lines(&serial)
        );
    }
    let armed = std::fs::read_to_string(run.out.join("armed.txt")).unwrap_or_default();
    if !run.out.join("save.rc").exists() {
        bail!(
            "the guest collected nothing after the crash ({}); its console: {}",
            armed.trim(),
            lab_lines(&serial)
        );
    }
    let rc = std::fs::read_to_string(run.out.join("save.rc"))?;
    let stderr = std::fs::read_to_string(run.out.join("save.err")).unwrap_or_default();
    ensure!(
        rc.trim() == "0",
        "lastgasp save exited {}: {}",
        rc.trim(),
        stderr.trim()
    );
    let collected = check::collected(run.out.clone()).with_context(|| {
        format!(
            "captures on the dump disk: {}",
            std::fs::read_to_string(run.out.join("captures.txt"))
                .unwrap_or_default()
                .trim()
        )
    })?;
    let manifest = &collected.manifest;
    let source = manifest["source"].as_str().unwrap_or("");
    ensure!(
        source == "kdump",
        "report source is {source:?}, expected \"kdump\""
    );

    let dmesg = std::fs::read(collected.report_dir.join("dmesg.txt"))
        .context("the report has no dmesg.txt")?;
    // The console: the crashed kernel's lines up to the capture kernel's banner.
    let report_lines = kernel_lines(&dmesg);
    ensure!(
        !report_lines.is_empty(),
        "dmesg.txt has no kernel log lines"
    );
    let console = check::serial_kernel_lines(&serial);
    ensure!(
        !console.is_empty(),
        "the serial console has no kernel lines"
    );
    // The crashed kernel jumps to the capture kernel from the oops, before any panic line:
    // everything it printed must be in the report, in order.
    let first = &report_lines[0];
    let start = console
        .iter()
        .position(|line| line == first)
        .with_context(|| {
            format!(
                "the report's first line [{}] {} is not on the serial console",
                first.0, first.1
            )
        })?;
    let mut cursor = report_lines.iter();
    for wanted in &console[start..] {
        if !cursor.by_ref().any(|line| line == wanted) {
            bail!(
                "dmesg.txt lacks (or misorders) the console line [{}] {}",
                wanted.0,
                wanted.1
            );
        }
    }

    let golden_path = workspace
        .join("tests/fixtures/kmsg/x86_64")
        .join(CRASH)
        .join("expected.json");
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&golden_path)
            .with_context(|| format!("reading {}", golden_path.display()))?,
    )?;
    let expected = golden["signature"].as_str().unwrap_or_default();
    let signature = manifest["analysis"]["signature"]
        .as_str()
        .unwrap_or_default();
    ensure!(
        signature == expected,
        "signature {signature:?} differs from the pstore golden {expected:?}"
    );

    let left = std::fs::read_to_string(run.out.join("captures-after.txt")).unwrap_or_default();
    ensure!(
        left.lines()
            .all(|line| line.trim().is_empty() || line.trim() == "lost+found"),
        "captures left after save: {}",
        left.trim()
    );

    let dump = collected.report_dir.join("vmcore.kdump");
    let head = std::fs::read(&dump)
        .map(|bytes| bytes.into_iter().take(8).collect::<Vec<u8>>())
        .context("the report has no vmcore.kdump")?;
    ensure!(
        head == b"KDUMP   ",
        "vmcore.kdump does not start with the kdump-compressed signature"
    );
    let dump_dmesg = shell::run(Command::new(lastgasp).arg("dmesg").arg(&dump))
        .context("lastgasp dmesg cannot read the report's dump")?;
    let dump_lines = kernel_lines(&dump_dmesg.stdout);
    let oops = console
        .iter()
        .find(|(_, text)| text.starts_with("BUG: kernel NULL pointer dereference"))
        .context("the serial console has no NULL pointer dereference")?;
    ensure!(
        dump_lines.contains(oops),
        "the log read from vmcore.kdump lacks [{}] {}",
        oops.0,
        oops.1
    );
    let dump_bytes = std::fs::metadata(&dump)?.len();
    Ok(format!(
        "{signature}, {} log lines, dump {} KiB",
        report_lines.len(),
        dump_bytes / 1024
    ))
}

/// The guard scenario's crash came back through ramoops, no capture kernel having been loaded:
/// one report from pstore with the golden's signature, and no capture.
fn verify_guard(workspace: &Path, run: &KdumpRun, serial: &[u8]) -> Result<String> {
    let rc = std::fs::read_to_string(run.out.join("save.rc")).with_context(|| {
        format!(
            "the guest collected nothing after the crash; its console: {}",
            lab_lines(serial)
        )
    })?;
    ensure!(rc.trim() == "0", "lastgasp save exited {}", rc.trim());
    let collected = check::collected(run.out.clone())?;
    let manifest = &collected.manifest;
    ensure!(
        manifest["source"] == "pstore" && manifest["backend"] == "ramoops",
        "report source {} backend {}, expected pstore through ramoops",
        manifest["source"],
        manifest["backend"]
    );
    let captures = std::fs::read_to_string(run.out.join("captures.txt")).unwrap_or_default();
    ensure!(
        !captures.contains("dmesg.txt"),
        "a capture kernel ran although the guard held kdump back: {}",
        captures.trim()
    );
    let golden_path = workspace.join("tests/fixtures/kmsg/x86_64/null/expected.json");
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&golden_path)
            .with_context(|| format!("reading {}", golden_path.display()))?,
    )?;
    let signature = manifest["analysis"]["signature"]
        .as_str()
        .unwrap_or_default();
    ensure!(
        signature == golden["signature"].as_str().unwrap_or_default(),
        "signature {signature:?} differs from the golden {}",
        golden["signature"]
    );
    Ok(format!("{signature}, through ramoops with kdump held back"))
}

/// The lines of a log as dmesg prints it, `(timestamp, text)`: a record of several lines
/// prints its first line after the timestamp and the others indented by the timestamp's width,
/// where the console repeats the timestamp on every line.
fn kernel_lines(text: &[u8]) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    let mut record: Option<(String, usize)> = None;
    for line in String::from_utf8_lossy(text).lines() {
        let line = line.trim_end_matches('\r');
        if let Some((stamp, body)) = check::split_timestamp(line) {
            let width = line.len() - body.len();
            record = Some((stamp.clone(), width));
            lines.push((stamp, body));
        } else if let Some((stamp, width)) = &record
            && line.len() > *width
            && line.bytes().take(*width).all(|byte| byte == b' ')
        {
            lines.push((stamp.clone(), line[*width..].to_owned()));
        } else {
            record = None;
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::kernel_lines;

    #[test]
    fn continuation_lines_take_their_record_timestamp() {
        let dmesg = b"[   25.368961] Unstable clock detected\n\
                      \x20              If you want to keep using the local clock, then add:\n\
                      \x20                \"trace_clock=local\"\n\
                      [   25.400000] next\n";
        let lines = kernel_lines(dmesg);
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[2],
            ("25.368961".to_owned(), "  \"trace_clock=local\"".to_owned())
        );
        assert_eq!(lines[3].1, "next");
    }

    #[test]
    fn text_outside_a_record_is_not_a_kernel_line() {
        let lines = kernel_lines(b"LASTGASP-LAB: armed\n[    1.000000] a\nplain words\n");
        assert_eq!(lines, vec![("1.000000".to_owned(), "a".to_owned())]);
    }
}
