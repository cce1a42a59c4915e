//! The real-kernel lab: boots Debian's current kernel under QEMU (TCG) with a tiny initramfs
//! (busybox, the static lastgasp binary, the project's crash-test module), crashes it, lets the
//! warm reboot collect with `lastgasp save`, and checks the report against the serial console.
//! Everything it downloads or builds is cached under `target/lab/`.

pub(crate) mod apt;
pub(crate) mod arch;
pub(crate) mod assets;
mod check;
mod context_check;
mod disk_image;
mod fleet;
pub(crate) mod guest_net;
mod initramfs;
mod kdump;
mod netconsole;
mod newer_kbuild;
pub(crate) mod powercut;
mod qemu;
mod reserve_mem;
mod scenario;
mod selftest;
pub(crate) mod suite;
mod trim;
mod vmcores;

use anyhow::{Context, Result, bail};
use arch::Arch;
use scenario::Scenario;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use suite::Suite;

#[derive(clap::Args)]
pub struct LabArgs {
    /// Scenarios to run, by name or crash kind (default: the four backends ramoops, efi, erst,
    /// blk); `kdump` is the kdump scenario, `kdump-fallback`, `kdump-both` and `kdump-guard`
    /// the ones armed through setup.json by `lastgasp load`, `selftest` the selftest scenarios,
    /// `powercut-ext4` and `powercut-xfs` a short series of power cuts during a save, `fleet` a
    /// crash sent by `lastgasp submit` to a lastgasp-server on the host, `netconsole` a crash
    /// the host's lastgasp-server sees in the kernel log netconsole sends it (extended records;
    /// `netconsole-plain` plain text).
    names: Vec<String>,
    /// Run the analysis corpus instead: every crash kind, each on two boots, through ramoops
    /// (x86_64, and on aarch64 every kind that is not x86-only).
    #[arg(long)]
    corpus: bool,
    /// Guests run at once.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Copy the records and console logs into tests/fixtures (lab/ for backends, kmsg/ for the corpus).
    #[arg(long)]
    save_fixtures: bool,
    /// Seconds one guest may take for crash, reboot and collection.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Make real vmcores instead (kdump's /proc/vmcore and QEMU's dump-guest-memory) under
    /// target/lab/vmcores; with --save-fixtures, copy the small ones to tests/fixtures/vmcore.
    #[arg(long)]
    vmcores: bool,
    /// `crashkernel=` in MiB for the kdump scenario (run it by naming `kdump`).
    #[arg(long, default_value_t = kdump::DEFAULT_CRASHKERNEL_MIB)]
    crashkernel: u32,
    /// Find the smallest crashkernel= at which the kdump scenario passes, per kernel (8M steps).
    #[arg(long)]
    crashkernel_search: bool,
    /// Kernels to boot: 6.1 (Debian 12), 6.12 (Debian 13), or both, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "6.1")]
    kernel: Vec<String>,
    /// Run the disk-image scenarios (disk-grub-bios, disk-systemd-boot-ovmf; each can also be
    /// named): real Debian systems built with debootstrap (cached in
    /// /var/cache/lastgasp-lab/images), booted from disk, armed with the .deb and `lastgasp setup`.
    #[arg(long)]
    disk_images: bool,
}

impl LabArgs {
    fn suites(&self) -> Result<Vec<Suite>> {
        self.kernel
            .iter()
            .map(|word| {
                Suite::parse(word).with_context(|| format!("unknown kernel {word:?} (6.1 or 6.12)"))
            })
            .collect()
    }
}

/// What one (architecture, kernel) pair's guests boot.
struct Guest {
    vmlinuz: PathBuf,
    initramfs: PathBuf,
}

/// Paths shared by every run.
struct Lab {
    workspace: PathBuf,
    cache: PathBuf,
    guests: Vec<((Arch, Suite), Guest)>,
    /// The static lastgasp: inside native guests, on the host for the others' records.
    lastgasp: PathBuf,
}

impl Lab {
    fn guest(&self, arch: Arch, suite: Suite) -> &Guest {
        self.guests
            .iter()
            .find_map(|(have, guest)| (*have == (arch, suite)).then_some(guest))
            .expect("prepare() made a guest for every scenario's architecture and kernel")
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Guest modules, in load order; their dependencies come first. Those an architecture builds
/// into its kernel are simply absent from its package.
const GUEST_MODULES: &[&str] = &[
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "drivers/virtio/virtio_mmio.ko",
    "drivers/block/virtio_blk.ko",
    "lib/reed_solomon/reed_solomon.ko",
    "fs/pstore/ramoops.ko",
    "fs/pstore/pstore_zone.ko",
    "fs/pstore/pstore_blk.ko",
    "drivers/firmware/efi/efi-pstore.ko",
    "fs/efivarfs/efivarfs.ko",
    "drivers/firmware/qemu_fw_cfg.ko",
];

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Fetches the kernel and builds the initramfs for one architecture and kernel.
fn prepare_guest(
    workspace: &Path,
    cache: &Path,
    (arch, suite): (Arch, Suite),
    lastgasp: &Path,
) -> Result<Guest> {
    assets::ensure_host_tools(arch)?;
    let kernel = assets::kernel(cache, arch, suite)?;
    let image = guest_image(workspace, cache, &kernel, Some(lastgasp))?;
    let initramfs = cache.join(format!("initramfs-{}-{}.cpio", arch.name(), suite.kernel()));
    std::fs::write(&initramfs, image.finish())?;
    Ok(Guest {
        vmlinuz: kernel.vmlinuz,
        initramfs,
    })
}

/// The lab's initramfs for `kernel`: busybox, the guest's `/init`, the crash-test module, the
/// kernel's modules the lab loads and (on native guests) the static lastgasp.
fn guest_image(
    workspace: &Path,
    cache: &Path,
    kernel: &assets::Kernel,
    lastgasp: Option<&Path>,
) -> Result<initramfs::Initramfs> {
    let arch = kernel.arch;
    let mut image = initramfs::Initramfs::guest(
        &read(&workspace.join("lab/guest/init"))?,
        &read(&assets::busybox(cache, arch)?)?,
    );
    let module = assets::crash_module(workspace, cache, kernel)?;
    image.file("lib/modules/lastgasp_crashtest.ko", 0o644, &read(&module)?);
    if let Some(lastgasp) = lastgasp
        && arch.native()
    {
        image.file("bin/lastgasp", 0o755, &read(lastgasp)?);
    }
    for relative in GUEST_MODULES {
        if let Some(module) = kernel.module(relative)? {
            image.module(relative, &module);
        }
    }
    Ok(image)
}

/// Prepares a guest for every architecture `scenarios` use.
fn prepare(scenarios: &[Scenario]) -> Result<Lab> {
    let workspace = workspace();
    let cache = workspace.join("target/lab");
    let lastgasp = assets::lastgasp_binary(&workspace)?;
    let mut guests = Vec::new();
    for arch in [Arch::X86_64, Arch::Aarch64] {
        for suite in Suite::ALL {
            let pair = (arch, suite);
            if scenarios.iter().any(|s| (s.arch, s.suite) == pair) {
                guests.push((pair, prepare_guest(&workspace, &cache, pair, &lastgasp)?));
            }
        }
    }
    Ok(Lab {
        workspace,
        cache,
        guests,
        lastgasp,
    })
}

/// Boots one scenario and checks what it collected.
fn run_one(lab: &Lab, scenario: &Scenario, limit: Duration) -> Result<check::Collected> {
    let guest = lab.guest(scenario.arch, scenario.suite);
    let boot = || -> Result<qemu::RunDir> {
        let run = qemu::RunDir::create(lab.cache.join("runs").join(&scenario.name))?;
        qemu::boot(scenario, &guest.vmlinuz, &guest.initramfs, &run, limit)?;
        Ok(run)
    };
    let run = qemu::boot_retrying_a_stall(&scenario.name, boot)?;
    let out = run.dir.join("out");
    check::unpack(&run.out_disk, &out)?;
    let serial = read(&run.serial)?;
    let context = || format!("{} (serial log: {})", scenario.name, run.serial.display());
    if !scenario.arch.native() {
        check::collect_on_host(&out, &lab.lastgasp).with_context(context)?;
    }
    let collected = check::collected(out).with_context(context)?;
    check::verify(scenario, &collected, &serial)
        .and_then(|()| check_golden_signature(lab, scenario, &collected))
        .with_context(context)?;
    if scenario.backend == scenario::Backend::RamoopsReserveMem {
        let region = reserve_mem::verify(&serial, &collected.manifest).with_context(context)?;
        eprintln!(
            "lab: {}: the region was {region} on both boots",
            scenario.name
        );
    }
    if scenario.backend == scenario::Backend::Efi {
        let seen =
            context_check::verify_efi(&collected.manifest, scenario.suite).with_context(context)?;
        eprintln!("lab: {}: the report's context saw {seen}", scenario.name);
    }
    Ok(collected)
}

/// One guest run of the lab.
enum Job {
    /// Crash, warm reboot, collect from pstore.
    Pstore(Scenario),
    /// Crash, capture kernel, reboot, collect the capture.
    Kdump(kdump::KdumpScenario),
    /// `lastgasp selftest`, a warm reboot, the canary settled by `lastgasp save`.
    Selftest(selftest::SelftestScenario),
    /// A real Debian system from disk: install, setup, selftest, crash, collect, remove.
    Disk {
        image: disk_image::Image,
        name: String,
    },
    /// Power cuts during `lastgasp save`, the reports on this filesystem (see `powercut`).
    Powercut { fs: powercut::Fs, name: String },
    /// Crash, save, `lastgasp submit` to a lastgasp-server on the host (see `fleet`).
    Fleet { suite: Suite, name: String },
    /// Crash with netconsole sending the log to a lastgasp-server on the host (see
    /// `netconsole`).
    Netconsole(netconsole::Form),
}

impl Job {
    fn name(&self) -> &str {
        match self {
            Job::Pstore(scenario) => &scenario.name,
            Job::Kdump(scenario) => &scenario.name,
            Job::Selftest(scenario) => &scenario.name,
            Job::Disk { name, .. } => name,
            Job::Powercut { name, .. } => name,
            Job::Fleet { name, .. } => name,
            Job::Netconsole(form) => form.name(),
        }
    }
}

/// Runs one job and checks it; returns its summary (the signature, for pstore).
fn run_job(lab: &Lab, job: &Job, args: &LabArgs) -> Result<String> {
    let limit = Duration::from_secs(args.timeout);
    match job {
        Job::Pstore(scenario) => {
            let collected = run_one(lab, scenario, limit)?;
            if args.save_fixtures {
                save_fixtures(lab, scenario, &collected.dir)?;
            }
            Ok(collected.manifest["analysis"]["signature"]
                .as_str()
                .unwrap_or("")
                .to_owned())
        }
        Job::Kdump(scenario) => {
            let run = kdump::run(&lab.workspace, &lab.cache, &lab.lastgasp, scenario, limit)?;
            kdump::verify(&lab.workspace, &lab.lastgasp, &run)
                .with_context(|| format!("serial log: {}", run.serial.display()))
        }
        Job::Selftest(scenario) => {
            selftest::run(&lab.workspace, &lab.cache, &lab.lastgasp, scenario, limit)
        }
        Job::Disk { image, .. } => disk_image::run(
            &lab.workspace,
            &lab.cache,
            &lab.lastgasp,
            *image,
            limit.max(disk_image::TIME_LIMIT),
        ),
        Job::Powercut { fs, .. } => powercut::ci_scenario(lab, *fs, limit),
        Job::Fleet { suite, .. } => {
            fleet::run(&lab.workspace, &lab.cache, &lab.lastgasp, *suite, limit)
        }
        Job::Netconsole(form) => {
            netconsole::run(&lab.workspace, &lab.cache, &lab.lastgasp, *form, limit)
        }
    }
}

/// The power-cut scenarios' jobs, for the filesystems `keep` accepts.
fn powercut_jobs(keep: impl Fn(powercut::Fs) -> bool) -> Vec<Job> {
    powercut::Fs::ALL
        .into_iter()
        .filter(|fs| keep(*fs))
        .map(|fs| Job::Powercut {
            fs,
            name: fs.scenario(),
        })
        .collect()
}

/// The fleet scenario on `suite`'s kernel.
fn fleet_job(suite: Suite) -> Job {
    Job::Fleet {
        suite,
        name: format!("{}{}", fleet::NAME, suite.name_suffix()),
    }
}

/// The jobs of the disk-image scenarios.
fn disk_jobs(images: impl IntoIterator<Item = disk_image::Image>) -> Vec<Job> {
    images
        .into_iter()
        .map(|image| Job::Disk {
            image,
            name: image.scenario(),
        })
        .collect()
}

/// Runs `jobs` on `args.jobs` parallel guests; returns the names that failed.
fn run_all(lab: &Lab, jobs: &[Job], args: &LabArgs) -> Vec<String> {
    let queue = Mutex::new(jobs.iter());
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let Some(job) = queue.lock().expect("queue lock").next() else {
                        break;
                    };
                    let started = Instant::now();
                    let outcome = run_job(lab, job, args);
                    let secs = started.elapsed().as_secs();
                    match outcome {
                        Ok(summary) => {
                            eprintln!("lab: ok     {:<28} {secs:>4}s  {summary}", job.name())
                        }
                        Err(err) => {
                            eprintln!("lab: FAILED {:<28} {secs:>4}s  {err:#}", job.name());
                            failed
                                .lock()
                                .expect("failed lock")
                                .push(job.name().to_owned());
                        }
                    }
                }
            });
        }
    });
    failed.into_inner().expect("failed lock")
}

/// Runs `jobs`, reporting a summary line; fails when any failed.
fn run_jobs(jobs: &[Job], args: &LabArgs) -> Result<()> {
    let scenarios: Vec<Scenario> = jobs
        .iter()
        .filter_map(|job| match job {
            Job::Pstore(scenario) => Some(scenario.clone()),
            Job::Kdump(_)
            | Job::Selftest(_)
            | Job::Disk { .. }
            | Job::Powercut { .. }
            | Job::Fleet { .. }
            | Job::Netconsole(_) => None,
        })
        .collect();
    let lab = prepare(&scenarios)?;
    let started = Instant::now();
    let failed = run_all(&lab, jobs, args);
    eprintln!(
        "lab: {} passed, {} failed ({}s)",
        jobs.len() - failed.len(),
        failed.len(),
        started.elapsed().as_secs()
    );
    if !failed.is_empty() {
        bail!("lab scenarios failed: {}", failed.join(", "));
    }
    Ok(())
}

/// Builds the disk-image scenarios' images, or finds them cached. `cargo xtask ci` runs this
/// while the crates compile; the lab then finds them in the cache.
pub fn prepare_disk_images() -> Result<()> {
    for image in disk_image::Image::ALL {
        disk_image::ensure_image(image)?;
    }
    Ok(())
}

/// The lab part of `cargo xtask ci`: the two disk-image scenarios (real Debian systems booted
/// from disk, armed with the .deb and `lastgasp setup`); the four backends, plus fresh crashes of
/// a few corpus kinds whose signatures must equal the committed goldens (another boot, same
/// signature), on 6.1; on 6.12 the four backends and two of those kinds against the same
/// goldens; the kdump scenario on both; the selftest and arming scenarios; netconsole; fleet.
pub fn ci() -> Result<()> {
    let mut scenarios = scenario::backends(Suite::Bookworm);
    scenarios.extend(
        scenario::CI_KINDS
            .iter()
            .map(|kind| scenario::corpus(Arch::X86_64, Suite::Bookworm, kind, scenario::CI_BOOT)),
    );
    scenarios.push(scenario::corpus(
        Arch::Aarch64,
        Suite::Bookworm,
        "null",
        scenario::CI_BOOT,
    ));
    scenarios.extend(scenario::backends(Suite::Trixie));
    scenarios.extend(
        scenario::CI_KINDS_NEWER
            .iter()
            .map(|kind| scenario::corpus(Arch::X86_64, Suite::Trixie, kind, scenario::CI_BOOT)),
    );
    // The disk-image scenarios first: they are the longest (four boots from disk each, and an
    // image build when the cache is cold). They take both guest slots at once; the short
    // scenarios follow in whichever slot frees first, so neither disk image runs last.
    let mut jobs = disk_jobs(disk_image::Image::ALL);
    jobs.extend(powercut_jobs(|_| true));
    jobs.extend(
        Suite::ALL
            .into_iter()
            .map(|suite| Job::Kdump(kdump::scenario(suite, kdump::DEFAULT_CRASHKERNEL_MIB))),
    );
    jobs.extend(scenarios.into_iter().map(Job::Pstore));
    jobs.extend(
        selftest::scenarios(Suite::Bookworm)
            .into_iter()
            .map(Job::Selftest),
    );
    // A crash through `lastgasp submit` to a lastgasp-server on the host (issue 10, item 11).
    jobs.push(fleet_job(Suite::Bookworm));
    // Arming through setup.json as the units do: pstore that cannot be armed falling back to
    // kdump, both armed by lastgasp load, and the crash-loop guard holding kdump back.
    jobs.extend(
        [
            kdump::Arming::Fallback,
            kdump::Arming::Both,
            kdump::Arming::Guard,
        ]
        .map(|arming| Job::Kdump(kdump::setup_scenario(Suite::Bookworm, arming))),
    );
    // A machine without pstore: its netconsole log made into a report by lastgasp-server.
    jobs.push(Job::Netconsole(netconsole::Form::Extended));
    let args = LabArgs {
        names: Vec::new(),
        corpus: false,
        jobs: 2,
        save_fixtures: false,
        timeout: 600,
        vmcores: false,
        kernel: Vec::new(),
        crashkernel: kdump::DEFAULT_CRASHKERNEL_MIB,
        crashkernel_search: false,
        disk_images: false,
    };
    run_jobs(&jobs, &args)
}

/// `cargo xtask lab`.
pub fn run(args: &LabArgs) -> Result<()> {
    if args.vmcores {
        return run_vmcores(args);
    }
    if args.crashkernel_search {
        return crashkernel_search(args);
    }
    let suites = args.suites()?;
    let mut scenarios = Vec::new();
    for &suite in &suites {
        scenarios.extend(if args.corpus {
            scenario::full_corpus(suite)
        } else {
            scenario::backends(suite)
        });
    }
    let mut jobs = disk_jobs(disk_image::Image::ALL.into_iter().filter(|image| {
        args.disk_images || args.names.iter().any(|name| *name == image.scenario())
    }));
    if args.disk_images && args.names.is_empty() {
        return run_jobs(&jobs, args);
    }
    jobs.extend(powercut_jobs(|fs| {
        args.names.iter().any(|name| *name == fs.scenario())
    }));
    if args.names.iter().any(|name| name == fleet::NAME) {
        jobs.extend(suites.iter().map(|&suite| fleet_job(suite)));
    }
    for form in netconsole::Form::ALL {
        if args.names.iter().any(|name| name == form.name()) {
            jobs.push(Job::Netconsole(form));
        }
    }
    if args.names.iter().any(|name| name == "kdump") {
        jobs.extend(
            suites
                .iter()
                .map(|&suite| Job::Kdump(kdump::scenario(suite, args.crashkernel))),
        );
    }
    for arming in [
        kdump::Arming::Fallback,
        kdump::Arming::Both,
        kdump::Arming::Guard,
    ] {
        jobs.extend(
            suites
                .iter()
                .map(|&suite| kdump::setup_scenario(suite, arming))
                .filter(|scenario| {
                    args.names.iter().any(|name| {
                        scenario.name == *name
                            || scenario.name == format!("{name}{}", scenario.suite.name_suffix())
                    })
                })
                .map(Job::Kdump),
        );
    }
    // `selftest` names all of them; each can be named too.
    jobs.extend(
        suites
            .iter()
            .flat_map(|&suite| selftest::scenarios(suite))
            .filter(|s| {
                args.names.iter().any(|name| {
                    name == "selftest"
                        || s.name == *name
                        || s.name == format!("{name}{}", s.suite.name_suffix())
                })
            })
            .map(Job::Selftest),
    );
    if !args.names.is_empty() {
        scenarios.retain(|s| {
            args.names.iter().any(|name| {
                s.name == *name
                    || s.crash == *name
                    || s.name == format!("{name}{}", s.suite.name_suffix())
            })
        });
        if scenarios.is_empty() && jobs.is_empty() {
            bail!("no scenario named {}", args.names.join(", "));
        }
    }
    jobs.extend(scenarios.into_iter().map(Job::Pstore));
    run_jobs(&jobs, args)
}

/// `cargo xtask lab --crashkernel-search`: for each kernel, the smallest `crashkernel=` (in
/// 8 MiB steps) at which the kdump scenario passes whole (report, log, level-31 dump). Bisects
/// between a size that must work and a floor below which kexec_file_load refuses, assuming
/// that a size that works keeps working when larger.
fn crashkernel_search(args: &LabArgs) -> Result<()> {
    const STEP: u32 = 8;
    let lab = prepare(&[])?;
    let limit = Duration::from_secs(args.timeout);
    let suites = args.suites()?;
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for &suite in &suites {
            let lab = &lab;
            let results = &results;
            scope.spawn(move || {
                let works = |mib: u32| {
                    let scenario = kdump::scenario(suite, mib);
                    let started = Instant::now();
                    let outcome =
                        kdump::run(&lab.workspace, &lab.cache, &lab.lastgasp, &scenario, limit)
                            .and_then(|run| kdump::verify(&lab.workspace, &lab.lastgasp, &run));
                    let secs = started.elapsed().as_secs();
                    match &outcome {
                        Ok(summary) => eprintln!(
                            "lab: search  {:<28} {secs:>4}s  works: {summary}",
                            scenario.name
                        ),
                        Err(err) => eprintln!(
                            "lab: search  {:<28} {secs:>4}s  fails: {err:#}",
                            scenario.name
                        ),
                    }
                    outcome.is_ok()
                };
                // Invariant: `high` works; `low` does not (or is the floor of the search).
                let (mut low, mut high) = (48, 256);
                let found = if !works(high) {
                    None
                } else {
                    while high - low > STEP {
                        let middle = (low + (high - low) / 2) / STEP * STEP;
                        if works(middle) {
                            high = middle;
                        } else {
                            low = middle;
                        }
                    }
                    Some(high)
                };
                results.lock().expect("results lock").push((suite, found));
            });
        }
    });
    let mut failed = false;
    for (suite, found) in results.into_inner().expect("results lock") {
        match found {
            Some(mib) => eprintln!(
                "lab: crashkernel search: {} smallest crashkernel={mib}M ({}M fails)",
                suite.kernel(),
                mib - STEP
            ),
            None => {
                failed = true;
                eprintln!(
                    "lab: crashkernel search: {} fails even at 256M",
                    suite.kernel()
                );
            }
        }
    }
    if failed {
        bail!("the kdump scenario does not pass at the search's upper bound");
    }
    Ok(())
}

/// Runs the vmcore `jobs` under `target/lab/vmcores`; fails naming those that failed.
fn make_vmcores(jobs: &[vmcores::Job], limit: Duration) -> Result<()> {
    let workspace = workspace();
    let cache = workspace.join("target/lab");
    let started = Instant::now();
    let failed = vmcores::run(&workspace, &cache, jobs, limit)?;
    eprintln!(
        "lab: {} vmcores made, {} failed ({}s)",
        jobs.len() - failed.len(),
        failed.len(),
        started.elapsed().as_secs()
    );
    if !failed.is_empty() {
        bail!("vmcore jobs failed: {}", failed.join(", "));
    }
    Ok(())
}

/// `cargo xtask lab --vmcores`: every vmcore job, or those named.
fn run_vmcores(args: &LabArgs) -> Result<()> {
    let mut jobs = vmcores::jobs();
    if !args.names.is_empty() {
        jobs.retain(|job| args.names.contains(&job.name));
        if jobs.is_empty() {
            bail!("no vmcore job named {}", args.names.join(", "));
        }
    }
    make_vmcores(&jobs, Duration::from_secs(args.timeout))?;
    if args.save_fixtures {
        // Every vmcore made so far, not only this run's: the folder is one set.
        let workspace = workspace();
        vmcores::save_fixtures(&workspace, &workspace.join("target/lab"), &vmcores::jobs())?;
    }
    Ok(())
}

/// `cargo xtask demo`: one real crash through ramoops, then the report lastgasp made of it;
/// with `kdump`, the same crash captured by a capture kernel instead.
pub fn demo(kdump: bool) -> Result<()> {
    if kdump {
        return demo_kdump();
    }
    let scenario = scenario::backends(Suite::Bookworm).remove(0);
    let lab = prepare(std::slice::from_ref(&scenario))?;
    eprintln!(
        "demo: booting Linux under QEMU, crashing it, rebooting and collecting (about a minute)"
    );
    let collected = run_one(&lab, &scenario, Duration::from_secs(300))?;
    let show = std::fs::read_to_string(collected.dir.join("show.txt"))
        .context("the guest wrote no `lastgasp show` output")?;
    println!("{show}");
    eprintln!(
        "demo: the whole report is in {}",
        collected.report_dir.display()
    );
    Ok(())
}

/// The kdump demo: lastgasp arms kdump in the guest (its own capture initramfs, kexec_file_load),
/// the crash boots the capture kernel, lastgasp captures the log and a level-31 dump and
/// reboots, and the next boot's `lastgasp save` makes the report shown here.
fn demo_kdump() -> Result<()> {
    let scenario = kdump::scenario(Suite::Bookworm, kdump::DEFAULT_CRASHKERNEL_MIB);
    let lab = prepare(&[])?;
    eprintln!(
        "demo: booting Linux with crashkernel={}M under QEMU, arming kdump with lastgasp, crashing \
         it; the capture kernel saves the log and a dump, the next boot makes the report \
         (about two minutes)",
        scenario.crashkernel_mib
    );
    let run = kdump::run(
        &lab.workspace,
        &lab.cache,
        &lab.lastgasp,
        &scenario,
        Duration::from_secs(600),
    )?;
    kdump::verify(&lab.workspace, &lab.lastgasp, &run)
        .with_context(|| format!("serial log: {}", run.serial.display()))?;
    let show = std::fs::read_to_string(run.out.join("show.txt"))
        .context("the guest wrote no `lastgasp show` output")?;
    println!("{show}");
    eprintln!(
        "demo: the whole report, vmcore.kdump included, is in {}",
        run.out.join("reports").display()
    );
    Ok(())
}

/// Keeps the records and logs of a run as test fixtures.
fn save_fixtures(lab: &Lab, scenario: &Scenario, out: &Path) -> Result<()> {
    let serial = read(
        &lab.cache
            .join("runs")
            .join(&scenario.name)
            .join("serial.log"),
    )?;
    let arch = scenario.arch.name();
    if let Some((kind, boot)) = corpus_kind(scenario) {
        let dest = lab
            .workspace
            .join("tests/fixtures/kmsg")
            .join(arch)
            .join(kind);
        std::fs::create_dir_all(&dest)?;
        let record = last_dump_record(&out.join("pstore"))?;
        // Another kernel's logs of the same kind sit beside the first's, under the same golden,
        // named to sort after `boot1.log` (the golden's ChromeOS hash is the first log's).
        let prefix = if scenario.suite.is_host() {
            String::new()
        } else {
            format!("linux-{}-", scenario.suite.kernel())
        };
        std::fs::write(
            dest.join(format!("{prefix}boot{boot}.log")),
            head_and_tail(&record, 400),
        )?;
        let first_boot = check::first_boot(&serial);
        std::fs::write(
            dest.join(format!("{prefix}serial{boot}.log")),
            head_and_tail(first_boot, 400),
        )?;
    } else {
        let dest = lab
            .workspace
            .join("tests/fixtures/lab")
            .join(arch)
            .join(&scenario.name);
        if dest.exists() {
            std::fs::remove_dir_all(&dest)?;
        }
        std::fs::create_dir_all(dest.join("pstore"))?;
        for entry in std::fs::read_dir(out.join("pstore"))? {
            let entry = entry?;
            std::fs::copy(entry.path(), dest.join("pstore").join(entry.file_name()))?;
        }
        std::fs::write(dest.join("serial.log"), &serial)?;
    }
    Ok(())
}

/// `(kind, boot)` of a corpus scenario.
fn corpus_kind(scenario: &Scenario) -> Option<(&str, u32)> {
    Some((scenario.crash.as_str(), scenario.corpus_boot?))
}

/// The record of the last dump (highest `#count`), as the kernel exposed it in pstore.
fn last_dump_record(pstore: &Path) -> Result<Vec<u8>> {
    let mut best: Option<(u32, Vec<u8>)> = None;
    for entry in std::fs::read_dir(pstore)? {
        let data = std::fs::read(entry?.path())?;
        let header = data.split(|b| *b == b'\n').next().unwrap_or_default();
        let count = String::from_utf8_lossy(header)
            .split_once('#')
            .and_then(|(_, rest)| rest.split(' ').next()?.parse::<u32>().ok());
        if let Some(count) = count
            && best.as_ref().is_none_or(|(seen, _)| count > *seen)
        {
            best = Some((count, data));
        }
    }
    best.map(|(_, data)| data)
        .with_context(|| format!("no dmesg record in {}", pstore.display()))
}

/// The first line and the last `count` lines of `text`: enough of a real log for the analysis
/// corpus, without committing whole boot logs.
fn head_and_tail(text: &[u8], count: usize) -> Vec<u8> {
    let first_end = text
        .iter()
        .position(|b| *b == b'\n')
        .map_or(text.len(), |at| at + 1);
    let mut newlines = 0;
    for (index, byte) in text.iter().enumerate().rev() {
        if *byte == b'\n' && index + 1 < text.len() {
            newlines += 1;
            if newlines == count {
                let tail_start = (index + 1).max(first_end);
                return [&text[..first_end], &text[tail_start..]].concat();
            }
        }
    }
    text.to_vec()
}

/// For corpus kinds with a committed golden, the signature must be the same on this boot.
fn check_golden_signature(
    lab: &Lab,
    scenario: &Scenario,
    collected: &check::Collected,
) -> Result<()> {
    let Some((kind, boot)) = corpus_kind(scenario) else {
        return Ok(());
    };
    let golden = lab
        .workspace
        .join("tests/fixtures/kmsg")
        .join(scenario.arch.name())
        .join(kind)
        .join("expected.json");
    let text = match std::fs::read_to_string(&golden) {
        Ok(text) => text,
        // Boots 1 and 2 make the corpus and may precede its goldens; CI's boot must have one.
        Err(_) if boot != scenario::CI_BOOT => return Ok(()),
        Err(err) => return Err(err).with_context(|| format!("reading {}", golden.display())),
    };
    let expected: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", golden.display()))?;
    let expected = expected["signature"].as_str().unwrap_or_default();
    let got = collected.manifest["analysis"]["signature"]
        .as_str()
        .unwrap_or_default();
    anyhow::ensure!(
        expected == got,
        "signature {got:?} differs from the committed {expected:?} ({})",
        golden.display()
    );
    Ok(())
}
