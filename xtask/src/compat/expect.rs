//! What any tool that opens a dump of a crash must show, taken from the crashed kernel's own log
//! (makedumpfile's reading of the ELF vmcore) and its VMCOREINFO: the line that says why it
//! crashed, the release, the task that crashed and the last lines of the log.
//!
//! With kdump loaded, an Oops goes to the capture kernel from `oops_end()`, before `panic()`
//! prints anything: the log of such a vmcore ends with the Oops, and its "why" is the Oops line
//! (`Oops: 0002 [#1] PREEMPT SMP NOPTI`), which is also what crash shows as PANIC.

use anyhow::{Context, Result};

/// How many of the log's last lines drgn must print back identically.
pub const TAIL_LINES: usize = 20;

const PANIC_MARK: &str = "Kernel panic - not syncing: ";

/// The facts a dump must give back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// `uname -r` of the crashed kernel.
    pub release: String,
    /// Why it crashed: the `Kernel panic - not syncing: ...` line, or without one the last
    /// Oops line (`Oops: 0002 [#1] ...`, `invalid opcode: 0000 [#1] ...`), without timestamp.
    pub crash_line: String,
    /// The task the kernel names in its "CPU: n PID: p Comm: c" line after that line.
    pub task: Option<Task>,
    /// The last [`TAIL_LINES`] lines of the log, as makedumpfile prints them.
    pub tail: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub pid: u32,
    pub comm: String,
}

/// The log text of one line without its `[    1.234567] ` timestamp.
pub fn message(line: &str) -> &str {
    line.strip_prefix('[')
        .and_then(|rest| rest.split_once("] "))
        .map_or(line, |(_, text)| text)
}

impl Expected {
    /// Reads the expectations from `log` (makedumpfile's `--dump-dmesg` text) and `release`.
    pub fn from_log(log: &str, release: &str) -> Result<Expected> {
        let lines: Vec<&str> = log.lines().collect();
        let crash_at = lines
            .iter()
            .rposition(|line| message(line).starts_with(PANIC_MARK))
            .or_else(|| lines.iter().rposition(|line| is_oops_line(message(line))))
            .context("the log has neither a \"Kernel panic - not syncing:\" line nor an Oops")?;
        let crash_line = lines
            .get(crash_at)
            .map(|line| message(line).trim_end())
            .unwrap_or_default()
            .to_owned();
        // The header of the crashing task's registers and stack follows at once.
        let task = lines
            .get(crash_at..)
            .unwrap_or_default()
            .iter()
            .find_map(|line| task_of(message(line)));
        let start = lines.len().saturating_sub(TAIL_LINES);
        Ok(Expected {
            release: release.to_owned(),
            crash_line,
            task,
            tail: lines
                .get(start..)
                .unwrap_or_default()
                .iter()
                .map(|line| (*line).to_owned())
                .collect(),
        })
    }
}

/// `Oops: 0002 [#1] PREEMPT SMP NOPTI`, `invalid opcode: 0000 [#1] ...`, `Oops: divide error:
/// 0000 [#1] ...` (6.12): a few words, a colon, four hex digits of error code, `[#n]`.
fn is_oops_line(text: &str) -> bool {
    let Some(at) = text.find(" [#") else {
        return false;
    };
    let head = text.get(..at).unwrap_or_default();
    let Some((words, code)) = head.rsplit_once(": ") else {
        return false;
    };
    code.len() == 4
        && code.bytes().all(|b| b.is_ascii_hexdigit())
        && !words.is_empty()
        && words
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_uppercase() || b == b' ' || b == b':')
}

/// `CPU: 0 PID: 1 Comm: init Not tainted ...` (6.1) or `CPU: 0 UID: 0 PID: 1 Comm: init ...`
/// (6.12) gives the pid and command.
fn task_of(text: &str) -> Option<Task> {
    if !text.starts_with("CPU: ") {
        return None;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let after = |key: &str| {
        words
            .iter()
            .position(|word| *word == key)
            .and_then(|at| words.get(at + 1))
    };
    Some(Task {
        pid: after("PID:")?.parse().ok()?,
        comm: (*after("Comm:")?).to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG_61: &str = "\
[    4.400000] sysrq: Trigger a crash
[    4.481396] Kernel panic - not syncing: sysrq triggered crash
[    4.481569] CPU: 0 PID: 1 Comm: init Not tainted 6.1.0-57-amd64 #1  Debian 6.1.192-3
[    4.481600] Call Trace:
[    4.486052] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---
";

    #[test]
    fn panic_release_and_task_come_from_the_log() {
        let got = Expected::from_log(LOG_61, "6.1.0-57-amd64").unwrap();
        assert_eq!(
            got.crash_line,
            "Kernel panic - not syncing: sysrq triggered crash"
        );
        assert_eq!(
            got.task,
            Some(Task {
                pid: 1,
                comm: "init".into()
            })
        );
        assert_eq!(got.tail.len(), 5);
        assert!(got.tail[4].ends_with("triggered crash ]---"));
    }

    #[test]
    fn the_612_header_has_a_uid_before_the_pid() {
        let log = "[    1.000000] Kernel panic - not syncing: Fatal exception\n\
                   [    1.000001] CPU: 0 UID: 0 PID: 83 Comm: sh Tainted: G      D    O 6.12.117+deb13-amd64 #1\n";
        let got = Expected::from_log(log, "6.12.117+deb13-amd64").unwrap();
        assert_eq!(
            got.task,
            Some(Task {
                pid: 83,
                comm: "sh".into()
            })
        );
    }

    #[test]
    fn the_task_is_the_one_after_the_panic_not_an_earlier_oops() {
        let log = "[    1.0] CPU: 1 PID: 7 Comm: kworker/1:0 Not tainted\n\
                   [    2.0] Kernel panic - not syncing: Fatal exception\n\
                   [    2.1] CPU: 0 PID: 99 Comm: sh Tainted: G D\n";
        let got = Expected::from_log(log, "r").unwrap();
        assert_eq!(got.task.unwrap().pid, 99);
    }

    #[test]
    fn a_log_without_a_panic_or_oops_is_an_error() {
        let err = Expected::from_log("[    1.0] hello\n", "r").unwrap_err();
        assert!(err.to_string().contains("neither"), "{err}");
    }

    /// The end of a real kdump vmcore's log (6.1, the lab's NULL write): no panic line.
    const KDUMP_61: &str = "\
[    6.750558] BUG: kernel NULL pointer dereference, address: 0000000000000010
[    6.750756] #PF: supervisor write access in kernel mode
[    6.751148] Oops: 0002 [#1] PREEMPT SMP NOPTI
[    6.751278] CPU: 0 PID: 1 Comm: init Kdump: loaded Tainted: G           OE      6.1.0-57-amd64 #1  Debian 6.1.192-3
[    6.761828] CR2: 0000000000000010
";

    #[test]
    fn with_kdump_the_oops_is_the_crash_line() {
        let got = Expected::from_log(KDUMP_61, "6.1.0-57-amd64").unwrap();
        assert_eq!(got.crash_line, "Oops: 0002 [#1] PREEMPT SMP NOPTI");
        assert_eq!(got.task.unwrap().comm, "init");
    }

    #[test]
    fn oops_lines_of_each_kind_are_recognised() {
        for yes in [
            "Oops: 0002 [#1] PREEMPT SMP NOPTI",
            "invalid opcode: 0000 [#1] PREEMPT SMP NOPTI",
            "Oops: divide error: 0000 [#1] PREEMPT SMP NOPTI",
            "general protection fault: 0000 [#2] SMP",
        ] {
            assert!(is_oops_line(yes), "{yes}");
        }
        for no in [
            "BUG: kernel NULL pointer dereference, address: 0000000000000010",
            "#PF: error_code(0x0002) - not-present page",
            "Modules linked in: x [#1]",
            "a: 00zz [#1]",
        ] {
            assert!(!is_oops_line(no), "{no}");
        }
    }

    #[test]
    fn the_tail_is_the_last_lines() {
        let mut log = String::new();
        for i in 0..50 {
            log.push_str(&format!("[{i:5}.000000] line {i}\n"));
        }
        log.push_str("[   50.000000] Kernel panic - not syncing: x\n");
        let got = Expected::from_log(&log, "r").unwrap();
        assert_eq!(got.tail.len(), TAIL_LINES);
        assert_eq!(got.tail[0], "[   31.000000] line 31");
        assert_eq!(message(&got.tail[0]), "line 31");
        assert_eq!(got.task, None);
    }

    proptest::proptest! {
        /// Whatever text a tool prints, reading expectations from it never panics, and what it
        /// names as the crash line is one of the log's lines.
        #[test]
        fn any_log_gives_an_answer_from_its_own_lines(
            lines in proptest::collection::vec(
                proptest::prop_oneof![
                    "\\PC{0,40}",
                    "\\[ *[0-9]{1,3}\\.[0-9]{6}\\] (Kernel panic - not syncing: |Oops: |CPU: 0 PID: )\\PC{0,20}",
                    "[a-z ]{1,12}: [0-9a-f]{4} \\[#[0-9]\\]\\PC{0,10}",
                ],
                0..30,
            )
        ) {
            let log = lines.join("\n");
            if let Ok(got) = Expected::from_log(&log, "r") {
                proptest::prop_assert!(log.lines().any(|l| message(l).trim_end() == got.crash_line));
                proptest::prop_assert!(got.tail.len() <= TAIL_LINES);
            }
        }
    }
}
