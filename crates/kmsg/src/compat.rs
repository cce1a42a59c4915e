//! Signatures of other crash pipelines, computed the way they compute them so that reports
//! can be joined with theirs: ChromeOS crash_reporter (`kernel-<func>-<%08X>`) and ABRT's
//! koops duphash. Both are applied to the prefix-stripped lines.

use sha1::{Digest, Sha1};

use crate::line::Line;
use crate::model::Frame;

/// ChromeOS truncates the human part to this many bytes.
const CHROMEOS_HUMAN_MAX: usize = 40;
/// ABRT hashes this many frames.
const ABRT_FRAMES: usize = 6;

/// crash_reporter's `ComputeKernelStackSignature` over a whole log.
pub(crate) fn chromeos_signature(lines: &[Line<'_>]) -> String {
    let mut previous: Vec<&str> = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    let mut header_ts: Option<f64> = None;
    let mut last_pc: Option<(&str, Option<f64>)> = None;
    let mut panic_message: Option<&str> = None;
    for line in lines {
        let t = line.text;
        let trimmed = t.trim();
        let lower_header = trimmed.eq_ignore_ascii_case("call trace:")
            || trimmed.eq_ignore_ascii_case("backtrace:");
        if lower_header {
            if let Some(c) = current.take() {
                previous = c;
            }
            current = Some(Vec::new());
            header_ts = line.ts;
            continue;
        }
        if let Some(name) = chromeos_pc(trimmed) {
            last_pc = Some((name, line.ts));
        }
        if let Some(at) = t.find("Kernel panic") {
            let rest = &t[at..];
            if let Some(colon) = rest.find(':') {
                panic_message = Some(rest[colon + 1..].trim());
            }
        }
        if let Some(stack) = current.as_mut()
            && let Some((name, reliable)) = chromeos_frame(t)
            && reliable
        {
            stack.push(name);
        }
    }
    let mut stack = current.unwrap_or_default();
    let hang = stack.is_empty() || stack.iter().any(|n| n.contains("watchdog"));
    if hang {
        stack = previous;
    }
    // The PC names the crash only when it was printed with the last stack.
    let near = |pc_ts: Option<f64>| match (pc_ts, header_ts) {
        (Some(a), Some(b)) => (a - b).abs() <= 2.0,
        _ => true,
    };
    let human = last_pc
        .filter(|(_, ts)| near(*ts))
        .map(|(name, _)| name)
        .or(panic_message)
        .map(|h| truncate(h, CHROMEOS_HUMAN_MAX))
        .unwrap_or_default();
    let hash = stack
        .iter()
        .enumerate()
        .flat_map(|(i, name)| {
            let sep: &[u8] = if i == 0 { b"" } else { b"|" };
            sep.iter().chain(name.as_bytes())
        })
        .fold(0u32, |h, &c| {
            h.wrapping_mul(16127).wrapping_add(u32::from(c))
        });
    if human.is_empty() && stack.is_empty() {
        return "kernel-UnspecifiedStackSignature".to_owned();
    }
    let hang_tag = if hang && !stack.is_empty() {
        "(HANG)-"
    } else {
        ""
    };
    format!("kernel-{hang_tag}{human}-{hash:08X}")
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

/// crash_reporter's PC regexes: x86_64 `RIP: xxxx:func+0x`, arm `pc : func` / `PC is at func`.
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
    let rest = t
        .strip_prefix("pc : ")
        .or_else(|| t.strip_prefix("PC is at "))?;
    let end = rest.find(['+', '[', ' ']).unwrap_or(rest.len());
    let name = &rest[..end];
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
    fn chromeos_watchdog_falls_back_to_previous_stack() {
        let log = "<4>[ 1.0] Call Trace:\n<4>[ 1.0]  spin+0x1/0x2\n\
                   <0>[ 2.0] Kernel panic - not syncing: softlockup: hung tasks\n\
                   <4>[ 2.0] Call Trace:\n<4>[ 2.0]  watchdog_timer_fn+0x1/0x2\n";
        let sig = chromeos_signature(&split_lines(log));
        assert!(
            sig.starts_with("kernel-(HANG)-softlockup: hung tasks-"),
            "{sig}"
        );
    }

    #[test]
    fn chromeos_empty() {
        assert_eq!(
            chromeos_signature(&split_lines("nothing here\n")),
            "kernel-UnspecifiedStackSignature"
        );
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
