//! The lab's `netconsole` scenarios (issue 10, item 10): a machine without pstore whose kernel
//! sends its log with netconsole, and lastgasp-server's receiver that turns its crash into a
//! report. The host starts the server on loopback (HTTP and the netconsole UDP port both
//! chosen by the kernel); the guest (Debian's kernel under QEMU, user networking) loads
//! netconsole aimed at slirp's host address, in its extended form (`netconsole`) or plain
//! (`netconsole-plain`), and crashes with the crash-test module. The host polls the server's API until the report is there, and checks
//! it has the signature the corpus's committed golden gives this crash (as every pstore
//! scenario's report must) and came from the guest's address over netconsole.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use super::arch::Arch;
use super::assets;
use super::guest_net;
use super::qemu::{self, RunDir};
use super::suite::Suite;
use crate::server_process::{self, ServerProcess};

/// How the guest's netconsole sends: one scenario each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `netconsole=+...`: one record per datagram with level, sequence number and timestamp.
    Extended,
    /// `netconsole=...`: the console's text as printed.
    Plain,
}

impl Form {
    pub const ALL: [Form; 2] = [Form::Extended, Form::Plain];

    /// The scenario's name, for `cargo xtask lab NAME`.
    pub fn name(self) -> &'static str {
        match self {
            Form::Extended => "netconsole",
            Form::Plain => "netconsole-plain",
        }
    }

    /// What goes before the netconsole= parameter's value.
    fn prefix(self) -> &'static str {
        match self {
            Form::Extended => "+",
            Form::Plain => "",
        }
    }
}

const INIT: &str = "lab/guest/netconsole-init";
const INIT_IN_IMAGE: &str = "netconsole-init";
/// netconsole and what it needs, beside the NIC's modules.
const MODULES: &[&str] = &["fs/configfs/configfs.ko", "drivers/net/netconsole.ko"];
/// The crash, and the corpus kind whose committed golden signature it must get.
const CRASH: &str = "null";
/// The guest's netconsole source port.
const GUEST_PORT: u16 = 6665;
/// How long the report may take to appear once the guest's run ended.
const REPORT_LIMIT: Duration = Duration::from_secs(30);

/// Boots the guest, crashes it and checks the server's report; returns its signature.
pub fn run(
    workspace: &Path,
    cache: &Path,
    lastgasp: &Path,
    form: Form,
    limit: Duration,
) -> Result<String> {
    let arch = Arch::X86_64;
    let expected = golden_signature(workspace)?;
    let run = RunDir::create(cache.join("runs").join(form.name()))?;
    let server = Server::start(workspace, &run.dir)?;
    let kernel = assets::kernel(cache, arch, Suite::Bookworm)?;
    let mut image = super::guest_image(workspace, cache, &kernel, Some(lastgasp))?;
    guest_net::install(&mut image, &kernel)?;
    for relative in MODULES {
        let module = kernel
            .module(relative)?
            .with_context(|| format!("the kernel package has no {relative}"))?;
        image.module(relative, &module);
    }
    let init = std::fs::read(workspace.join(INIT))
        .with_context(|| format!("reading {}", workspace.join(INIT).display()))?;
    image.file(INIT_IN_IMAGE, 0o755, &init);
    let initramfs = run.dir.join("initramfs.cpio");
    std::fs::write(&initramfs, image.finish())?;
    // From the guest's address to slirp's host address, which slirp hands to the host's
    // 127.0.0.1 at the same port: the server's.
    let target = format!(
        "{}{GUEST_PORT}@{}/eth0,{}@{}/",
        form.prefix(),
        guest_net::GUEST_ADDRESS,
        server.udp_port,
        guest_net::HOST_ADDRESS
    );
    let boot = || -> Result<()> {
        qemu::sized_file(&run.out_disk, 1 << 20)?;
        let (mut cmd, console) = qemu::kernel_guest(arch, &run, &kernel.vmlinuz, &initramfs, None);
        guest_net::user_network(&mut cmd);
        // The panic's reboot ends the run instead of booting into another crash.
        cmd.arg("-no-reboot");
        cmd.arg("-append").arg(format!(
            "{console} {} panic=1 printk.time=1 rdinit=/{INIT_IN_IMAGE} \
             lab.netconsole={target} lab.crash={CRASH}",
            qemu::GUEST_PARAMETERS
        ));
        qemu::supervise(&mut cmd, arch.qemu(), &run, limit, || Ok(()))
    };
    qemu::boot_retrying_a_stall(form.name(), boot)?;
    let context = || {
        format!(
            "serial log: {}, server log: {}",
            run.serial.display(),
            run.dir.join("server.log").display()
        )
    };
    let report = server.wait_for_report(&expected).with_context(context)?;
    verify(&report, &expected).with_context(context)?;
    Ok(expected)
}

/// The committed signature of the crash (tests/fixtures/kmsg), which every fresh crash of
/// this kind in the lab must get.
fn golden_signature(workspace: &Path) -> Result<String> {
    let path = workspace.join(format!("tests/fixtures/kmsg/x86_64/{CRASH}/expected.json"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    json["signature"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{} has no signature", path.display()))
}

/// The report came over netconsole from the guest, is the crash-test module's NULL
/// dereference on the guest's kernel, and is the only report the server has.
fn verify(report: &Value, expected: &str) -> Result<()> {
    ensure!(
        report["signature"] == expected,
        "the server's report has signature {}, the corpus's golden is {expected}",
        report["signature"]
    );
    let sender = report["sender"].as_str().unwrap_or_default();
    let from = format!("netconsole {}:{GUEST_PORT}", guest_net::GUEST_ADDRESS);
    // slirp may show the guest as itself or as the host's loopback, depending on its version.
    let via_loopback = sender.starts_with("netconsole 127.0.0.1:");
    ensure!(
        sender == from || via_loopback,
        "the report came from {sender:?}, not netconsole from the guest"
    );
    ensure!(
        report["class"] == "null-pointer-dereference",
        "class {}",
        report["class"]
    );
    ensure!(
        report["kernel_release"]
            .as_str()
            .is_some_and(|r| r.starts_with("6.1.")),
        "kernel release {}",
        report["kernel_release"]
    );
    Ok(())
}

/// The workspace's lastgasp-server with the netconsole receiver, data and log in the run's
/// directory; killed on drop.
struct Server {
    process: ServerProcess,
    udp_port: u16,
}

impl Server {
    fn start(workspace: &Path, dir: &Path) -> Result<Self> {
        let binary = assets::server_binary(workspace)?;
        let args = [
            OsStr::new("--netconsole"),
            OsStr::new("127.0.0.1:0"),
            OsStr::new("--data"),
            dir.join("server-data").as_os_str(),
        ]
        .map(OsStr::to_os_string);
        let process = ServerProcess::start(&binary, &args, Some(&dir.join("server.log")))?;
        let udp = process
            .netconsole
            .as_deref()
            .context("the server named no netconsole address")?;
        Ok(Server {
            udp_port: server_process::port(udp)?,
            process,
        })
    }

    fn get(&self, path: &str) -> Result<(u16, Value)> {
        let (status, body) = server::load::request(&self.process.http, "GET", path, &[], b"")
            .with_context(|| format!("GET {path} from the server at {}", self.process.http))?;
        Ok((status, serde_json::from_str(&body).unwrap_or_default()))
    }

    /// Polls until the server has a report; fails when none came within `REPORT_LIMIT`, or
    /// when there is another signature or more than one report.
    fn wait_for_report(&self, expected: &str) -> Result<Value> {
        let deadline = Instant::now() + REPORT_LIMIT;
        let list = loop {
            let (status, list) = self.get("/api/v1/signatures")?;
            ensure!(status == 200, "GET /api/v1/signatures answered {status}");
            if list["signatures"].as_array().is_some_and(|s| !s.is_empty()) {
                break list;
            }
            if Instant::now() > deadline {
                bail!(
                    "the server made no report of the guest's crash within {}s",
                    REPORT_LIMIT.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        let signatures = list["signatures"].as_array().cloned().unwrap_or_default();
        ensure!(
            signatures.len() == 1 && signatures[0]["count"] == 1,
            "expected one report of {expected}, the server has {list}"
        );
        let signature = signatures[0]["signature"].as_str().unwrap_or_default();
        let path = format!("/api/v1/signatures/{}", server::app::url_escape(signature));
        let (status, view) = self.get(&path)?;
        ensure!(status == 200, "GET {path} answered {status}");
        let id = view["representative"]["id"]
            .as_str()
            .with_context(|| format!("no representative report in {path}"))?;
        let (status, report) = self.get(&format!("/api/v1/reports/{id}"))?;
        ensure!(status == 200, "GET /api/v1/reports/{id} answered {status}");
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(signature: &str, sender: &str) -> Value {
        json!({
            "signature": signature,
            "sender": sender,
            "class": "null-pointer-dereference",
            "kernel_release": "6.1.0-57-amd64",
        })
    }

    #[test]
    fn the_report_must_match_the_golden_and_come_from_the_guest() {
        let golden = golden_signature(&crate::lab::workspace()).unwrap();
        assert!(golden.starts_with("null-pointer-dereference-"));
        assert!(verify(&report(&golden, "netconsole 10.0.2.15:6665"), &golden).is_ok());
        let other = verify(
            &report("panic-x-00000000", "netconsole 10.0.2.15:6665"),
            &golden,
        );
        assert!(other.unwrap_err().to_string().contains("golden"));
        let uploaded = verify(&report(&golden, "fleet"), &golden);
        assert!(uploaded.unwrap_err().to_string().contains("not netconsole"));
    }
}
