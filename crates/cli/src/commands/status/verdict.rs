//! From the facts to the answer: what is wanted, what is in effect, each problem with its fix,
//! and whether the machine is armed. Pure, so every rule is tested on made-up facts.

use serde::Serialize;

use super::facts::{Facts, LastCrash};
use super::render::human;
use crate::commands::backend;
use crate::commands::selftest::state::{Outcome, SelftestState};

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Status {
    /// A crash now would be kept, as setup asked.
    pub armed: bool,
    /// pstore, kdump or both: setup's choice, else what is armed by hand.
    pub mode: Option<String>,
    /// setup.json is there.
    pub set_up: bool,
    pub bootloader: Option<String>,
    pub pstore: PstoreStatus,
    pub kdump: KdumpStatus,
    pub cmdline: CmdlineStatus,
    pub sysctl: Vec<SysctlStatus>,
    /// The crash-loop guard (boots.json); `None` when it cannot be read.
    pub crash_loop: Option<crate::boots::GuardStatus>,
    pub last_crash: Option<LastCrash>,
    pub selftest: Option<SelftestState>,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PstoreStatus {
    pub wanted: bool,
    /// The backend setup chose (ramoops, efi, erst, blk).
    pub backend: Option<String>,
    /// The backend registered with the kernel, as the kernel names it.
    pub registered: Option<String>,
    pub region: Option<Region>,
    pub records_waiting: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Region {
    pub address: u64,
    pub size: u64,
    pub record_size: u64,
    pub mem_name: Option<String>,
    /// The /proc/iomem line holding the region (`reserved` for memmap=); `None` when /proc/iomem
    /// could not tell (not root).
    pub iomem: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct KdumpStatus {
    pub wanted: bool,
    /// setup's crashkernel= value.
    pub crashkernel: Option<String>,
    pub reserved_bytes: Option<u64>,
    pub needed_bytes: Option<u64>,
    pub loaded: Option<bool>,
    pub captures_waiting: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CmdlineStatus {
    /// The parameters setup wrote.
    pub wanted: Vec<String>,
    /// Those the running kernel's command line lacks.
    pub missing: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SysctlStatus {
    pub name: String,
    pub wanted: String,
    pub in_effect: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// A crash now would not be kept as setup asked.
    Blocking,
    /// Worth fixing; crashes are still kept.
    Warning,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Problem {
    pub severity: Severity,
    pub problem: String,
    pub fix: String,
}

/// The running command line's form of a parameter as written into a bootloader file (GRUB's
/// configuration needs `\$` where the kernel sees `$`).
fn unescaped(param: &str) -> String {
    param.replace("\\$", "$").replace('"', "")
}

pub fn judge(facts: Facts) -> Status {
    let mut problems = Vec::new();
    let setup = facts.setup.as_ref();
    let registered_setup_name = facts
        .registered
        .as_deref()
        .map(|n| backend::setup_name(n).unwrap_or(n).to_string());
    let crash_loaded = facts.kexec.crash_loaded == Some(true);
    let (wants_pstore, wants_kdump) = match setup {
        Some(s) => (s.mode.wants_pstore(), s.mode.wants_kdump()),
        // Without setup, judge what is armed by hand.
        None => (facts.registered.is_some(), crash_loaded),
    };
    let mode = match (setup, wants_pstore, wants_kdump) {
        (Some(s), _, _) => Some(s.mode.name().to_string()),
        (None, true, true) => Some("both".to_string()),
        (None, true, false) => Some("pstore".to_string()),
        (None, false, true) => Some("kdump".to_string()),
        (None, false, false) => None,
    };

    if let Some(error) = &facts.setup_error {
        problems.push(blocking(
            error.clone(),
            "run `lastgasp setup` again (it rewrites setup.json)".into(),
        ));
    } else if setup.is_none() {
        if mode.is_none() {
            problems.push(blocking(
                "nothing is armed: no pstore backend is registered, no capture kernel is \
                 loaded, and lastgasp setup has not run"
                    .into(),
                "run `lastgasp setup`, then reboot".into(),
            ));
        } else {
            problems.push(warning(
                "armed by hand, not by `lastgasp setup`: nothing here re-arms it at the next boot"
                    .into(),
                "run `lastgasp setup` so lastgasp-load.service arms it at every boot".into(),
            ));
        }
    }

    // pstore
    let wanted_backend = setup.and_then(|s| s.backend.map(|b| b.name().to_string()));
    if wants_pstore {
        match (&wanted_backend, &registered_setup_name) {
            (_, None) => problems.push(blocking(
                format!(
                    "no pstore backend is registered{}",
                    wanted_backend
                        .as_deref()
                        .map(|b| format!(" (setup chose {b})"))
                        .unwrap_or_default()
                ),
                "run `lastgasp load` (lastgasp-load.service does it at boot: see `systemctl \
                 status lastgasp-load`)"
                    .into(),
            )),
            (Some(wanted), Some(now)) if wanted != now => problems.push(blocking(
                format!(
                    "the {} backend is registered, not {wanted}: pstore takes one backend at a \
                     time",
                    facts.registered.as_deref().unwrap_or(now)
                ),
                format!(
                    "boot with pstore.backend={} on the kernel command line (lastgasp setup \
                     writes it), or keep the {now} backend with `lastgasp setup --backend {now}`",
                    kernel_name(wanted)
                ),
            )),
            _ => {}
        }
    }
    let region = facts.ramoops.as_ref().map(|r| Region {
        address: r.address,
        size: r.size,
        record_size: r.record_size,
        mem_name: r.mem_name.clone(),
        iomem: facts.region_holder.clone().flatten(),
    });
    if wants_pstore && registered_setup_name.as_deref() == Some("ramoops") {
        ramoops_problems(&facts, &mut problems);
    }
    if !facts.records_waiting.is_empty() {
        problems.push(warning(
            format!(
                "{} record(s) wait in pstore: a backend holding old records may have no room \
                 for the next crash",
                facts.records_waiting.len()
            ),
            "run `lastgasp save`".into(),
        ));
    }

    // kdump
    if wants_kdump {
        match facts.kexec.crash_size {
            None => problems.push(blocking(
                "this kernel has no crash kernel support (no /sys/kernel/kexec_crash_size)".into(),
                "use a kernel built with CONFIG_CRASH_DUMP and CONFIG_KEXEC_FILE, or the pstore \
                 mode"
                    .into(),
            )),
            Some(0) => problems.push(blocking(
                "no memory is reserved for the capture kernel (crashkernel= did not take effect)"
                    .into(),
                format!(
                    "reboot with crashkernel={} on the command line{}",
                    setup
                        .and_then(|s| s.crashkernel.as_deref())
                        .unwrap_or("256M"),
                    pending_hint(&facts)
                ),
            )),
            Some(reserved) => {
                if let Some(needed) = facts.crash_needed.filter(|n| *n > reserved) {
                    problems.push(warning(
                        format!(
                            "the crash reservation ({}) is less than this machine needs ({})",
                            human(reserved),
                            human(needed)
                        ),
                        "raise crashkernel= (`lastgasp setup` uses `lastgasp estimate`), then \
                         reboot"
                            .into(),
                    ));
                }
                if !crash_loaded {
                    problems.push(blocking(
                        "the capture kernel is not loaded".into(),
                        "run `lastgasp load --kdump` (lastgasp-kdump.service does it at boot: \
                         see `systemctl status lastgasp-kdump`)"
                            .into(),
                    ));
                }
            }
        }
    }
    if facts.captures_waiting > 0 {
        problems.push(warning(
            format!(
                "{} kdump capture(s) wait in {}",
                facts.captures_waiting,
                facts.kdump_dir.display()
            ),
            "run `lastgasp save`".into(),
        ));
    }

    // The command line setup wrote.
    let wanted_params = setup.map(|s| s.kernel_params.clone()).unwrap_or_default();
    let running: Vec<&str> = facts
        .cmdline
        .as_deref()
        .map(sys::cmdline::split)
        .unwrap_or_default();
    let missing: Vec<String> = wanted_params
        .iter()
        .filter(|p| {
            let want = unescaped(p);
            !running.iter().any(|r| unescaped(r) == want)
        })
        .cloned()
        .collect();
    if !missing.is_empty() {
        problems.push(blocking(
            format!(
                "the running kernel's command line lacks what setup wrote: {}",
                missing.join(" ")
            ),
            format!("reboot{}", pending_hint(&facts)),
        ));
    }

    // sysctls
    let sysctl: Vec<SysctlStatus> = facts
        .sysctl
        .iter()
        .map(|(name, wanted, now)| SysctlStatus {
            name: name.clone(),
            wanted: wanted.clone(),
            in_effect: now.clone(),
        })
        .collect();
    for s in &sysctl {
        let same = s
            .in_effect
            .as_deref()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>)
            == Some(s.wanted.split_whitespace().collect());
        if !same {
            problems.push(warning(
                format!(
                    "sysctl {} is {}, setup wants {}",
                    s.name,
                    s.in_effect.as_deref().unwrap_or("missing"),
                    s.wanted
                ),
                "run `sysctl --system` (a later file in sysctl.d may override lastgasp's)".into(),
            ));
        }
    }

    if let Some(guard) = facts.crash_loop.as_ref().map(|g| &g.guard)
        && guard.active
    {
        let problem = if wants_kdump { blocking } else { warning };
        problems.push(problem(
            guard.explain(),
            "find why the machine keeps going down (`lastgasp list`, `journalctl -b -1`); the \
             guard lets go after a clean shutdown"
                .into(),
        ));
    }

    // selftest
    let selftest = facts.selftest.clone();
    if let Some(error) = &facts.selftest_error {
        problems.push(warning(
            error.clone(),
            "remove it and run `lastgasp selftest`".into(),
        ));
    }
    selftest_problems(
        &facts,
        (wants_pstore, wants_kdump),
        wanted_backend.as_deref(),
        &mut problems,
    );

    let armed = mode.is_some() && !problems.iter().any(|p| p.severity == Severity::Blocking);
    Status {
        armed,
        mode,
        set_up: setup.is_some(),
        bootloader: setup.map(|s| s.bootloader.name().to_string()),
        pstore: PstoreStatus {
            wanted: wants_pstore,
            backend: wanted_backend,
            registered: facts.registered.clone(),
            region,
            records_waiting: facts.records_waiting.clone(),
        },
        kdump: KdumpStatus {
            wanted: wants_kdump,
            crashkernel: setup.and_then(|s| s.crashkernel.clone()),
            reserved_bytes: facts.kexec.crash_size,
            needed_bytes: facts.crash_needed,
            loaded: facts.kexec.crash_loaded,
            captures_waiting: facts.captures_waiting,
        },
        cmdline: CmdlineStatus {
            wanted: wanted_params,
            missing,
        },
        sysctl,
        crash_loop: facts.crash_loop.clone(),
        last_crash: facts.last_crash.clone(),
        selftest,
        problems,
    }
}

fn blocking(problem: String, fix: String) -> Problem {
    Problem {
        severity: Severity::Blocking,
        problem,
        fix,
    }
}

fn warning(problem: String, fix: String) -> Problem {
    Problem {
        severity: Severity::Warning,
        problem,
        fix,
    }
}

/// The kernel's name for a backend setup names, for `pstore.backend=`.
fn kernel_name(setup_name: &str) -> &str {
    match setup_name {
        "efi" => "efi_pstore",
        "blk" => "pstore_blk",
        other => other,
    }
}

/// ", after running <commands>" when setup left commands to run.
fn pending_hint(facts: &Facts) -> String {
    match facts.setup.as_ref().map(|s| &s.pending_commands) {
        Some(commands) if !commands.is_empty() => format!(
            " after running what setup left to do: {}",
            commands.join("; ")
        ),
        _ => String::new(),
    }
}

fn ramoops_problems(facts: &Facts, problems: &mut Vec<Problem>) {
    let Some(params) = &facts.ramoops else {
        return;
    };
    let wanted = facts.setup.as_ref().and_then(|s| s.ramoops.as_ref());
    if let Some(want) = wanted.and_then(|w| w.address)
        && want != params.address
    {
        problems.push(blocking(
            format!(
                "ramoops uses {:#x}, but setup reserved {want:#x}",
                params.address
            ),
            "run `lastgasp load` again (it reloads ramoops with setup's region)".into(),
        ));
    }
    let reserve_mem = params.mem_name.is_some() || wanted.is_some_and(|w| w.address.is_none());
    match facts.region_holder.as_ref() {
        // reserve_mem= and device-tree regions are kept by memblock, not shown in /proc/iomem.
        _ if reserve_mem => {}
        Some(Some(name)) if is_reserved(name) => {}
        Some(holder) => problems.push(Problem {
            severity: Severity::Blocking,
            problem: format!(
                "the ramoops region {:#x}-{:#x} is not reserved ({}): the kernel may use that \
                 memory and overwrite the records",
                params.address,
                params.address + params.size.saturating_sub(1),
                holder.as_deref().map_or(
                    "no single /proc/iomem line holds it".to_string(),
                    |n| format!("/proc/iomem: {n}")
                )
            ),
            fix: format!(
                "reboot with the memmap= parameter setup wrote{}",
                pending_hint(facts)
            ),
        }),
        None => {}
    }
}

fn is_reserved(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "reserved" || name.contains("ramoops") || name.contains("persistent")
}

fn selftest_problems(
    facts: &Facts,
    (wants_pstore, wants_kdump): (bool, bool),
    wanted_backend: Option<&str>,
    problems: &mut Vec<Problem>,
) {
    // A selftest of another backend than the one wanted now says nothing about it; a
    // `selftest --crash` through kdump speaks for kdump.
    let relevant = facts.selftest.as_ref().filter(|s| {
        if s.backend == crate::commands::selftest::settle::KDUMP {
            wants_kdump
        } else {
            wants_pstore && wanted_backend.is_none_or(|w| w == s.backend)
        }
    });
    match relevant {
        None if !wants_pstore => {}
        None if facts.selftest_error.is_none() => problems.push(warning(
            "the backend has not been tested on this machine".into(),
            "run `lastgasp selftest`, then reboot".into(),
        )),
        None => {}
        Some(s) => match s.outcome {
            Outcome::Passed => {}
            Outcome::Failed => problems.push(Problem {
                severity: Severity::Blocking,
                problem: format!(
                    "the last selftest failed: {}",
                    s.detail.as_deref().unwrap_or("no detail")
                ),
                fix: "fix the cause (`lastgasp setup --backend` another backend if this one \
                      cannot keep a record), then `lastgasp selftest --again`"
                    .into(),
            }),
            Outcome::Pending if facts.boot_id.as_deref() == Some(s.boot_id.as_str()) => {
                problems.push(warning(
                    format!("selftest {} is waiting for a reboot", s.id),
                    "reboot (a warm reboot: `systemctl reboot`)".into(),
                ));
            }
            Outcome::Pending => problems.push(warning(
                format!(
                    "selftest {} is pending: lastgasp save has not run since the reboot",
                    s.id
                ),
                "run `lastgasp save` (lastgasp-save.service does it at boot)".into(),
            )),
        },
    }
}
