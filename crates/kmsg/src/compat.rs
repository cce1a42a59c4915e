//! Signatures of other crash pipelines, computed the way they compute them so that reports
//! can be joined with theirs: ChromeOS crash_reporter (`kernel-<func>-<%08X>`) and ABRT's
//! koops duphash. Both are applied to the prefix-stripped lines, so a serial capture gives what
//! the tools give for the same text in a pstore record.

use sha1::{Digest, Sha1};

use std::ops::Range;

use crate::frame::{TraceLine, parse_trace_line, split_marker};
use crate::line::Line;
use crate::model::Frame;

/// ChromeOS truncates the human part to this many bytes.
const CHROMEOS_HUMAN_MAX: usize = 40;
/// A register dump's PC names the crash when the stack follows it within this many seconds.
const PC_WINDOW: f64 = 0.2;
/// ABRT hashes this many frames.
const ABRT_FRAMES: usize = 6;

/// crash_reporter's `ComputeKernelStackSignature` (crash-reporter/kernel_util.cc, 2023 form)
/// over a whole log: the last call trace, or the first one after a lockup or hung-task report;
/// WARNING blocks skipped; `? ` frames hashed only when no other frame is left.
pub(crate) fn chromeos_signature(lines: &[Line<'_>]) -> String {
    let mut certain: Vec<&str> = Vec::new();
    let mut uncertain: Vec<&str> = Vec::new();
    let mut stack_fn: Option<&str> = None;
    let mut tag = "";
    let mut want_next_stack = false;
    let mut found_the_stack = false;
    let mut in_warning = false;
    let mut pc: Option<(&str, f64)> = None;
    let mut stack_ts = 0.0;
    // crash_reporter's patterns all start with the `<N>[ seconds]` prefix: a line without a
    // timestamp (a ramoops header, a line the kernel printed before its clock) matches none.
    for line in lines.iter().filter(|l| l.ts.is_some()) {
        let t = line.text;
        let ts = line.ts.unwrap_or(0.0);
        if in_warning {
            if t.contains(" ---[ end trace ") || t.starts_with("---[ end trace ") {
                in_warning = false;
            }
        } else {
            in_warning = t.starts_with("WARNING: ");
        }
        if in_warning {
            continue;
        }
        if let Some(name) = chromeos_pc(t) {
            // Registers printed after the chosen stack belong to another report.
            if found_the_stack {
                break;
            }
            pc = (!is_boring(name)).then_some((name, ts));
        }
        if t.starts_with("Watchdog detected hard LOCKUP")
            || t.starts_with("watchdog: Watchdog detected hard LOCKUP")
        {
            want_next_stack = true;
            tag = "(HARDLOCKUP)-";
        } else if t.starts_with("watchdog: BUG: soft lockup") {
            want_next_stack = true;
            tag = "(SOFTLOCKUP)-";
        } else if is_hung_task(t) {
            want_next_stack = true;
            tag = "(HANG)-";
        } else if t.eq_ignore_ascii_case("call trace:") || t.eq_ignore_ascii_case("backtrace:") {
            if found_the_stack {
                break;
            }
            certain.clear();
            uncertain.clear();
            stack_fn = None;
            found_the_stack = want_next_stack;
        } else if let Some((name, reliable)) = chromeos_frame(t) {
            stack_ts = ts;
            uncertain.push(name);
            if reliable {
                certain.push(name);
                // `<TASK>` and `<IRQ>` are hashed like frames but never name the crash.
                if stack_fn.is_none() && !is_boring(name) && !name.starts_with('<') {
                    stack_fn = Some(name);
                }
            }
        }
    }
    let hashed = if certain.is_empty() {
        &uncertain
    } else {
        &certain
    };
    let hash = hashed
        .iter()
        .enumerate()
        .flat_map(|(i, name)| {
            let sep: &[u8] = if i == 0 { b"" } else { b"|" };
            sep.iter().chain(name.as_bytes())
        })
        .fold(0u32, |h, &c| {
            h.wrapping_mul(16127).wrapping_add(u32::from(c))
        });
    // The PC of a register dump printed just before the stack names the crash; else, for a
    // lockup or hang, the hung stack's first interesting function; otherwise the panic message
    // does, and only without one the stack's first interesting function.
    let human = if let Some((name, _)) = pc.filter(|(_, pc_ts)| stack_ts - pc_ts < PC_WINDOW) {
        Some(name)
    } else if !tag.is_empty() {
        stack_fn
    } else {
        last_panic_message(lines).or(stack_fn)
    }
    .map(|h| truncate(h, CHROMEOS_HUMAN_MAX))
    .unwrap_or_default();
    if human.is_empty() && hash == 0 {
        return "kernel-UnspecifiedStackSignature".to_owned();
    }
    format!("kernel-{tag}{human}-{hash:08X}")
}

/// `INFO: task <comm>:<pid> blocked for more than`.
fn is_hung_task(t: &str) -> bool {
    let Some(rest) = t.strip_prefix("INFO: task ") else {
        return false;
    };
    let Some(at) = rest.find(" blocked for more than") else {
        return false;
    };
    let head = &rest[..at];
    head.rsplit_once(':')
        .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// The message of the last `Kernel panic…: message` line.
fn last_panic_message<'a>(lines: &[Line<'a>]) -> Option<&'a str> {
    lines.iter().rev().filter(|l| l.ts.is_some()).find_map(|l| {
        let rest = l.text.strip_prefix("Kernel panic")?;
        let colon = rest.find(':')?;
        Some(rest[colon + 1..].trim_start())
    })
}

/// crash_reporter's functions that never name a crash.
fn is_boring(name: &str) -> bool {
    const BORING: [&str; 35] = [
        "__flush_work",
        "__mutex_lock",
        "__mutex_lock_common",
        "__mutex_lock_slowpath",
        "__switch_to",
        "__schedule",
        "__wait_on_bit",
        "__wait_on_buffer",
        "bit_wait_io",
        "down_read",
        "down_write",
        "down_write_killable",
        "dump_backtrace",
        "dump_cpu_task",
        "dump_stack",
        "dump_stack_lvl",
        "flush_work",
        "io_schedule",
        "kthread_flush_work",
        "mutex_lock",
        "out_of_line_wait_on_bit",
        "panic",
        "rcu_dump_cpu_stacks",
        "rwsem_down_read_slowpath",
        "rwsem_down_write_slowpath",
        "sched_show_task",
        "schedule",
        "schedule_hrtimeout_range",
        "schedule_hrtimeout_range_clock",
        "schedule_preempt_disabled",
        "schedule_timeout",
        "schedule_timeout_uninterruptible",
        "show_stack",
        "usleep_range_state",
        "wait_for_completion",
    ];
    BORING.contains(&name)
}

/// The frame regex of crash_reporter, `\s+(?:\[<hex>\])?([\s?(]+)([^\+ )]+)`, on the text
/// after the `<N>[ts] ` prefix: the name and whether the prefix had no `?`.
fn chromeos_frame(text: &str) -> Option<(&str, bool)> {
    let mut rest = text;
    if let Some(inner) = rest.trim_start().strip_prefix("[<") {
        let close = inner.find(">]")?;
        rest = &inner[close + 2..];
    }
    let lead_end = rest
        .find(|c: char| !(c.is_whitespace() || c == '?' || c == '('))
        .unwrap_or(rest.len());
    if lead_end == 0 {
        return None;
    }
    let lead = &rest[..lead_end];
    let body = &rest[lead_end..];
    let name_end = body.find(['+', ' ', ')']).unwrap_or(body.len());
    let name = &body[..name_end];
    if name.is_empty() {
        return None;
    }
    Some((name, !lead.contains('?')))
}

/// crash_reporter's PC regexes (it picks one by the architecture it runs on; a log shows
/// only its own): x86_64 `RIP: xxxx:func+0x`, i386 `EIP: [<addr>] func`, arm `pc : func` /
/// `PC is at func`, MIPS `epc   : addr func`.
fn chromeos_pc(t: &str) -> Option<&str> {
    if let Some(rest) = t.strip_prefix("RIP: ") {
        let (seg, mut after) = rest.split_at_checked(4)?;
        if !seg.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        after = after.strip_prefix(':')?;
        // Pre-4.15: `[<addr>] [<addr>] func+...`.
        while let Some(inner) = after.strip_prefix("[<") {
            let close = inner.find(">] ")?;
            after = &inner[close + 3..];
        }
        let plus = after.find('+')?;
        let name = &after[..plus];
        return (!name.is_empty() && !name.contains(' ') && after[plus..].starts_with("+0x"))
            .then_some(name);
    }
    let name = if let Some(rest) = t.strip_prefix("EIP: [<") {
        let close = rest.rfind(">] ")?;
        let rest = &rest[close + 3..];
        &rest[..rest.find(['+', ' ']).unwrap_or(rest.len())]
    } else if let Some(rest) = t.strip_prefix("epc") {
        let rest = rest.trim_start().strip_prefix(':')?.trim_start();
        let (_, rest) = rest.split_once(char::is_whitespace)?;
        let rest = rest.trim_start();
        &rest[..rest.find(['+', ' ']).unwrap_or(rest.len())]
    } else {
        let rest = t
            .strip_prefix("pc : ")
            .or_else(|| t.strip_prefix("PC is at "))?;
        &rest[..rest.find(['+', '[', ' ']).unwrap_or(rest.len())]
    };
    (!name.is_empty()).then_some(name)
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The frames ABRT hashes, read as satyr's koops parser reads an oops: the instruction pointer
/// of the first i386 `EIP: [<a>] f` or pre-4.15 `RIP: 0010:[<a>] [<a>] f` line comes first
/// (i386 prints it after the trace), then every frame line of the report in order, wherever it
/// stands (a lockdep report's dependency chains come before its own trace); s390's
/// `Last Breaking-Event-Address:` ends the reading.
pub(crate) fn abrt_frames(lines: &[Line<'_>], range: Range<usize>) -> Vec<Frame> {
    let mut ip = None;
    let mut frames = Vec::new();
    for line in lines.get(range).unwrap_or_default() {
        let t = line.trimmed();
        if t.starts_with("Last Breaking-Event-Address:") {
            break;
        }
        if ip.is_none()
            && let Some(f) = satyr_ip(t)
        {
            ip = Some(f);
            continue;
        }
        let text = split_marker(t).map_or(t, |(_, rest)| rest);
        if let Some(TraceLine::Frame(f)) = parse_trace_line(text) {
            frames.push(f);
        }
    }
    ip.into_iter().chain(frames).collect()
}

/// satyr's `parse_IP`: `RIP:` then a word it skips (`0010:[<addr>]`) then a frame with its
/// address, or `EIP:` then `[<addr>]` and the function. Today's `RIP: 0010:f+0x1/0x2` has
/// nothing after the skipped word and is no IP line for it.
fn satyr_ip(t: &str) -> Option<Frame> {
    let rest = if let Some(rest) = t.strip_prefix("RIP:") {
        let rest = rest.strip_prefix([' ', '\t'])?.trim_start();
        let (_, after) = rest.split_once([' ', '\t'])?;
        after.trim_start()
    } else {
        let rest = t.strip_prefix("EIP:")?;
        rest.strip_prefix([' ', '\t'])?.trim_start()
    };
    if !rest.starts_with("[<") {
        return None;
    }
    let rest = rest.split(" SS:ESP").next().unwrap_or(rest);
    match parse_trace_line(rest)? {
        TraceLine::Frame(f) => Some(f),
        _ => None,
    }
}

/// ABRT's koops duphash (`abrt_koops_hash_str`, KOOPS_COMPAT): SHA-1 of the first six
/// reliable frames' names, each followed by a newline. `None` without reliable frames.
pub(crate) fn abrt_duphash(frames: &[Frame]) -> Option<String> {
    let mut text = String::new();
    let mut count = 0;
    for f in frames.iter().filter(|f| f.reliable).take(ABRT_FRAMES) {
        text.push_str(&f.function);
        text.push('\n');
        count += 1;
    }
    if count == 0 {
        return None;
    }
    Some(hex::encode(Sha1::digest(text.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::split_lines;

    #[test]
    fn chromeos_hash_matches_hand_computation() {
        let log = "<4>[   10.000000] RIP: 0010:my_func+0x12/0x40 [mymod]\n\
                   <4>[   10.000001] Call Trace:\n\
                   <4>[   10.000002]  ? __die+0x23/0x70\n\
                   <4>[   10.000003]  ab+0x1/0x2\n\
                   <4>[   10.000004]  c+0x1/0x2\n";
        let lines = split_lines(log);
        // h("ab|c") with h = h*16127 + c.
        let mut h: u32 = 0;
        for c in b"ab|c" {
            h = h.wrapping_mul(16127).wrapping_add(u32::from(*c));
        }
        assert_eq!(
            chromeos_signature(&lines),
            format!("kernel-my_func-{h:08X}")
        );
    }

    #[test]
    fn chromeos_lockup_takes_the_first_stack_after_the_report() {
        let log = "<4>[ 1.0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [sh:1]\n\
                   <4>[ 1.0] Call Trace:\n<4>[ 1.0]  schedule+0x1/0x2\n<4>[ 1.0]  spin+0x1/0x2\n\
                   <0>[ 2.0] Kernel panic - not syncing: softlockup: hung tasks\n\
                   <4>[ 2.0] Call Trace:\n<4>[ 2.0]  watchdog_timer_fn+0x1/0x2\n";
        let sig = chromeos_signature(&split_lines(log));
        let mut h: u32 = 0;
        for c in b"schedule|spin" {
            h = h.wrapping_mul(16127).wrapping_add(u32::from(*c));
        }
        assert_eq!(sig, format!("kernel-(SOFTLOCKUP)-spin-{h:08X}"));
    }

    #[test]
    fn chromeos_skips_warnings_and_falls_back_to_the_panic_message() {
        let log = "<4>[ 1.0] WARNING: CPU: 0 PID: 1 at a.c:1 w+0x1/0x2\n\
                   <4>[ 1.0] RIP: 0010:w+0x1/0x2\n<4>[ 1.0] Call Trace:\n<4>[ 1.0]  x+0x1/0x2\n\
                   <0>[ 1.1] Kernel panic - not syncing: kernel: panic_on_warn set ...\n";
        let sig = chromeos_signature(&split_lines(log));
        assert_eq!(sig, "kernel-kernel: panic_on_warn set ...-00000000");
    }

    #[test]
    fn chromeos_uncertain_frames_only_when_nothing_else() {
        let log = "<4>[ 5.0] Call Trace:\n<4>[ 5.0]  ? a+0x1/0x2\n<4>[ 5.0]  ? b+0x1/0x2\n";
        let mut h: u32 = 0;
        for c in b"a|b" {
            h = h.wrapping_mul(16127).wrapping_add(u32::from(*c));
        }
        assert_eq!(
            chromeos_signature(&split_lines(log)),
            format!("kernel--{h:08X}")
        );
    }

    #[test]
    fn chromeos_i386_pc_and_unstamped_panic() {
        let log = "<0>[  180.492137] EIP: [<790e22a4>] write_breakme+0x80/0x108 SS:ESP 0068:aa3e9efc\n\
                   <0>[  180.502026] Kernel panic - not syncing: Fatal exception\n";
        assert_eq!(
            chromeos_signature(&split_lines(log)),
            "kernel-write_breakme-00000000"
        );
        // crash_reporter's patterns need the timestamp: an unstamped panic line is no message.
        let log =
            "<1>[  378.858760]  double_func+0x4/0x14\nKernel panic - not syncing: bad panic\n";
        assert!(chromeos_signature(&split_lines(log)).starts_with("kernel-double_func-"));
    }

    #[test]
    fn chromeos_empty() {
        assert_eq!(
            chromeos_signature(&split_lines("nothing here\n")),
            "kernel-UnspecifiedStackSignature"
        );
    }

    #[test]
    fn abrt_reads_frames_as_satyr_does() {
        let log = "BUG: unable to handle kernel NULL pointer dereference at 00000010\n\
                   EIP: 0060:[<f88dec25>] EFLAGS: 00213246 CPU: 1\n\
                   Call Trace:\n \
                   [<f88df84c>] ? radeon_cp_resume+0x7d/0xbc [radeon]\n \
                   [<f88df84c>] radeon_cp_resume+0x7d/0xbc [radeon]\n \
                   [<f882ed93>] drm_ioctl+0x1b0/0x225 [drm]\n\
                   EIP: [<f88dec25>] radeon_cp_init_ring_buffer+0x90/0x302 [radeon] SS:ESP 0068:f0a0cf08\n";
        let lines = split_lines(log);
        let names: Vec<String> = abrt_frames(&lines, 0..lines.len())
            .into_iter()
            .filter(|f| f.reliable)
            .map(|f| f.function)
            .collect();
        assert_eq!(
            names,
            [
                "radeon_cp_init_ring_buffer",
                "radeon_cp_resume",
                "drm_ioctl"
            ]
        );
        // Today's RIP line is no IP line for satyr.
        let lines = split_lines("RIP: 0010:f+0x1/0x2\nCall Trace:\n g+0x1/0x2\n");
        let names: Vec<String> = abrt_frames(&lines, 0..lines.len())
            .into_iter()
            .map(|f| f.function)
            .collect();
        assert_eq!(names, ["g"]);
    }

    #[test]
    fn abrt_hash() {
        let f = |n: &str, reliable| Frame {
            function: n.into(),
            offset: None,
            size: None,
            module: None,
            reliable,
            context: None,
        };
        let frames = [f("x", false), f("a", true), f("b", true)];
        assert_eq!(
            abrt_duphash(&frames).unwrap(),
            hex::encode(Sha1::digest(b"a\nb\n"))
        );
        assert_eq!(abrt_duphash(&[f("x", false)]), None);
    }
}
