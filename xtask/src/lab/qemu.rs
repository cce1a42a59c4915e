//! Starting one QEMU guest for a scenario under a time limit, with the serial console in a file
//! and a raw output disk the guest writes its results to.

use super::arch::Arch;
use super::scenario::{Backend, Scenario};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The files of one run, all inside its own directory (runs are parallel-safe).
pub struct RunDir {
    pub dir: PathBuf,
    pub serial: PathBuf,
    pub out_disk: PathBuf,
    /// The QEMU human monitor's socket, for scenarios the host acts on.
    pub monitor: PathBuf,
}

impl RunDir {
    pub fn create(dir: PathBuf) -> Result<Self> {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(RunDir {
            serial: dir.join("serial.log"),
            out_disk: dir.join("out.img"),
            monitor: dir.join("monitor.sock"),
            dir,
        })
    }
}

/// The crash kind the host causes: an uncorrected machine check on bank 1 with the processor
/// context corrupt (MCi_STATUS VAL|UC|EN|PCC; MCG_STATUS MCIP|EIPV), which Linux cannot survive.
const MACHINE_CHECK: &str = "mce";
const MACHINE_CHECK_READY: &str = "LASTGASP-LAB: waiting for a machine check";
const MACHINE_CHECK_COMMAND: &str = "mce 0 1 0xb200000000000000 0x6 0x0 0x0\n";

/// How long a guest may take to reach its `/init`: under TCG on a loaded host, a boot very
/// rarely stalls in early clock setup, which is QEMU's trouble, not the kernel's crash handling.
pub const FIRST_WORDS_LIMIT: Duration = Duration::from_secs(120);

/// Kernel parameters every lab guest gets: under TCG on a loaded host the kernel's check that
/// the IO-APIC timer ticks can time out and panic early boot ("IO-APIC + timer doesn't work!"),
/// which is the emulator's slowness, not the crash under test; virtual machines skip it.
pub const GUEST_PARAMETERS: &str = "no_timer_check";

/// The guest never reached `/init`; the caller may boot it once more.
#[derive(Debug)]
pub struct BootStalled;

impl std::fmt::Display for BootStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the guest did not reach /init within {}s",
            FIRST_WORDS_LIMIT.as_secs()
        )
    }
}

impl std::error::Error for BootStalled {}

fn guest_said(serial: &Path, marker: &str) -> bool {
    std::fs::read(serial)
        .map(|log| {
            log.windows(marker.len())
                .any(|window| window == marker.as_bytes())
        })
        .unwrap_or(false)
}

fn inject_machine_check(monitor: &Path) -> Result<()> {
    use std::io::Write;
    let mut socket = std::os::unix::net::UnixStream::connect(monitor)
        .with_context(|| format!("connecting to the QEMU monitor at {}", monitor.display()))?;
    socket.write_all(MACHINE_CHECK_COMMAND.as_bytes())?;
    // The monitor reads the command asynchronously; closing at once can drop it.
    std::thread::sleep(Duration::from_millis(500));
    Ok(())
}

const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/// A new (sparse) file of `bytes`: a guest's disk, or ERST's storage.
pub fn sized_file(path: &Path, bytes: u64) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    file.set_len(bytes)?;
    Ok(())
}

/// The QEMU command every lab guest starts from: `program` on `machine` under TCG with 1 GiB
/// and one CPU, no display and no default devices, its serial console written to `serial`, and
/// QEMU's human monitor on the Unix socket `monitor` (for scenarios the host acts on) or none.
pub fn guest_command(
    program: &str,
    machine: &[&str],
    serial: &Path,
    monitor: Option<&Path>,
) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(machine)
        .args([
            "-accel", "tcg", "-m", "1024", "-smp", "1", "-display", "none",
        ])
        .args(["-no-user-config", "-nodefaults", "-monitor"])
        .arg(monitor.map_or_else(
            || "none".to_owned(),
            |socket| format!("unix:{},server=on,wait=off", socket.display()),
        ))
        .arg("-serial")
        .arg(format!("file:{}", serial.display()));
    cmd
}

/// `guest_command` for a kernel booted straight from `vmlinuz` and `initramfs` on `arch`'s
/// machine, the run's output disk its first virtio disk; also the kernel's console parameter.
pub fn kernel_guest(
    arch: Arch,
    run: &RunDir,
    vmlinuz: &Path,
    initramfs: &Path,
    monitor: Option<&Path>,
) -> (Command, &'static str) {
    let (machine, console) = arch.machine();
    let mut cmd = guest_command(arch.qemu(), machine, &run.serial, monitor);
    cmd.arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(initramfs);
    virtio_disk(&mut cmd, "raw", &run.out_disk);
    (cmd, console)
}

/// Adds a virtio disk of `format` (raw, qcow2) backed by `file`.
pub fn virtio_disk<'a>(cmd: &'a mut Command, format: &str, file: &Path) -> &'a mut Command {
    cmd.arg("-drive")
        .arg(format!("if=virtio,format={format},file={}", file.display()))
}

/// Boots through UEFI: the q35 machine with OVMF's code and a fresh copy of its variable store
/// in `dir` (so every run starts with empty UEFI variables).
pub fn uefi_firmware(cmd: &mut Command, dir: &Path) -> Result<()> {
    let vars = dir.join("OVMF_VARS.fd");
    std::fs::copy(OVMF_VARS, &vars).with_context(|| format!("copying {OVMF_VARS}"))?;
    cmd.args(["-machine", "q35"])
        .arg("-drive")
        .arg(format!(
            "if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}"
        ))
        .arg("-drive")
        .arg(format!(
            "if=pflash,format=raw,unit=1,file={}",
            vars.display()
        ));
    Ok(())
}

/// Gives the q35 machine an ACPI ERST device whose record store is a fresh 64 KiB file in
/// `dir`.
pub fn erst_device(cmd: &mut Command, dir: &Path) -> Result<()> {
    let nvram = dir.join("erst.nvram");
    sized_file(&nvram, 0x10000)?;
    cmd.args(["-machine", "q35"])
        .arg("-object")
        .arg(format!(
            "memory-backend-file,id=erstnvram,mem-path={},size=0x10000,share=on",
            nvram.display()
        ))
        .args(["-device", "acpi-erst,memdev=erstnvram"]);
    Ok(())
}

/// Boots the guest and waits until it powers itself off (after collecting) or `limit` passes.
pub fn boot(
    scenario: &Scenario,
    vmlinuz: &Path,
    initramfs: &Path,
    run: &RunDir,
    limit: Duration,
) -> Result<()> {
    sized_file(&run.out_disk, 32 << 20)?;
    let arch = scenario.arch;
    // A machine check comes from the "hardware": the host injects it through the monitor.
    let monitor = (scenario.crash == MACHINE_CHECK).then_some(run.monitor.as_path());
    let (mut cmd, console) = kernel_guest(arch, run, vmlinuz, initramfs, monitor);
    let mut append = format!(
        "{console} {GUEST_PARAMETERS} panic=1 oops=panic printk.time=1 lab.backend={} lab.crash={}",
        scenario.backend.guest_name(),
        scenario.crash
    );
    match scenario.backend {
        Backend::Ramoops => {
            append.push(' ');
            append.push_str(arch.ramoops_reserve());
            append.push_str(" pstore.backend=ramoops");
        }
        Backend::RamoopsReserveMem => {
            append.push(' ');
            append.push_str(super::reserve_mem::PARAMETER);
            append.push_str(" pstore.backend=ramoops");
        }
        Backend::Efi => uefi_firmware(&mut cmd, &run.dir)?,
        Backend::Erst => {
            erst_device(&mut cmd, &run.dir)?;
            append.push_str(" pstore.backend=erst");
        }
        Backend::Blk => {
            let disk = run.dir.join("pstore-blk.img");
            sized_file(&disk, 8 << 20)?;
            virtio_disk(&mut cmd, "raw", &disk);
        }
    }
    cmd.arg("-append").arg(append);
    let mut machine_check_pending = scenario.crash == MACHINE_CHECK;
    supervise(&mut cmd, arch.qemu(), run, limit, || {
        if machine_check_pending && guest_said(&run.serial, MACHINE_CHECK_READY) {
            inject_machine_check(&run.monitor)?;
            machine_check_pending = false;
        }
        Ok(())
    })
}

/// Starts QEMU and waits until it exits (the guest powered off, or the host quit it from
/// `on_tick`), `limit` passes, or the guest never reaches `/init`. `on_tick` runs every 200 ms
/// for the host's part of a scenario.
pub fn supervise(
    cmd: &mut Command,
    program: &str,
    run: &RunDir,
    limit: Duration,
    mut on_tick: impl FnMut() -> Result<()>,
) -> Result<()> {
    let mut child = spawn(cmd, program)?;
    let started = Instant::now();
    loop {
        if let Err(err) = on_tick() {
            child.kill().ok();
            child.wait().ok();
            return Err(err);
        }
        if exited(&mut child)? {
            return Ok(());
        }
        if started.elapsed() > FIRST_WORDS_LIMIT && !guest_said(&run.serial, "LASTGASP-LAB:") {
            child.kill().ok();
            child.wait().ok();
            return Err(BootStalled.into());
        }
        if started.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            bail!(
                "guest still running after {}s (serial log: {})",
                limit.as_secs(),
                run.serial.display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts QEMU with no input, its output dropped and its standard error kept for `exited`.
pub fn spawn(cmd: &mut Command, program: &str) -> Result<Child> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {program}"))
}

/// Boots a guest with `boot`, and once more when it never reached `/init` (`BootStalled`: a
/// rare early stall of QEMU's TCG on a loaded host, not the scenario failing).
pub fn boot_retrying_a_stall<T>(name: &str, boot: impl Fn() -> Result<T>) -> Result<T> {
    match boot() {
        Err(err) if err.is::<BootStalled>() => {
            eprintln!("lab: {name}: {err}; booting it once more");
            boot()
        }
        other => other,
    }
}

/// Whether QEMU (started with its standard error piped) has exited: Ok(true) when it did so
/// cleanly (the guest powered off); an error with what QEMU printed when it failed.
pub fn exited(child: &mut Child) -> Result<bool> {
    let Some(status) = child.try_wait()? else {
        return Ok(false);
    };
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stderr).ok();
        }
        bail!("qemu exited with {status}: {}", stderr.trim());
    }
    Ok(true)
}

/// Runs one command on QEMU's human monitor and returns what it printed, waiting (up to
/// `limit`) for the prompt that follows, so a slow command such as dump-guest-memory is done.
pub fn monitor_command(monitor: &Path, command: &str, limit: Duration) -> Result<String> {
    use std::io::{Read, Write};
    const PROMPT: &[u8] = b"(qemu) ";
    let mut socket = std::os::unix::net::UnixStream::connect(monitor)
        .with_context(|| format!("connecting to the QEMU monitor at {}", monitor.display()))?;
    socket.set_read_timeout(Some(Duration::from_millis(500)))?;
    let started = Instant::now();
    let read_to_prompt = |socket: &mut std::os::unix::net::UnixStream| -> Result<Vec<u8>> {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        while !seen.ends_with(PROMPT) {
            if started.elapsed() > limit {
                bail!(
                    "the QEMU monitor did not finish {command:?} within {}s",
                    limit.as_secs()
                );
            }
            match socket.read(&mut buffer) {
                Ok(0) => bail!("the QEMU monitor closed during {command:?}"),
                Ok(count) => seen.extend_from_slice(&buffer[..count]),
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(seen)
    };
    read_to_prompt(&mut socket)?;
    socket.write_all(format!("{command}\n").as_bytes())?;
    let output = read_to_prompt(&mut socket)?;
    Ok(String::from_utf8_lossy(&output).into_owned())
}
