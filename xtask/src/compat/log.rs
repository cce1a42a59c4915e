//! The kernel log of a vmcore as each tool prints it (`lastgasp dmesg`, `makedumpfile
//! --dump-dmesg`, `vmcore-dmesg`), and how two of them compare: equal, or the first line where
//! they part.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// `makedumpfile --dump-dmesg FILE OUT`'s text (it writes a file and talks on stdout).
pub fn makedumpfile(makedumpfile: &Path, vmcore: &Path, scratch: &Path) -> Result<Vec<u8>> {
    let out = scratch.join("makedumpfile-dmesg.txt");
    // It refuses to overwrite.
    let _ = std::fs::remove_file(&out);
    let run = Command::new(makedumpfile)
        .arg("--dump-dmesg")
        .arg(vmcore)
        .arg(&out)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {}", makedumpfile.display()))?;
    if !run.status.success() {
        let stderr = String::from_utf8_lossy(&run.stderr);
        // What it cannot do is said once, early; the lines at the end are the consequences.
        let unsupported = stderr
            .lines()
            .find(|line| line.contains("unsupported"))
            .map(|line| format!("{} | ", line.trim()))
            .unwrap_or_default();
        bail!(
            "makedumpfile --dump-dmesg failed ({}): {unsupported}{}",
            run.status,
            last_lines(&stderr, 4)
        );
    }
    std::fs::read(&out).with_context(|| format!("reading {}", out.display()))
}

/// `cmd`'s standard output, or an error quoting the end of its standard error.
fn stdout_of(cmd: &mut Command, name: &str) -> Result<Vec<u8>> {
    let run = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {name}"))?;
    if !run.status.success() {
        bail!(
            "{name} failed ({}): {}",
            run.status,
            last_lines(&String::from_utf8_lossy(&run.stderr), 3)
        );
    }
    Ok(run.stdout)
}

/// The last `count` non-empty lines of a tool's messages, on one line: where it says why.
pub fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    lines
        .get(lines.len().saturating_sub(count)..)
        .unwrap_or_default()
        .join(" | ")
}

/// `vmcore-dmesg FILE`'s standard output.
pub fn vmcore_dmesg(vmcore_dmesg: &Path, vmcore: &Path) -> Result<Vec<u8>> {
    stdout_of(Command::new(vmcore_dmesg).arg(vmcore), "vmcore-dmesg")
}

/// `lastgasp dmesg FILE`'s standard output.
pub fn lastgasp(lastgasp: &Path, vmcore: &Path) -> Result<Vec<u8>> {
    stdout_of(
        Command::new(lastgasp).arg("dmesg").arg(vmcore),
        "lastgasp dmesg",
    )
}

/// `Ok` with a line count when `got` is `expected` byte for byte, else the first difference.
pub fn equal(expected: &[u8], got: &[u8]) -> Result<String> {
    match first_difference(expected, got) {
        None => Ok(format!("{} lines, byte for byte", line_count(got))),
        Some(difference) => bail!("differs at {difference}"),
    }
}

/// vmcore-dmesg's text against makedumpfile's, allowing only the differences docs/kdump.md
/// documents.
pub fn agree(makedumpfile: &[u8], vmcore_dmesg: &[u8]) -> Result<String> {
    equal(makedumpfile, vmcore_dmesg)
}

fn line_count(text: &[u8]) -> usize {
    text.split_inclusive(|&b| b == b'\n').count()
}

/// Where two logs first differ, for a one-line failure.
#[derive(Debug, PartialEq, Eq)]
pub struct Difference {
    /// 1-based line number.
    pub line: usize,
    pub left: Option<String>,
    pub right: Option<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = |s: &Option<String>| {
            s.as_deref()
                .map_or("<end>".to_owned(), |s| format!("{s:?}"))
        };
        write!(
            f,
            "line {}: {} vs {}",
            self.line,
            side(&self.left),
            side(&self.right)
        )
    }
}

/// `None` when `left` and `right` are byte for byte equal, else where they first differ.
pub fn first_difference(left: &[u8], right: &[u8]) -> Option<Difference> {
    if left == right {
        return None;
    }
    let mut a = left.split_inclusive(|&b| b == b'\n');
    let mut b = right.split_inclusive(|&b| b == b'\n');
    let text = |l: Option<&[u8]>| l.map(|l| String::from_utf8_lossy(l).into_owned());
    let mut line = 1;
    loop {
        let (x, y) = (a.next(), b.next());
        if x != y || (x.is_none() && y.is_none()) {
            return Some(Difference {
                line,
                left: text(x),
                right: text(y),
            });
        }
        line += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_tool_is_quoted_by_its_last_lines() {
        let text =
            "progress\n\nreadmem: a\n__vtop4_x86_64: b\ncheck_release: c\n\nmakedumpfile Failed.\n";
        assert_eq!(
            last_lines(text, 3),
            "__vtop4_x86_64: b | check_release: c | makedumpfile Failed."
        );
        assert_eq!(last_lines("", 3), "");
    }

    #[test]
    fn equal_logs_have_no_difference() {
        assert_eq!(first_difference(b"a\nb\n", b"a\nb\n"), None);
    }

    #[test]
    fn the_first_differing_line_is_named() {
        let d = first_difference(b"a\nb\nc\n", b"a\nB\nc\n").unwrap();
        assert_eq!(d.line, 2);
        assert_eq!(d.to_string(), "line 2: \"b\\n\" vs \"B\\n\"");
    }

    #[test]
    fn a_missing_tail_or_newline_counts() {
        let d = first_difference(b"a\nb\n", b"a\n").unwrap();
        assert_eq!((d.line, d.right), (2, None));
        let d = first_difference(b"a\nb", b"a\nb\n").unwrap();
        assert_eq!(d.line, 2);
    }
}
