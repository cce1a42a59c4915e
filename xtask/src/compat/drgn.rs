//! Opening a dump in drgn with the kernel's debug symbols and checking what it reads through
//! them: the release from `init_uts_ns`, and the end of the log through
//! `drgn.helpers.linux.printk`, which must equal the same lines of the crashed kernel's log.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::expect::{Expected, TAIL_LINES};

/// Run by drgn with `prog` bound to the dump. `release:` first, then the log's last lines.
fn script() -> String {
    format!(
        "from drgn.helpers.linux.printk import get_dmesg\n\
         print('release:', prog['init_uts_ns'].name.release.string_().decode())\n\
         for line in get_dmesg(prog).decode(errors='replace').splitlines()[-{TAIL_LINES}:]:\n    \
         print(line)\n"
    )
}

/// `drgn -q --main-symbols -s VMLINUX -c DUMP -e SCRIPT`'s standard output. `--main-symbols`
/// keeps drgn from looking for symbols anywhere else, so a vmlinux that does not match the dump
/// fails instead of being replaced silently.
pub fn run(drgn: &Path, vmlinux: &Path, dump: &Path) -> Result<String> {
    let out = Command::new(drgn)
        .arg("-q")
        .arg("--main-symbols")
        .arg("-s")
        .arg(vmlinux)
        .arg("-c")
        .arg(dump)
        .arg("-e")
        .arg(script())
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", drgn.display()))?;
    if !out.status.success() {
        bail!(
            "drgn on {} exited {}: {}",
            dump.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Checks drgn's output against `expected`.
pub fn check(output: &str, expected: &Expected) -> Result<()> {
    let mut lines = output.lines();
    let release = lines
        .next()
        .and_then(|line| line.strip_prefix("release: "))
        .context("drgn printed no release line")?;
    if release != expected.release {
        bail!(
            "drgn reads release {release:?} from init_uts_ns, expected {:?}",
            expected.release
        );
    }
    let tail: Vec<&str> = lines.collect();
    if tail.len() != expected.tail.len() {
        bail!(
            "drgn printed {} log lines, expected the last {}",
            tail.len(),
            expected.tail.len()
        );
    }
    for (got, want) in tail.iter().zip(&expected.tail) {
        if got != want {
            bail!("drgn's log line {got:?} differs from the vmcore's {want:?}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected() -> Expected {
        Expected {
            release: "6.1.0-57-amd64".into(),
            crash_line: "Kernel panic - not syncing: x".into(),
            task: None,
            tail: vec![
                "[    4.485426]  </TASK>".into(),
                "[    4.486052] ---[ end Kernel panic - not syncing: x ]---".into(),
            ],
        }
    }

    #[test]
    fn release_and_tail_must_match() {
        let good = "release: 6.1.0-57-amd64\n[    4.485426]  </TASK>\n\
                    [    4.486052] ---[ end Kernel panic - not syncing: x ]---\n";
        check(good, &expected()).unwrap();
        let wrong_release = good.replace("57", "56");
        assert!(check(&wrong_release, &expected()).is_err());
        let wrong_line = good.replace("</TASK>", "<TASK>");
        let err = check(&wrong_line, &expected()).unwrap_err().to_string();
        assert!(err.contains("<TASK>"), "{err}");
        let short = "release: 6.1.0-57-amd64\n[    4.485426]  </TASK>\n";
        assert!(check(short, &expected()).is_err());
        assert!(check("", &expected()).is_err());
    }

    #[test]
    fn the_script_asks_for_the_tail_length() {
        assert!(script().contains(&format!("[-{TAIL_LINES}:]")));
    }
}
