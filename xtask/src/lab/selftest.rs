//! The lab's selftest scenarios: `lastgasp selftest` on a real kernel across a real warm
//! reboot, no crash. The canary must come back and be settled by `lastgasp save` without a
//! report (ramoops and ERST through the kernel's shutdown dump, efi through a UEFI variable
//! under OVMF),
//! and a ramoops region that moved between the boots must fail with that reason.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use super::arch::Arch;
use super::assets;
use super::qemu::{self, RunDir};
use super::suite::Suite;

/// The guest's script, booted with rdinit= so the lab's own /init stays as it is.
const INIT: &str = "lab/guest/selftest-init";
const INIT_IN_IMAGE: &str = "selftest-init";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// ramoops at the same address on both boots: passes.
    Ramoops,
    /// ramoops at another address on the second boot: fails, saying the region moved.
    RamoopsMoved,
    /// efi-pstore under OVMF: passes.
    Efi,
    /// ACPI ERST (QEMU's acpi-erst device): the shutdown dump through printk.always_kmsg_dump.
    Erst,
}

#[derive(Clone, Debug)]
pub struct SelftestScenario {
    pub name: String,
    pub suite: Suite,
    pub case: Case,
}

/// Every selftest scenario on one kernel.
pub fn scenarios(suite: Suite) -> Vec<SelftestScenario> {
    [
        (Case::Ramoops, "selftest-ramoops"),
        (Case::RamoopsMoved, "selftest-ramoops-moved"),
        (Case::Efi, "selftest-efi"),
        (Case::Erst, "selftest-erst"),
    ]
    .into_iter()
    .map(|(case, name)| SelftestScenario {
        name: format!("{name}{}", suite.name_suffix()),
        suite,
        case,
    })
    .collect()
}

const FIRST_REGION: &str = "0x3f000000";
/// Parallel jobs fetch the kernel and build the crash-test module into one cache: one at a time.
pub(super) static PREPARING: Mutex<()> = Mutex::new(());
const MOVED_REGION: &str = "0x3e000000";

/// Boots the scenario through both boots and checks what the second one wrote.
pub fn run(
    workspace: &Path,
    cache: &Path,
    lastgasp: &Path,
    scenario: &SelftestScenario,
    limit: Duration,
) -> Result<String> {
    let arch = Arch::X86_64;
    let (kernel, mut image) = {
        let _one_at_a_time = PREPARING.lock().expect("preparing lock");
        let kernel = assets::kernel(cache, arch, scenario.suite)?;
        let image = super::guest_image(workspace, cache, &kernel, Some(lastgasp))?;
        (kernel, image)
    };
    let run = RunDir::create(cache.join("runs").join(&scenario.name))?;
    let init = std::fs::read(workspace.join(INIT))
        .with_context(|| format!("reading {}", workspace.join(INIT).display()))?;
    image.file(INIT_IN_IMAGE, 0o755, &init);
    if let Some(efivarfs) = kernel.module("fs/efivarfs/efivarfs.ko")? {
        image.file("lib/modules/efivarfs.ko", 0o644, &efivarfs);
    }
    let initramfs = run.dir.join("initramfs.cpio");
    std::fs::write(&initramfs, image.finish())?;
    let boot = || -> Result<()> {
        let state = run.dir.join("state.img");
        qemu::sized_file(&run.out_disk, 32 << 20)?;
        qemu::sized_file(&state, 8 << 20)?;
        let (mut cmd, console) = qemu::kernel_guest(arch, &run, &kernel.vmlinuz, &initramfs, None);
        qemu::virtio_disk(&mut cmd, "raw", &state);
        let mut append = format!(
            "{console} {} panic=1 printk.time=1 rdinit=/{INIT_IN_IMAGE}",
            qemu::GUEST_PARAMETERS
        );
        match scenario.case {
            Case::Ramoops | Case::RamoopsMoved => {
                let second = if scenario.case == Case::RamoopsMoved {
                    MOVED_REGION
                } else {
                    FIRST_REGION
                };
                append.push_str(&format!(
                    " memmap=1M${FIRST_REGION} memmap=1M${MOVED_REGION} pstore.backend=ramoops \
                     lab.backend=ramoops lab.address1={FIRST_REGION} lab.address2={second}"
                ));
            }
            Case::Efi => {
                qemu::uefi_firmware(&mut cmd, &run.dir)?;
                append.push_str(" lab.backend=efi");
            }
            Case::Erst => {
                qemu::erst_device(&mut cmd, &run.dir)?;
                append.push_str(" pstore.backend=erst lab.backend=erst");
            }
        }
        cmd.arg("-append").arg(append);
        qemu::supervise(&mut cmd, arch.qemu(), &run, limit, || Ok(()))
    };
    qemu::boot_retrying_a_stall(&scenario.name, boot)?;
    let out = run.dir.join("out");
    super::check::unpack(&run.out_disk, &out)?;
    verify(scenario, &out).with_context(|| format!("serial log: {}", run.serial.display()))
}

fn read_json(dir: &Path, name: &str) -> Result<Value> {
    let text = std::fs::read_to_string(dir.join(name))
        .with_context(|| format!("the guest wrote no {name}"))?;
    serde_json::from_str(&text).with_context(|| format!("{name} is not JSON: {text}"))
}

fn read_text(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The checks: the selftest started with the backend's method, the second boot's save made no
/// report and left pstore empty, and the outcome is the one the case expects; status agrees.
fn verify(scenario: &SelftestScenario, out: &Path) -> Result<String> {
    ensure!(
        read_text(out, "selftest-start.rc") == "0",
        "lastgasp selftest failed on the first boot: {}",
        read_text(out, "selftest-start.err")
    );
    let started = read_json(out, "selftest-start.json")?;
    let method = started["selftest"]["method"].as_str().unwrap_or_default();
    let expected_method = match scenario.case {
        Case::Ramoops | Case::RamoopsMoved | Case::Erst => "shutdown-dump",
        Case::Efi => "efi-variable",
    };
    ensure!(
        method == expected_method,
        "the selftest used {method:?}, expected {expected_method:?}"
    );
    ensure!(
        read_text(out, "save.rc") == "0",
        "lastgasp save failed on the second boot: {}",
        read_text(out, "save.err")
    );
    let saved = read_json(out, "save.json")?;
    ensure!(
        saved["reports"].as_array().is_some_and(Vec::is_empty),
        "save made reports of the selftest: {saved}"
    );
    ensure!(
        read_text(out, "reports.txt").is_empty(),
        "reports exist after the selftest: {}",
        read_text(out, "reports.txt")
    );
    let selftest = read_json(out, "selftest.json")?;
    let outcome = selftest["outcome"].as_str().unwrap_or_default();
    let detail = selftest["detail"].as_str().unwrap_or_default().to_string();
    let status = read_json(out, "status.json")?;
    let before = read_text(out, "pstore-before.txt");
    match scenario.case {
        Case::Ramoops | Case::Efi | Case::Erst => {
            ensure!(
                outcome == "passed",
                "the selftest {outcome}: {detail} (pstore held: {before:?})"
            );
            ensure!(
                !before.is_empty(),
                "pstore was empty on the second boot, yet it passed"
            );
            ensure!(
                read_text(out, "pstore-after.txt").is_empty(),
                "the canary was left in pstore: {}",
                read_text(out, "pstore-after.txt")
            );
            ensure!(
                read_text(out, "selftest-result.rc") == "0",
                "lastgasp selftest after the reboot exited {}",
                read_text(out, "selftest-result.rc")
            );
            ensure!(
                status["armed"] == true && read_text(out, "status.rc") == "0",
                "status is not armed after a passed selftest: {}",
                status["problems"]
            );
        }
        Case::RamoopsMoved => {
            ensure!(
                outcome == "failed",
                "the selftest {outcome} with the region moved: {detail}"
            );
            let moved = format!("moved from {FIRST_REGION} to {MOVED_REGION}");
            ensure!(
                detail.contains(&moved),
                "the reason does not say {moved:?}: {detail}"
            );
            ensure!(
                read_text(out, "selftest-result.rc") == "1",
                "lastgasp selftest after a failed selftest exited {}",
                read_text(out, "selftest-result.rc")
            );
            ensure!(
                status["armed"] == false && read_text(out, "status.rc") == "3",
                "status says armed after a failed selftest"
            );
        }
    }
    Ok(format!("{outcome}: {detail}"))
}
