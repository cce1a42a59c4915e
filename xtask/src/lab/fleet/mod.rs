//! The lab's `fleet` scenario (issue 10, item 11): a real crash on its way to a fleet's
//! dashboard. The host starts lastgasp-server on loopback; the guest (Debian's kernel under
//! QEMU, ramoops) crashes with the crash-test module, its next boot saves the report, joins
//! QEMU's user network and sends it with `lastgasp submit` (dry run first, then twice for
//! real); the host then checks through the server's API and dashboard that the report arrived
//! once, scrubbed, under the signature the guest and the other ramoops scenarios give the crash.

mod server;
mod verify;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use super::arch::Arch;
use super::assets;
use super::guest_net;
use super::qemu::{self, RunDir};
use super::suite::Suite;

/// The scenario's name, for `cargo xtask lab fleet`.
pub const NAME: &str = "fleet";

/// The guest's script, booted with rdinit= so the lab's own /init stays as it is.
const INIT: &str = "lab/guest/fleet-init";
const INIT_IN_IMAGE: &str = "fleet-init";
/// Where the packages install the sender, which `lastgasp submit` runs.
const SENDER_IN_IMAGE: &str = "usr/lib/lastgasp/lastgasp-submit";
/// Where the guest's configuration finds the upload token.
const TOKEN_IN_IMAGE: &str = "etc/lastgasp/submit-token";

/// The machine the guest is on both boots: what `lastgasp submit` must scrub from its report.
pub struct Machine {
    pub hostname: &'static str,
    pub machine_id: &'static str,
    /// The DMI product serial QEMU gives the guest.
    pub serial: &'static str,
}

const MACHINE: Machine = Machine {
    hostname: "fleet-lab-host7",
    machine_id: "4f1e2d3c4b5a69788796a5b4c3d2e1f0",
    serial: "LGFLEET0042",
};

/// Runs the scenario on `suite`'s kernel in `cache/runs/fleet[-<kernel>]`; returns its summary
/// line.
pub fn run(
    workspace: &Path,
    cache: &Path,
    lastgasp: &Path,
    suite: Suite,
    limit: Duration,
) -> Result<String> {
    let arch = Arch::X86_64;
    let name = format!("{NAME}{}", suite.name_suffix());
    let run = RunDir::create(cache.join("runs").join(&name))?;
    let server = server::FleetServer::start(workspace, &run.dir)?;
    let kernel = {
        let _one_at_a_time = super::selftest::PREPARING.lock().expect("preparing lock");
        assets::kernel(cache, arch, suite)?
    };
    let mut image = super::guest_image(workspace, cache, &kernel, Some(lastgasp))?;
    let init = std::fs::read(workspace.join(INIT))
        .with_context(|| format!("reading {}", workspace.join(INIT).display()))?;
    image.file(INIT_IN_IMAGE, 0o755, &init);
    let sender = lastgasp.with_file_name("lastgasp-submit");
    for dir in ["usr", "usr/lib", "usr/lib/lastgasp", "etc/lastgasp"] {
        image.dir(dir);
    }
    image.file(
        SENDER_IN_IMAGE,
        0o755,
        &std::fs::read(&sender).with_context(|| format!("reading {}", sender.display()))?,
    );
    image.file(TOKEN_IN_IMAGE, 0o600, server::UPLOAD_TOKEN.as_bytes());
    guest_net::install(&mut image, &kernel)?;
    let initramfs = run.dir.join("initramfs.cpio");
    std::fs::write(&initramfs, image.finish())?;

    let url = format!("http://{}:{}", guest_net::HOST_ADDRESS, server.port()?);
    let boot = || -> Result<()> {
        qemu::sized_file(&run.out_disk, 32 << 20)?;
        let (mut cmd, console) = qemu::kernel_guest(arch, &run, &kernel.vmlinuz, &initramfs, None);
        guest_net::user_network(&mut cmd);
        machine_identity(&mut cmd);
        cmd.arg("-append").arg(format!(
            "{console} {} panic=1 oops=panic printk.time=1 {} pstore.backend=ramoops \
             rdinit=/{INIT_IN_IMAGE} lab.server={url} lab.hostname={} lab.machine-id={}",
            qemu::GUEST_PARAMETERS,
            arch.ramoops_reserve(),
            MACHINE.hostname,
            MACHINE.machine_id,
        ));
        qemu::supervise(&mut cmd, arch.qemu(), &run, limit, || Ok(()))
    };
    qemu::boot_retrying_a_stall(&name, boot)?;
    let out = run.dir.join("out");
    super::check::unpack(&run.out_disk, &out)?;
    let serial = std::fs::read(&run.serial)?;
    verify::verify(workspace, &server, &MACHINE, suite, &out, &serial).with_context(|| {
        format!(
            "serial log: {}, server log: {}",
            run.serial.display(),
            run.dir.join("server.log").display()
        )
    })
}

/// The DMI serial the guest's firmware reports, as a real machine's would.
fn machine_identity(cmd: &mut Command) {
    cmd.arg("-smbios")
        .arg(format!("type=1,serial={}", MACHINE.serial));
}
