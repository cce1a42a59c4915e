//! `cargo xtask lab --vmcores`: real vmcores for the kdump crates' tests, made by crashing real
//! kernels under QEMU, each kept under `target/lab/vmcores/<name>/` with what Debian's own tools
//! (makedumpfile, vmcore-dmesg) read from it, and small ones copied to `tests/fixtures/vmcore/`:
//! - `kdump-*`: `/proc/vmcore` as a capture kernel saw it. The capture kernel is loaded with
//!   Debian's `kexec -s -p` (kexec_file_load), copied into the guest with its libraries; its
//!   initramfs is the lab's `/init`, which tars `/proc/vmcore` to a raw disk.
//! - `qemu-*`: QEMU's `dump-guest-memory` of a guest that panicked and stopped (`panic=0`), ELF
//!   and kdump-zlib, with `-device vmcoreinfo` so the dump carries the kernel's VMCOREINFO. This
//!   is the only way for aarch64: Debian's arm64 kernel has no kexec_file_load.

use super::arch::Arch;
use super::assets::{self, Kernel};
use super::initramfs::Initramfs;
use super::qemu::{self, RunDir};
use super::suite::Suite;
use super::trim;
use crate::shell;
use anyhow::{Context, Result, bail, ensure};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How the memory of the crashed kernel is taken.
#[derive(Clone, Copy, Debug)]
pub enum Method {
    /// A capture kernel in `crashkernel=<mib>M` copies `/proc/vmcore`.
    Kdump { crashkernel_mib: u32 },
    /// The host asks QEMU for the guest's memory once it has panicked.
    HostDump,
}

/// One vmcore to make.
#[derive(Clone, Debug)]
pub struct Job {
    pub name: String,
    pub arch: Arch,
    pub suite: Suite,
    pub memory_mib: u32,
    pub method: Method,
    /// Fill page cache, anonymous memory and slab before crashing (for the benchmark).
    pub busy: bool,
}

/// Every vmcore the lab makes.
pub fn jobs() -> Vec<Job> {
    let kdump = |suite: Suite, busy| Job {
        name: format!(
            "kdump-x86_64-{}{}",
            suite.kernel(),
            if busy { "-busy" } else { "" }
        ),
        arch: Arch::X86_64,
        suite,
        memory_mib: 1024,
        method: Method::Kdump {
            crashkernel_mib: 256,
        },
        busy,
    };
    let host = |arch: Arch, suite: Suite| Job {
        name: format!("qemu-{}-{}", arch.name(), suite.kernel()),
        arch,
        suite,
        memory_mib: 128,
        method: Method::HostDump,
        busy: false,
    };
    vec![
        kdump(Suite::Bookworm, false),
        kdump(Suite::Trixie, true),
        host(Arch::X86_64, Suite::Bookworm),
        host(Arch::X86_64, Suite::Trixie),
        host(Arch::Aarch64, Suite::Bookworm),
    ]
}

/// The dump files a finished job leaves in its folder.
pub const KDUMP_VMCORE: &str = "vmcore";
pub const HOST_ELF: &str = "vmcore.elf";
pub const HOST_KDUMP: &str = "vmcore.kdump-zlib";
/// `makedumpfile -d 31 -c` of a kdump job's vmcore: what a capture tool saves by default.
pub const FILTERED: &str = "vmcore.d31.kdump";

/// Host programs the vmcore jobs need, with their Debian packages.
const TOOLS: &[(&str, &str)] = &[
    ("/usr/sbin/kexec", "kexec-tools"),
    ("vmcore-dmesg", "kexec-tools"),
    ("makedumpfile", "makedumpfile"),
    ("gzip", "gzip"),
    ("strace", "strace"),
];

fn ensure_tools() -> Result<()> {
    let missing: Vec<&str> = TOOLS
        .iter()
        .filter(|(program, _)| !shell::have(program))
        .map(|(_, package)| *package)
        .collect();
    if !missing.is_empty() {
        assets::apt_install(&missing)?;
    }
    Ok(())
}

/// The folder of a job's results.
pub fn job_dir(cache: &Path, job: &Job) -> PathBuf {
    cache.join("vmcores").join(&job.name)
}

/// Runs `jobs` (two guests at a time) and returns the names that failed.
pub fn run(workspace: &Path, cache: &Path, jobs: &[Job], limit: Duration) -> Result<Vec<String>> {
    ensure_tools()?;
    let mut kernels = Vec::new();
    for job in jobs {
        if !kernels
            .iter()
            .any(|(arch, suite, _): &(Arch, Suite, Kernel)| {
                (*arch, *suite) == (job.arch, job.suite)
            })
        {
            assets::ensure_host_tools(job.arch)?;
            kernels.push((
                job.arch,
                job.suite,
                assets::kernel(cache, job.arch, job.suite)?,
            ));
        }
    }
    let queue = std::sync::Mutex::new(jobs.iter());
    let failed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let Some(job) = queue.lock().expect("queue lock").next() else {
                        break;
                    };
                    let kernel = kernels
                        .iter()
                        .find_map(|(arch, suite, kernel)| {
                            ((*arch, *suite) == (job.arch, job.suite)).then_some(kernel)
                        })
                        .expect("a kernel was fetched for every job");
                    let started = std::time::Instant::now();
                    match make(workspace, cache, job, kernel, limit) {
                        Ok(summary) => eprintln!(
                            "lab: ok     {:<28} {:>4}s  {summary}",
                            job.name,
                            started.elapsed().as_secs()
                        ),
                        Err(err) => {
                            eprintln!(
                                "lab: FAILED {:<28} {:>4}s  {err:#}",
                                job.name,
                                started.elapsed().as_secs()
                            );
                            failed.lock().expect("failed lock").push(job.name.clone());
                        }
                    }
                }
            });
        }
    });
    Ok(failed.into_inner().expect("failed lock"))
}

/// Makes one job's vmcore and reads it with Debian's tools; returns a one-line summary.
fn make(
    workspace: &Path,
    cache: &Path,
    job: &Job,
    kernel: &Kernel,
    limit: Duration,
) -> Result<String> {
    let dir = job_dir(cache, job);
    let run = RunDir::create(cache.join("runs").join(format!("vmcore-{}", job.name)))?;
    let initramfs = run.dir.join("initramfs.cpio");
    std::fs::write(
        &initramfs,
        first_image(workspace, cache, job, kernel)?.finish(),
    )?;
    let boot = || boot(job, kernel, &initramfs, &run, limit);
    match boot() {
        Err(err) if err.is::<qemu::BootStalled>() => {
            eprintln!("lab: {}: {err}; booting it once more", job.name);
            boot()?
        }
        other => other?,
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(&run.serial, dir.join("serial.log"))?;
    let serial = std::fs::read(&run.serial)?;
    let said = |marker: &str| serial.windows(marker.len()).any(|w| w == marker.as_bytes());
    let context = || format!("{} (serial log: {})", job.name, run.serial.display());
    let mut made = Vec::new();
    let mut notes = Vec::new();
    match job.method {
        Method::Kdump { .. } => {
            ensure!(
                said("capture kernel loaded: 1"),
                "the first kernel did not load the capture kernel"
            );
            ensure!(
                said("vmcore copied"),
                "the capture kernel did not copy /proc/vmcore"
            );
            let disk = std::fs::File::open(&run.out_disk)?;
            tar::Archive::new(disk)
                .unpack(&dir)
                .with_context(|| format!("unpacking {}", run.out_disk.display()))
                .with_context(context)?;
            let readers = read_dmesg(&dir, KDUMP_VMCORE, true)?;
            notes.push(trim_for_fixtures(&dir, KDUMP_VMCORE, &readers)?);
            shell::run(
                Command::new("makedumpfile")
                    .args(["-d", "31", "-c", "--message-level", "1"])
                    .arg(dir.join(KDUMP_VMCORE))
                    .arg(dir.join(FILTERED)),
            )?;
            made.extend([KDUMP_VMCORE, FILTERED]);
        }
        Method::HostDump => {
            for name in [HOST_ELF, HOST_KDUMP] {
                std::fs::rename(run.dir.join(name), dir.join(name))
                    .with_context(|| format!("QEMU wrote no {name}"))
                    .with_context(context)?;
            }
            let readers = read_dmesg(&dir, HOST_ELF, false)?;
            if readers.is_empty() {
                notes.push("no Debian tool reads QEMU's ELF of this guest".to_owned());
            } else {
                notes.push(trim_for_fixtures(&dir, HOST_ELF, &readers)?);
            }
            made.extend([HOST_ELF, HOST_KDUMP]);
        }
    }
    std::fs::write(dir.join("info.txt"), info(job, kernel, &dir, &made)?)?;
    let sizes: Vec<String> = made
        .iter()
        .map(|name| {
            let bytes = std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
            format!("{name} {} KiB", bytes / 1024)
        })
        .collect();
    Ok(format!("{}; {}", sizes.join(", "), notes.join("; ")))
}

/// A Debian tool that prints the kernel log of an ELF vmcore, with the file it writes.
struct DmesgReader {
    suffix: &'static str,
    command: fn(&Path, &Path) -> Command,
}

fn makedumpfile_dmesg(vmcore: &Path, out: &Path) -> Command {
    let mut cmd = Command::new("makedumpfile");
    // Plain reads, no mmap: the pages it needs must show in the trace (see trim).
    cmd.args(["--dump-dmesg", "--non-mmap"])
        .arg(vmcore)
        .arg(out);
    cmd
}

/// vmcore-dmesg prints to stdout; `sh` sends that to the file so both readers look alike.
fn vmcore_dmesg(vmcore: &Path, out: &Path) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("exec vmcore-dmesg \"$1\" > \"$2\"")
        .arg("sh")
        .arg(vmcore)
        .arg(out);
    cmd
}

const READERS: &[DmesgReader] = &[
    DmesgReader {
        suffix: "makedumpfile-dmesg",
        command: makedumpfile_dmesg,
    },
    DmesgReader {
        suffix: "vmcore-dmesg",
        command: vmcore_dmesg,
    },
];

/// Runs Debian's dmesg readers on the ELF vmcore `dir/file`, leaving `<file>.<reader>.txt`, or
/// `<file>.<reader>.err` with the reader's refusal (makedumpfile reads only its own
/// architecture's vmcores; neither reads QEMU 7.2's ELF dumps). With `required`, every reader
/// must succeed. Returns the readers that did.
fn read_dmesg(dir: &Path, file: &str, required: bool) -> Result<Vec<&'static DmesgReader>> {
    let vmcore = dir.join(file);
    let mut worked = Vec::new();
    for reader in READERS {
        let out = dir.join(format!("{file}.{}.txt", reader.suffix));
        let outcome = shell::run(&mut (reader.command)(&vmcore, &out)).and_then(|_| {
            ensure!(
                std::fs::metadata(&out).is_ok_and(|m| m.len() > 0),
                "it printed no log"
            );
            Ok(())
        });
        match outcome {
            Ok(()) => worked.push(reader),
            Err(err) if !required => {
                std::fs::remove_file(&out).ok();
                let note = dir.join(format!("{file}.{}.err", reader.suffix));
                // Relative to the job's folder: the note may be committed as a fixture.
                let text = format!("{err:#}\n").replace(&format!("{}/", dir.display()), "");
                std::fs::write(note, text)?;
            }
            Err(err) => return Err(err),
        }
    }
    Ok(worked)
}

/// The trimmed copy of an ELF vmcore (see [`trim`]).
pub const TRIMMED: &str = "vmcore.dmesg-pages.elf";

/// Cuts `dir/file` down to the pages `readers` read and checks that they print the same log
/// from the cut copy. (A kdump-compressed copy of the cut vmcore cannot be made: makedumpfile
/// needs the page structs and page tables of all memory even at `-d 0`.)
fn trim_for_fixtures(dir: &Path, file: &str, readers: &[&DmesgReader]) -> Result<String> {
    let vmcore = dir.join(file);
    let scratch = dir.join("trim");
    std::fs::create_dir_all(&scratch)?;
    let mut reads = Vec::new();
    for reader in readers {
        let out = scratch.join("traced.txt");
        reads.extend(trim::traced_reads(
            &mut (reader.command)(&vmcore, &out),
            &vmcore,
            &scratch,
        )?);
    }
    let trimmed = dir.join(TRIMMED);
    let kept = trim::trim(&vmcore, &reads, &trimmed)?;
    for reader in readers {
        let from_trimmed = scratch.join(format!("trimmed.{}.txt", reader.suffix));
        shell::run(&mut (reader.command)(&trimmed, &from_trimmed))?;
        let original = std::fs::read(dir.join(format!("{file}.{}.txt", reader.suffix)))?;
        ensure!(
            std::fs::read(&from_trimmed)? == original,
            "{} prints another log from the trimmed vmcore",
            reader.suffix
        );
    }
    std::fs::remove_dir_all(&scratch)?;
    Ok(format!(
        "{TRIMMED} {} pages, {} KiB",
        kept.pages,
        kept.bytes / 1024
    ))
}

/// How a job's files were made, for the fixture READMEs and whoever reads the cache.
fn info(job: &Job, kernel: &Kernel, dir: &Path, made: &[&str]) -> Result<String> {
    let mut text = format!(
        "name: {}\narch: {}\nkernel: {}\nguest memory: {} MiB\n",
        job.name,
        job.arch.name(),
        kernel.release,
        job.memory_mib
    );
    match job.method {
        Method::Kdump { crashkernel_mib } => text.push_str(&format!(
            "method: crashkernel={crashkernel_mib}M, capture kernel loaded with kexec -s -p, \
             /proc/vmcore copied by the capture kernel\n"
        )),
        Method::HostDump => text.push_str(
            "method: QEMU dump-guest-memory (ELF) and dump-guest-memory -z (kdump-zlib) after \
             the panic, -device vmcoreinfo\n",
        ),
    }
    text.push_str(&format!(
        "crash: lastgasp_crashtest null, panic_on_oops=1{}\n",
        if job.busy {
            "; busy: 96 MiB tmpfs file, ~60 MB held by a process, a walk over /sys and /proc"
        } else {
            ""
        }
    ));
    for name in made {
        let bytes = std::fs::metadata(dir.join(name))?.len();
        text.push_str(&format!("{name}: {bytes} bytes\n"));
    }
    Ok(text)
}

/// The first kernel's initramfs: the lab's, plus for kdump Debian's kexec with its libraries,
/// the kernel to load and the capture kernel's own (smaller, gzip) initramfs.
fn first_image(workspace: &Path, cache: &Path, job: &Job, kernel: &Kernel) -> Result<Initramfs> {
    let mut image = super::guest_image(workspace, cache, kernel, None)?;
    if let Method::Kdump { .. } = job.method {
        image.dir("boot");
        image.file("boot/vmlinuz", 0o644, &std::fs::read(&kernel.vmlinuz)?);
        image.file(
            "boot/capture.cpio.gz",
            0o644,
            &gzip(&capture_image(workspace, kernel)?)?,
        );
        add_program(&mut image, Path::new("/usr/sbin/kexec"), "bin/kexec")?;
    }
    Ok(image)
}

/// The capture kernel's initramfs: busybox, the lab's `/init` and the kernel's virtio modules.
fn capture_image(workspace: &Path, kernel: &Kernel) -> Result<Vec<u8>> {
    let mut image = Initramfs::guest(
        &std::fs::read(workspace.join("lab/guest/init"))?,
        &std::fs::read("/bin/busybox")?,
    );
    for relative in super::GUEST_MODULES
        .iter()
        .filter(|path| path.starts_with("drivers/virtio") || path.contains("virtio_blk"))
    {
        if let Some(module) = kernel.module(relative)? {
            image.module(relative, &module);
        }
    }
    Ok(image.finish())
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .args(["-9", "-n", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running gzip")?;
    let mut stdin = child.stdin.take().context("gzip's stdin")?;
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("gzip writer panicked"))??;
    ensure!(out.status.success(), "gzip failed");
    Ok(out.stdout)
}

/// Copies a dynamically linked host program and the libraries `ldd` names for it, at the same
/// paths, so it runs inside the guest as it runs here.
fn add_program(image: &mut Initramfs, program: &Path, at: &str) -> Result<()> {
    image.file(at, 0o755, &std::fs::read(program)?);
    let ldd = shell::stdout(Command::new("ldd").arg(program))?;
    let mut dirs: Vec<String> = Vec::new();
    for line in ldd.lines() {
        let path = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line
                .split_whitespace()
                .next()
                .filter(|word| word.starts_with('/')),
        };
        let Some(path) = path.filter(|path| path.starts_with('/')) else {
            continue;
        };
        let inside = path.trim_start_matches('/');
        if let Some((parent, _)) = inside.rsplit_once('/') {
            let mut prefix = String::new();
            for part in parent.split('/') {
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(part);
                if !dirs.contains(&prefix) && prefix != "lib" {
                    image.dir(&prefix);
                    dirs.push(prefix.clone());
                }
            }
        }
        image.file(inside, 0o755, &std::fs::read(path)?);
    }
    Ok(())
}

/// Boots the job's guest until it powers off (kdump: after the capture kernel copied the
/// vmcore) or, for a host dump, until the host dumped it and quit QEMU.
fn boot(job: &Job, kernel: &Kernel, initramfs: &Path, run: &RunDir, limit: Duration) -> Result<()> {
    let disk_mib: u64 = match job.method {
        Method::Kdump { .. } => u64::from(job.memory_mib) + 256,
        Method::HostDump => 32,
    };
    let disk = std::fs::File::create(&run.out_disk)?;
    disk.set_len(disk_mib << 20)?;
    let (machine, console) = job.arch.machine();
    let mut cmd = Command::new(job.arch.qemu());
    cmd.args(machine)
        .args(["-accel", "tcg", "-smp", "1", "-display", "none"])
        .arg("-m")
        .arg(job.memory_mib.to_string())
        .args(["-no-user-config", "-nodefaults", "-monitor"])
        .arg(format!("unix:{},server=on,wait=off", run.monitor.display()))
        .arg("-serial")
        .arg(format!("file:{}", run.serial.display()))
        .arg("-kernel")
        .arg(&kernel.vmlinuz)
        .arg("-initrd")
        .arg(initramfs)
        .arg("-drive")
        .arg(format!(
            "if=virtio,format=raw,file={}",
            run.out_disk.display()
        ));
    let mut append = format!(
        "{console} {} oops=panic printk.time=1 lab.backend=none lab.crash=null",
        qemu::GUEST_PARAMETERS
    );
    match job.method {
        Method::Kdump { crashkernel_mib } => {
            append.push_str(&format!(
                " panic=1 crashkernel={crashkernel_mib}M lab.kdump=fixture"
            ));
        }
        Method::HostDump => {
            cmd.args(["-device", "vmcoreinfo"]);
            // Freed memory zeroed, so the dump of a small guest is mostly zero pages, which
            // QEMU's kdump format stores once.
            append.push_str(" panic=0 lab.hostdump=1 init_on_free=1");
        }
    }
    if job.busy {
        append.push_str(" lab.busy=1");
    }
    cmd.arg("-append").arg(append);
    let mut dumped = false;
    qemu::supervise(&mut cmd, job.arch.qemu(), run, limit, || {
        if dumped || !matches!(job.method, Method::HostDump) {
            return Ok(());
        }
        let serial = std::fs::read(&run.serial).unwrap_or_default();
        let marker = b"end Kernel panic - not syncing";
        if !serial.windows(marker.len()).any(|w| w == marker) {
            return Ok(());
        }
        dumped = true;
        let monitor_limit = Duration::from_secs(300);
        // `-p`: through the guest's page tables, so the ELF has the kernel's virtual addresses,
        // which Debian's dmesg readers need.
        for (flag, name) in [("-p ", HOST_ELF), ("-z ", HOST_KDUMP)] {
            let command = format!("dump-guest-memory {flag}{}", run.dir.join(name).display());
            let said = qemu::monitor_command(&run.monitor, &command, monitor_limit)?;
            if said.contains("Error") || said.contains("rror:") {
                bail!("QEMU refused {command:?}: {}", said.trim());
            }
        }
        // QEMU exits on `quit` before it can print the next prompt.
        let _ = qemu::monitor_command(&run.monitor, "quit", Duration::from_secs(5));
        Ok(())
    })
}

/// The most a committed fixture may weigh: git cannot hold a sparse ELF, and the whole folder
/// stays under [`FIXTURES_BUDGET`].
const FIXTURE_FILE_LIMIT: u64 = 5 << 20;
const FIXTURES_BUDGET: u64 = 12 << 20;

/// Copies the small files of the jobs made so far to `tests/fixtures/vmcore/<name>/`: the trimmed ELF
/// vmcore (the pages holding the log), the dumps that are small enough (none of a real kernel
/// is: a level-31 dump of an idle 1 GiB guest is 35 MB), the dmesg Debian's tools read from the
/// whole vmcore, the serial console and `info.txt`.
pub fn save_fixtures(workspace: &Path, cache: &Path, jobs: &[Job]) -> Result<()> {
    let root = workspace.join("tests/fixtures/vmcore");
    for job in jobs {
        let from = job_dir(cache, job);
        if !from.join("info.txt").exists() {
            eprintln!("lab: {} has not been made; no fixture", job.name);
            continue;
        }
        let (source, dumps) = match job.method {
            Method::Kdump { .. } => (KDUMP_VMCORE, vec![TRIMMED, FILTERED]),
            Method::HostDump => (HOST_ELF, vec![TRIMMED, HOST_KDUMP, HOST_ELF]),
        };
        let dest = root.join(&job.name);
        if dest.exists() {
            std::fs::remove_dir_all(&dest)?;
        }
        std::fs::create_dir_all(&dest)?;
        let mut copied = 0;
        for dump in dumps {
            let path = from.join(dump);
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let bytes = meta.len();
            if bytes <= FIXTURE_FILE_LIMIT {
                std::fs::copy(&path, dest.join(dump))?;
                copied += 1;
            } else {
                eprintln!(
                    "lab: {}: {dump} is {} KiB, too big to commit; left out",
                    job.name,
                    bytes / 1024
                );
            }
        }
        if copied == 0 {
            std::fs::remove_dir_all(&dest)?;
            continue;
        }
        for (file, name) in [
            (
                format!("{source}.makedumpfile-dmesg.txt"),
                "dmesg.makedumpfile.txt",
            ),
            (
                format!("{source}.makedumpfile-dmesg.err"),
                "dmesg.makedumpfile.err",
            ),
            (
                format!("{source}.vmcore-dmesg.txt"),
                "dmesg.vmcore-dmesg.txt",
            ),
            ("serial.log".to_owned(), "serial.log"),
            ("info.txt".to_owned(), "info.txt"),
        ] {
            if from.join(&file).exists() {
                std::fs::copy(from.join(&file), dest.join(name))?;
            }
        }
    }
    let total = folder_bytes(&root)?;
    ensure!(
        total <= FIXTURES_BUDGET,
        "tests/fixtures/vmcore weighs {} KiB, over the {} KiB budget",
        total / 1024,
        FIXTURES_BUDGET / 1024
    );
    eprintln!("lab: tests/fixtures/vmcore weighs {} KiB", total / 1024);
    Ok(())
}

fn folder_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        total += if entry.file_type()?.is_dir() {
            folder_bytes(&entry.path())?
        } else {
            entry.metadata()?.len()
        };
    }
    Ok(total)
}
