//! Opening a dump in `crash` (batch mode: `log`, `sys`, `bt`) and checking that it shows what the
//! crashed kernel left: the crash line (panic or Oops) in the log, the release and that line as
//! PANIC in `sys`, the crashing task in `bt`.

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use super::expect::Expected;
use super::newer_crash::CrashProgram;

/// The commands crash runs; `quit` ends the session instead of waiting for a terminal.
const COMMANDS: &str = "log\nsys\nbt\nquit\n";

/// Runs `crash -s VMLINUX DUMP` on [`COMMANDS`] and returns its standard output.
pub fn run(crash: &CrashProgram, vmlinux: &Path, dump: &Path, scratch: &Path) -> Result<String> {
    let input = scratch.join("crash-commands");
    std::fs::write(&input, COMMANDS).with_context(|| format!("writing {}", input.display()))?;
    let out = crash
        .command()
        .arg("-s")
        .arg(vmlinux)
        .arg(dump)
        .arg("-i")
        .arg(&input)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {crash:?}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "crash {} exited {}: {}",
            dump.display(),
            out.status,
            last_lines(&format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
        );
    }
    Ok(stdout)
}

fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .get(lines.len().saturating_sub(5)..)
        .unwrap_or_default()
        .join(" | ")
}

/// Checks crash's output against `expected`; the error names the first thing missing.
pub fn check(output: &str, expected: &Expected) -> Result<()> {
    let crash_line = &expected.crash_line;
    if !output
        .lines()
        .any(|line| super::expect::message(line) == crash_line)
    {
        bail!("crash's `log` lacks {crash_line:?}");
    }
    let field = |name: &str| {
        output.lines().find_map(|line| {
            let (key, value) = line.split_once(": ")?;
            (key.trim() == name).then(|| value.trim().to_owned())
        })
    };
    match field("RELEASE") {
        Some(release) if release == expected.release => {}
        other => bail!(
            "crash's `sys` shows RELEASE {other:?}, expected {:?}",
            expected.release
        ),
    }
    match field("PANIC") {
        Some(panic) if panic.contains(crash_line.as_str()) => {}
        other => bail!("crash's `sys` shows PANIC {other:?}, expected {crash_line:?}"),
    }
    if let Some(task) = &expected.task {
        let header = output
            .lines()
            .find(|line| line.starts_with("PID: "))
            .context("crash's `bt` printed no \"PID:\" header")?;
        let words: Vec<&str> = header.split_whitespace().collect();
        let pid = words.get(1).and_then(|w| w.parse::<u32>().ok());
        let command = header
            .split_once("COMMAND: \"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(comm, _)| comm);
        if pid != Some(task.pid) || command != Some(task.comm.as_str()) {
            bail!(
                "crash's `bt` shows {header:?}, expected PID {} COMMAND \"{}\"",
                task.pid,
                task.comm
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::expect::Task;

    fn expected() -> Expected {
        Expected {
            release: "6.1.0-57-amd64".into(),
            crash_line: "Kernel panic - not syncing: sysrq triggered crash".into(),
            task: Some(Task {
                pid: 1,
                comm: "init".into(),
            }),
            tail: Vec::new(),
        }
    }

    /// crash 8.0.2's output on a dump of a sysrq crash, shortened.
    const OUTPUT: &str = r#"[    4.481396] Kernel panic - not syncing: sysrq triggered crash
[    4.486052] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---
      KERNEL: vmlinux-6.1.0-57-amd64
    DUMPFILE: vmcore.kdump
        CPUS: 1
     RELEASE: 6.1.0-57-amd64
     VERSION: #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)
       PANIC: "Kernel panic - not syncing: sysrq triggered crash"
PID: 1        TASK: ffff8e88811f48c0  CPU: 0    COMMAND: "init"
 #0 [ffffceaa80013b38] panic at ffffffffac201f99
"#;

    #[test]
    fn a_good_session_passes() {
        check(OUTPUT, &expected()).unwrap();
    }

    #[test]
    fn each_missing_fact_fails_by_name() {
        let cases = [
            (
                "Kernel panic - not syncing: sysrq triggered crash\n",
                "`log`",
            ),
            ("RELEASE: 6.1.0-57-amd64", "RELEASE"),
            ("PANIC: \"Kernel panic", "PANIC"),
            ("COMMAND: \"init\"", "`bt`"),
        ];
        for (cut, named) in cases {
            let broken = OUTPUT.replacen(cut, "", 1);
            let err = check(&broken, &expected()).unwrap_err().to_string();
            assert!(err.contains(named), "cutting {cut:?}: {err}");
        }
        let other_task = OUTPUT.replace("PID: 1 ", "PID: 2 ");
        assert!(check(&other_task, &expected()).is_err());
        let other_release = Expected {
            release: "6.12.117+deb13-amd64".into(),
            ..expected()
        };
        assert!(check(OUTPUT, &other_release).is_err());
    }

    /// crash 8.0.2 on makedumpfile's level-31 dump of the lab's 6.1 kdump vmcore, shortened:
    /// the kernel went to kdump from the Oops, so crash names the Oops as PANIC.
    const OOPS_OUTPUT: &str = r#"[    6.751148] Oops: 0002 [#1] PREEMPT SMP NOPTI
[    6.751278] CPU: 0 PID: 1 Comm: init Kdump: loaded Tainted: G           OE      6.1.0-57-amd64 #1  Debian 6.1.192-3
     RELEASE: 6.1.0-57-amd64
       PANIC: "Oops: 0002 [#1] PREEMPT SMP NOPTI" (check log for details)
PID: 1        TASK: ffff8b75c1203080  CPU: 0    COMMAND: "init"
 #0 [ffffd341800139a8] machine_kexec at ffffffff8487754f
"#;

    #[test]
    fn an_oops_that_went_to_kdump_passes() {
        let oops = Expected {
            crash_line: "Oops: 0002 [#1] PREEMPT SMP NOPTI".into(),
            ..expected()
        };
        check(OOPS_OUTPUT, &oops).unwrap();
        assert!(check(OUTPUT, &oops).is_err());
    }
}
