//! What a disk-image scenario must show, boot by boot, checked on the host from what the guest
//! recorded on the control disk (lab/disk-image/boot<N>.sh names the records) and from the
//! serial console. Every failure names the boot, the step and what the guest printed.

use super::Arming;
use anyhow::{Context, Result, bail, ensure};
use lastgasp::arming_state::ArmingState;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One recorded command: its output and exit status.
pub struct Record {
    pub text: String,
    pub status: Option<i32>,
}

/// What one boot's step recorded, and how the boot ended (reboot, crash, poweroff).
#[derive(Default)]
pub struct Boot {
    pub number: usize,
    pub records: BTreeMap<String, Record>,
    pub ending: Option<String>,
}

/// The boots' records from the control disk's `out` directory, in order.
pub fn load(out: &Path) -> Result<Vec<Boot>> {
    let mut boots = Vec::new();
    for number in 1.. {
        let dir = out.join(format!("boot{number}"));
        if !dir.is_dir() {
            break;
        }
        let mut boot = Boot {
            number,
            ..Boot::default()
        };
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .expect("directory entries have names")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            if name == "ending" {
                boot.ending = Some(text.trim().to_owned());
            } else if let Some(record) = name.strip_suffix(".txt") {
                let status = std::fs::read_to_string(dir.join(format!("{record}.rc")))
                    .ok()
                    .and_then(|rc| rc.trim().parse().ok());
                boot.records
                    .insert(record.to_owned(), Record { text, status });
            }
        }
        boots.push(boot);
    }
    Ok(boots)
}

impl Boot {
    fn record(&self, name: &str) -> Result<&Record> {
        self.records
            .get(name)
            .with_context(|| format!("boot {}: the step recorded no {name:?}", self.number))
    }

    /// The record `name`, which must have exited 0.
    fn succeeded(&self, name: &str, what: &str) -> Result<&Record> {
        let record = self.record(name)?;
        if record.status != Some(0) {
            bail!(
                "boot {}: {what} failed (exit {}): {}",
                self.number,
                record
                    .status
                    .map_or_else(|| "unknown".to_owned(), |s| s.to_string()),
                tail(&record.text)
            );
        }
        Ok(record)
    }

    /// The record `name`'s output as JSON.
    fn json(&self, name: &str, what: &str) -> Result<Value> {
        let record = self.succeeded(name, what)?;
        serde_json::from_str(&record.text).with_context(|| {
            format!(
                "boot {}: {what} printed no JSON: {}",
                self.number,
                tail(&record.text)
            )
        })
    }

    fn ended(&self, expected: &str) -> Result<()> {
        match self.ending.as_deref() {
            Some(ending) if ending == expected => Ok(()),
            Some(ending) => bail!(
                "boot {} ended with {ending}, not {expected} (an earlier step failed)",
                self.number
            ),
            None => bail!("boot {} never reached its end ({expected})", self.number),
        }
    }
}

/// The last lines of a command's output, enough to say why it failed.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(12);
    let tail = lines[start..].join("\n");
    if tail.is_empty() {
        "(no output)".to_owned()
    } else {
        tail
    }
}

/// Checks the whole scenario; returns a one-line summary (backend, report signature).
pub fn verify(boots: &[Boot], serial: &str, arming: &Arming) -> Result<String> {
    let boot = |number: usize| {
        boots
            .get(number - 1)
            .with_context(|| format!("the guest never ran boot {number}'s step"))
    };
    let state = installed_and_set_up(boot(1)?, arming)?;
    armed(boot(2)?, &state)?;
    let selftest = selftest_passed(boot(3)?)?;
    crashed(boot(3)?, serial)?;
    let signature = collected_and_removed(boot(4)?, boot(1)?)?;
    Ok(format!(
        "backend {}, {selftest}, report {signature}",
        state
            .backend
            .map_or_else(|| "none".to_owned(), |b| format!("{b:?}").to_lowercase())
    ))
}

/// Boot 1: the package installed, setup ran and wrote setup.json, armed as the scenario asked.
fn installed_and_set_up(boot: &Boot, arming: &Arming) -> Result<ArmingState> {
    boot.succeeded("install", "dpkg -i of the package")?;
    boot.succeeded("setup", "`lastgasp setup`")?;
    if arming.kernel_install {
        boot.succeeded(
            "kernel-install",
            "`kernel-install add` of the running kernel after setup",
        )?;
    }
    let json = boot.succeeded("setup-json", "reading /var/lib/lastgasp/setup.json")?;
    let state: ArmingState = serde_json::from_str(&json.text)
        .context("boot 1: /var/lib/lastgasp/setup.json is not setup.json as lastgasp reads it")?;
    set_up_as_asked(&state, arming)?;
    boot.ended("reboot")?;
    Ok(state)
}

/// Boot 1: setup armed what the scenario asked for, through the kernel command line (so boot 2's
/// check of /proc/cmdline proves the bootloader's part).
fn set_up_as_asked(state: &ArmingState, arming: &Arming) -> Result<()> {
    ensure!(
        state.backend == Some(arming.backend) && state.bootloader == arming.bootloader,
        "boot 1: setup armed backend {:?} through {:?}, not {:?} through {:?}",
        state.backend,
        state.bootloader,
        arming.backend,
        arming.bootloader
    );
    ensure!(
        !state.kernel_params.is_empty(),
        "boot 1: setup added no kernel parameters, so the command line goes unchecked"
    );
    Ok(())
}

/// Boot 2: /proc/cmdline holds every parameter setup added, status says armed, selftest started.
fn armed(boot: &Boot, state: &ArmingState) -> Result<()> {
    let cmdline = boot.succeeded("cmdline", "reading /proc/cmdline")?;
    let words: BTreeSet<&str> = cmdline.text.split_whitespace().collect();
    let missing: Vec<&String> = state
        .kernel_params
        .iter()
        .filter(|param| !words.contains(param.as_str()))
        .collect();
    ensure!(
        missing.is_empty(),
        "boot 2: /proc/cmdline lacks {missing:?} of setup.json's kernel_params; it is {:?}",
        cmdline.text.trim()
    );
    let status = boot.json("status", "`lastgasp status --json`")?;
    ensure!(
        status["armed"] == Value::Bool(true),
        "boot 2: `lastgasp status` says not armed; its problems: {}",
        status["problems"]
    );
    boot.succeeded("selftest", "`lastgasp selftest`")?;
    boot.ended("reboot")
}

/// Boot 3: the selftest's canary came back. Returns what the selftest said.
fn selftest_passed(boot: &Boot) -> Result<String> {
    let json = boot.json("selftest", "`lastgasp selftest --json`")?;
    let outcome = &json["selftest"]["outcome"];
    ensure!(
        outcome == "passed",
        "boot 3: `lastgasp selftest` says {outcome}: {}",
        json["selftest"]["detail"]
    );
    Ok(format!(
        "selftest {}",
        json["selftest"]["detail"].as_str().unwrap_or("passed")
    ))
}

/// Boot 3 crashed: the console shows the sysrq panic after boot 3's step began, and the
/// machine came back on its own (boot 4 exists, checked by the caller).
fn crashed(boot: &Boot, serial: &str) -> Result<()> {
    boot.ended("crash")?;
    let after = serial
        .find("LASTGASP-LAB: boot 3")
        .map(|at| &serial[at..])
        .context("the serial console never showed boot 3's step")?;
    for expected in [
        "sysrq: Trigger a crash",
        "Kernel panic - not syncing: sysrq triggered crash",
    ] {
        ensure!(
            after.contains(expected),
            "boot 3: the console does not show {expected:?} after the step began"
        );
    }
    Ok(())
}

/// `systemctl show` output as a map.
fn properties(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .collect()
}

/// Boot 4: lastgasp-save.service made exactly the sysrq report, status shows it, and `dpkg -r`
/// left nothing but the reports. Returns the report's signature.
fn collected_and_removed(boot: &Boot, first: &Boot) -> Result<String> {
    let unit = boot.succeeded("save-unit", "`systemctl show lastgasp-save.service`")?;
    let unit = properties(&unit.text);
    let ran = unit.get("ConditionResult") == Some(&"yes")
        && unit.get("Result") == Some(&"success")
        && unit.get("ExecMainStatus") == Some(&"0")
        && unit
            .get("ExecMainStartTimestampMonotonic")
            .is_some_and(|at| *at != "0");
    ensure!(
        ran,
        "boot 4: lastgasp-save.service did not run to success at boot: {unit:?}"
    );
    let list = boot.json("list", "`lastgasp list --json`")?;
    let reports = list
        .as_array()
        .context("boot 4: `lastgasp list --json` is no list")?;
    ensure!(
        reports.len() == 1,
        "boot 4: {} reports, not the one of the crash: {list}",
        reports.len()
    );
    let report = &reports[0];
    let signature = report["signature"].as_str().unwrap_or_default();
    ensure!(
        report["class"] == "sysrq" && signature.starts_with("sysrq-sysrq_handle_crash-"),
        "boot 4: the report is not of a sysrq crash: {report}"
    );
    let status = boot.json("status", "`lastgasp status --json`")?;
    ensure!(
        status["last-crash"]["id"] == report["id"],
        "boot 4: `lastgasp status` does not show the report {} as the last crash: {}",
        report["id"],
        status["last-crash"]
    );
    boot.succeeded("remove", "dpkg -r lastgasp")?;
    let before = first.succeeded("before", "the snapshot before installing")?;
    let after = boot.succeeded("after", "the snapshot after removing")?;
    left_behind(&before.text, &after.text)?;
    boot.ended("poweroff")?;
    Ok(signature.to_owned())
}

/// Where the reports live: the only thing removal leaves.
const REPORTS: &str = "/var/lib/lastgasp/reports";

/// The snapshot's entries: path to its content hash (configuration files) or to "" (others).
fn entries(snapshot: &str) -> BTreeMap<&str, &str> {
    let mut entries = BTreeMap::new();
    for line in snapshot.lines() {
        if line.starts_with('/') {
            entries.entry(line).or_insert("");
        } else if let Some((hash, path)) = line.split_once("  ") {
            entries.insert(path, hash);
        }
    }
    entries
}

/// Compares the system before installing with the system after removing: every file is as it
/// was, and nothing new remains outside the reports.
fn left_behind(before: &str, after: &str) -> Result<()> {
    let before = entries(before);
    let after = entries(after);
    let mut problems = Vec::new();
    for (path, hash) in &after {
        match before.get(path) {
            None if path.starts_with(REPORTS) => {}
            None => problems.push(format!("left behind: {path}")),
            Some(old) if old != hash => problems.push(format!("changed: {path}")),
            Some(_) => {}
        }
    }
    for path in before.keys().filter(|path| !after.contains_key(*path)) {
        problems.push(format!("gone: {path}"));
    }
    ensure!(
        problems.is_empty(),
        "boot 4: after dpkg -r the system differs from before the install:\n  {}",
        problems.join("\n  ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Image;
    use super::*;

    #[test]
    fn removal_may_leave_reports_and_nothing_else() {
        let before = "/etc/default/grub\n/usr/bin/true\nabc  /etc/default/grub\n";
        let clean = "/etc/default/grub\n/usr/bin/true\n\
                     /var/lib/lastgasp/reports/r1/manifest.json\nabc  /etc/default/grub\n";
        left_behind(before, clean).unwrap();
        let dirty = "/etc/default/grub\n/usr/bin/true\n/etc/default/grub.d/lastgasp.cfg\n\
                     def  /etc/default/grub\n";
        let error = left_behind(before, dirty).unwrap_err().to_string();
        assert!(
            error.contains("left behind: /etc/default/grub.d/lastgasp.cfg"),
            "{error}"
        );
        assert!(error.contains("changed: /etc/default/grub"), "{error}");
        let gone = "/usr/bin/true\n";
        let error = left_behind(before, gone).unwrap_err().to_string();
        assert!(error.contains("gone: /etc/default/grub"), "{error}");
    }

    #[test]
    fn a_failed_step_is_named_with_its_output() {
        let mut boot = Boot {
            number: 1,
            ..Boot::default()
        };
        boot.records.insert(
            "setup".into(),
            Record {
                text: "error: unrecognized subcommand 'setup'\n".into(),
                status: Some(2),
            },
        );
        boot.records.insert(
            "install".into(),
            Record {
                text: String::new(),
                status: Some(0),
            },
        );
        let error = installed_and_set_up(&boot, &Image::SystemdBootOvmf.arming())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`lastgasp setup` failed (exit 2)"),
            "{error}"
        );
        assert!(error.contains("unrecognized subcommand"), "{error}");
    }

    #[test]
    fn setup_must_arm_what_the_image_asks_through_the_command_line() {
        use lastgasp::arming_state::{Backend, Bootloader, Mode};
        let mut state = ArmingState {
            version: 1,
            mode: Mode::Pstore,
            backend: Some(Backend::Ramoops),
            bootloader: Bootloader::SystemdBoot,
            kernel_params: vec!["memmap=1M$0x30000000".into()],
            ramoops: None,
            blk: None,
            crashkernel: None,
            sysctl: BTreeMap::new(),
            files: Vec::new(),
            pending_commands: Vec::new(),
        };
        let arming = Image::SystemdBootOvmf.arming();
        set_up_as_asked(&state, &arming).unwrap();
        state.backend = Some(Backend::Efi);
        let error = set_up_as_asked(&state, &arming).unwrap_err().to_string();
        assert!(error.contains("Some(Efi) through SystemdBoot"), "{error}");
        state.backend = Some(Backend::Ramoops);
        state.kernel_params.clear();
        let error = set_up_as_asked(&state, &arming).unwrap_err().to_string();
        assert!(error.contains("no kernel parameters"), "{error}");
        let error = set_up_as_asked(&state, &Image::GrubBios.arming())
            .unwrap_err()
            .to_string();
        assert!(error.contains("not Ramoops through Grub"), "{error}");
    }

    #[test]
    fn the_crash_must_show_on_the_console_after_boot_3_began() {
        let boot = Boot {
            number: 3,
            ending: Some("crash".into()),
            ..Boot::default()
        };
        let serial = "LASTGASP-LAB: boot 3\n[ 1.0] sysrq: Trigger a crash\n\
                      [ 1.0] Kernel panic - not syncing: sysrq triggered crash\n";
        crashed(&boot, serial).unwrap();
        let error = crashed(&boot, "LASTGASP-LAB: boot 3\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("sysrq: Trigger a crash"), "{error}");
    }
}
