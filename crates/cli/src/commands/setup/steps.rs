//! The commands setup and unsetup need on the running system (regenerating grub.cfg, enabling
//! units, applying sysctls, making the capture initramfs): run on the live root, each failure one
//! line with its fix; named and kept as pending under `--root`, which is not the running system.

use std::path::Path;
use std::process::Command;

use serde::Serialize;
use setup::bootloader::Step;

/// What became of one command.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Outcome {
    pub command: String,
    pub why: String,
    /// "ran", "failed", "pending" (not run under --root) or "would-run" (--dry-run).
    pub status: &'static str,
    /// The failure and its fix, one line.
    pub error: Option<String>,
}

/// The lastgasp command that makes the capture initramfs, run in this process.
pub const INITRAMFS: &str = "lastgasp initramfs";

/// Runs `steps` when `root` is the running system, else marks them pending. `internal` runs the
/// steps that are lastgasp's own code (the capture initramfs) and returns their error.
pub fn run(
    root: &Path,
    steps: &[Step],
    dry_run: bool,
    mut internal: impl FnMut(&Step) -> anyhow::Result<()>,
) -> Vec<Outcome> {
    let live = setup::root::is_live(root);
    steps
        .iter()
        .map(|step| {
            let outcome = |status, error| Outcome {
                command: step.command_line(),
                why: step.why.clone(),
                status,
                error,
            };
            if dry_run {
                return outcome(if live { "would-run" } else { "pending" }, None);
            }
            if !live {
                return outcome("pending", None);
            }
            tracing::info!(command = %step.command_line(), "running");
            let result = if step.command_line() == INITRAMFS {
                internal(step).map_err(|e| format!("{e:#}"))
            } else {
                external(step)
            };
            match result {
                Ok(()) => outcome("ran", None),
                Err(why) => outcome(
                    "failed",
                    Some(format!("{}: {why}; {}", step.command_line(), step.fix)),
                ),
            }
        })
        .collect()
}

fn external(step: &Step) -> Result<(), String> {
    let (program, args) = step.argv.split_first().ok_or("empty command")?;
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run it: {}", crate::commands::os_cause(&e)))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Err(format!("{} ({})", output.status, last.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(argv: &[&str]) -> Step {
        Step::new(argv, "testing", "do something else")
    }

    #[test]
    fn a_failure_is_one_line_with_the_cause() {
        let error = external(&step(&[
            "sh",
            "-c",
            "echo first >&2; echo 'the cause' >&2; exit 3",
        ]))
        .unwrap_err();
        assert_eq!(error, "exit status: 3 (the cause)");
        let error = external(&step(&["lastgasp-no-such-program"])).unwrap_err();
        assert!(
            error.starts_with("cannot run it: No such file or directory"),
            "{error}"
        );
        assert!(external(&step(&["true"])).is_ok());
    }

    #[test]
    fn under_a_fake_root_nothing_runs() {
        let root = tempfile::tempdir().unwrap();
        let marker = root.path().join("ran");
        let touch = format!("touch {}", marker.display());
        let steps = [step(&["sh", "-c", &touch]), step(&[INITRAMFS])];
        let outcomes = run(root.path(), &steps, false, |_| panic!("not under --root"));
        assert!(outcomes.iter().all(|o| o.status == "pending"));
        assert!(!marker.exists());
        let dry = run(root.path(), &steps, true, |_| panic!("not in a dry run"));
        assert!(dry.iter().all(|o| o.status == "pending"));
    }
}
