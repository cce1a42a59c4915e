//! The real-kernel lab: boots Debian's current kernel under QEMU (TCG) with a tiny initramfs
//! (busybox, the static lastgasp binary, the project's crash-test module), crashes it, lets the
//! warm reboot collect with `lastgasp save`, and checks the report against the serial console.
//! Everything it downloads or builds is cached under `target/lab/`.

mod assets;
mod check;
mod initramfs;
mod qemu;
mod scenario;

use anyhow::{Context, Result, bail};
use scenario::Scenario;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct LabArgs {
    /// Scenarios to run (default: the four backends ramoops, efi, erst, blk).
    names: Vec<String>,
    /// Run the analysis corpus instead: every crash kind, each on two boots, through ramoops.
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
}

/// Paths shared by every run.
struct Lab {
    workspace: PathBuf,
    cache: PathBuf,
    vmlinuz: PathBuf,
    initramfs: PathBuf,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Guest modules, in load order; their dependencies come first.
const GUEST_MODULES: &[&str] = &[
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "drivers/block/virtio_blk.ko",
    "lib/reed_solomon/reed_solomon.ko",
    "fs/pstore/ramoops.ko",
    "fs/pstore/pstore_zone.ko",
    "fs/pstore/pstore_blk.ko",
    "drivers/firmware/efi/efi-pstore.ko",
];

fn prepare() -> Result<Lab> {
    let workspace = workspace();
    let cache = workspace.join("target/lab");
    assets::ensure_host_tools()?;
    let kernel = assets::kernel(&cache)?;
    let module = assets::crash_module(&workspace, &cache, &kernel)?;
    let lastgasp = assets::lastgasp_binary(&workspace)?;

    let mut image = initramfs::Initramfs::default();
    for dir in [
        "bin",
        "dev",
        "proc",
        "sys",
        "tmp",
        "var",
        "run",
        "etc",
        "lib",
        "lib/modules",
    ] {
        image.dir(dir);
    }
    image.char_device("dev/console", 5, 1);
    let read =
        |path: &Path| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    image.file("init", 0o755, &read(&workspace.join("lab/guest/init"))?);
    image.file("bin/busybox", 0o755, &read(Path::new("/bin/busybox"))?);
    image.file("bin/lastgasp", 0o755, &read(&lastgasp)?);
    image.file("lib/modules/lastgasp_crashtest.ko", 0o644, &read(&module)?);
    for relative in GUEST_MODULES {
        let path = kernel.modules.join(relative);
        let name = Path::new(relative)
            .file_name()
            .expect("module paths name a file");
        image.file(
            &format!("lib/modules/{}", name.to_string_lossy()),
            0o644,
            &read(&path)?,
        );
    }
    let initramfs = cache.join("initramfs.cpio");
    std::fs::write(&initramfs, image.finish())?;
    Ok(Lab {
        workspace,
        cache,
        vmlinuz: kernel.vmlinuz,
        initramfs,
    })
}

/// Boots one scenario and checks what it collected. Returns the run's directory.
fn run_one(lab: &Lab, scenario: &Scenario, limit: Duration) -> Result<check::Collected> {
    let run = qemu::RunDir::create(lab.cache.join("runs").join(&scenario.name))?;
    qemu::boot(scenario, &lab.vmlinuz, &lab.initramfs, &run, limit)?;
    let out = run.dir.join("out");
    check::unpack(&run.out_disk, &out)?;
    let serial = String::from_utf8_lossy(&std::fs::read(&run.serial)?).into_owned();
    let collected = check::collected(out).with_context(|| {
        format!(
            "guest of {} collected nothing (serial log: {})",
            scenario.name,
            run.serial.display()
        )
    })?;
    check::verify(scenario, &collected, &serial)
        .with_context(|| format!("serial log: {}", run.serial.display()))?;
    Ok(collected)
}

/// Runs `scenarios` on `jobs` parallel guests; returns the names that failed.
fn run_all(lab: &Lab, scenarios: &[Scenario], args: &LabArgs) -> Vec<String> {
    let queue = Mutex::new(scenarios.iter());
    let failed = Mutex::new(Vec::new());
    let limit = Duration::from_secs(args.timeout);
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let Some(scenario) = queue.lock().expect("queue lock").next() else {
                        break;
                    };
                    let started = Instant::now();
                    let outcome = run_one(lab, scenario, limit).and_then(|collected| {
                        if args.save_fixtures {
                            save_fixtures(lab, scenario, &collected)?;
                        }
                        Ok(collected)
                    });
                    let secs = started.elapsed().as_secs();
                    match outcome {
                        Ok(collected) => eprintln!(
                            "lab: ok     {:<24} {:>4}s  {}",
                            scenario.name,
                            secs,
                            collected.manifest["analysis"]["signature"]
                                .as_str()
                                .unwrap_or("")
                        ),
                        Err(err) => {
                            eprintln!("lab: FAILED {:<24} {secs:>4}s  {err:#}", scenario.name);
                            failed
                                .lock()
                                .expect("failed lock")
                                .push(scenario.name.clone());
                        }
                    }
                }
            });
        }
    });
    failed.into_inner().expect("failed lock")
}

/// Runs `scenarios`, reporting a summary line; fails when any failed.
fn run_scenarios(scenarios: &[Scenario], args: &LabArgs) -> Result<()> {
    let lab = prepare()?;
    let started = Instant::now();
    let failed = run_all(&lab, scenarios, args);
    eprintln!(
        "lab: {} passed, {} failed ({}s)",
        scenarios.len() - failed.len(),
        failed.len(),
        started.elapsed().as_secs()
    );
    if !failed.is_empty() {
        bail!("lab scenarios failed: {}", failed.join(", "));
    }
    Ok(())
}

/// The lab part of `cargo xtask ci`: the four backends, plus fresh crashes of a few corpus kinds
/// whose signatures must equal the committed goldens (another boot, same signature).
pub fn ci() -> Result<()> {
    let mut scenarios = scenario::backends();
    scenarios.extend(
        scenario::CI_KINDS
            .iter()
            .map(|kind| scenario::corpus(kind, 3)),
    );
    let args = LabArgs {
        names: Vec::new(),
        corpus: false,
        jobs: 2,
        save_fixtures: false,
        timeout: 300,
    };
    run_scenarios(&scenarios, &args)
}

/// `cargo xtask lab`.
pub fn run(args: &LabArgs) -> Result<()> {
    let mut scenarios = if args.corpus {
        scenario::CORPUS_KINDS
            .iter()
            .flat_map(|kind| [scenario::corpus(kind, 1), scenario::corpus(kind, 2)])
            .collect()
    } else {
        scenario::backends()
    };
    if !args.names.is_empty() {
        scenarios.retain(|s| {
            args.names
                .iter()
                .any(|name| s.name == *name || s.crash == *name)
        });
        if scenarios.is_empty() {
            bail!("no scenario named {}", args.names.join(", "));
        }
    }
    run_scenarios(&scenarios, args)
}

/// `cargo xtask demo`: one real crash through ramoops, then the report lastgasp made of it.
pub fn demo() -> Result<()> {
    let lab = prepare()?;
    let scenario = scenario::backends().remove(0);
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

/// Keeps the records and logs of a run as test fixtures.
fn save_fixtures(lab: &Lab, scenario: &Scenario, collected: &check::Collected) -> Result<()> {
    let run = lab.cache.join("runs").join(&scenario.name);
    let serial = std::fs::read(run.join("serial.log"))?;
    if let Some(kind) = scenario.name.strip_prefix("kind-") {
        let (kind, boot) = kind.rsplit_once("-boot").context("corpus scenario name")?;
        let dest = lab.workspace.join("tests/fixtures/kmsg/x86_64").join(kind);
        std::fs::create_dir_all(&dest)?;
        let dmesg = std::fs::read(collected.report_dir.join("dmesg.txt"))?;
        std::fs::write(
            dest.join(format!("boot{boot}.log")),
            tail_lines(&dmesg, 400),
        )?;
        let first_boot = check::first_boot(&serial);
        std::fs::write(
            dest.join(format!("serial{boot}.log")),
            tail_lines(first_boot, 400),
        )?;
    } else {
        let dest = lab
            .workspace
            .join("tests/fixtures/lab/x86_64")
            .join(&scenario.name);
        if dest.exists() {
            std::fs::remove_dir_all(&dest)?;
        }
        std::fs::create_dir_all(dest.join("pstore"))?;
        for entry in std::fs::read_dir(collected.dir.join("pstore"))? {
            let entry = entry?;
            std::fs::copy(entry.path(), dest.join("pstore").join(entry.file_name()))?;
        }
        std::fs::write(dest.join("serial.log"), &serial)?;
    }
    Ok(())
}

/// The last `count` lines of `text`.
fn tail_lines(text: &[u8], count: usize) -> &[u8] {
    let mut newlines = 0;
    for (index, byte) in text.iter().enumerate().rev() {
        if *byte == b'\n' && index + 1 < text.len() {
            newlines += 1;
            if newlines == count {
                return &text[index + 1..];
            }
        }
    }
    text
}
