//! The `CPU: 0 PID: 1 Comm: x Tainted: G O 6.1.0-56-amd64 #1 Debian 6.1.192-2` line
//! (lib/dump_stack.c) and the taint letters it carries.

use crate::model::Taint;

/// What the CPU line says.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct CpuLine {
    pub cpu: Option<u32>,
    pub pid: Option<u32>,
    pub comm: Option<String>,
    pub taint: Option<Taint>,
    pub release: Option<String>,
    pub build: Option<String>,
}

/// Parses a CPU line; `None` when `text` is not one.
pub(crate) fn parse_cpu_line(text: &str) -> Option<CpuLine> {
    let t = text.trim_start();
    let rest = t.strip_prefix("CPU: ")?;
    let (cpu, rest) = number_then(rest)?;
    let rest = rest.trim_start();
    // ≈6.11 added `UID: n` before the PID.
    let rest = match rest.strip_prefix("UID: ") {
        Some(r) => number_then(r)?.1.trim_start(),
        None => rest,
    };
    let rest = rest.strip_prefix("PID: ")?;
    let (pid, rest) = number_then(rest)?;
    let rest = rest.trim_start().strip_prefix("Comm: ")?;
    // The comm may contain spaces; the taint state words are what ends it.
    let (comm, state) = [" Kdump: loaded ", " Tainted: ", " Not tainted"]
        .iter()
        .filter_map(|m| rest.find(m))
        .min()
        .map(|at| (&rest[..at], rest[at..].trim_start()))
        .unwrap_or((rest, ""));
    let state = state.strip_prefix("Kdump: loaded ").unwrap_or(state);
    let mut line = CpuLine {
        cpu: Some(cpu),
        pid: Some(pid),
        comm: Some(comm.to_owned()),
        ..CpuLine::default()
    };
    let (taint, release, build) = parse_taint_release(state);
    line.taint = taint;
    line.release = release;
    line.build = build;
    Some(line)
}

/// The hung-task report's `      Tainted: G O 6.1.0 #1 ...` / `      Not tainted 6.1.0 ...`
/// line, which stands alone.
pub(crate) fn parse_taint_line(
    text: &str,
) -> Option<(Option<Taint>, Option<String>, Option<String>)> {
    let t = text.trim_start();
    if !(t.starts_with("Tainted: ") || t.starts_with("Not tainted ")) {
        return None;
    }
    // The verbose ≈6.11 `Tainted: [W]=WARN, ...` line carries no release.
    if t.starts_with("Tainted: [") {
        return None;
    }
    let parsed = parse_taint_release(t);
    parsed.1.as_ref()?;
    Some(parsed)
}

/// `Tainted: G   W  OE   6.12.0 #1 ...` or `Not tainted 6.12.0 #1 ...`.
fn parse_taint_release(state: &str) -> (Option<Taint>, Option<String>, Option<String>) {
    let (taint, after) = if let Some(rest) = state.strip_prefix("Not tainted") {
        (
            Some(Taint {
                raw: String::new(),
                flags: Vec::new(),
            }),
            rest,
        )
    } else if let Some(rest) = state.strip_prefix("Tainted: ") {
        // One character per taint bit, a space when clear; the release is the first word
        // that is not made of taint letters.
        let mut raw = String::new();
        let mut remaining = rest;
        loop {
            let trimmed = remaining.trim_start();
            let word_end = trimmed.find(' ').unwrap_or(trimmed.len());
            let word = &trimmed[..word_end];
            let is_taint = |c: char| c == 'G' || TAINTS.iter().any(|(l, _)| *l == c);
            if !word.is_empty() && word.chars().all(is_taint) {
                raw.push_str(word);
                remaining = &trimmed[word_end..];
            } else {
                remaining = trimmed;
                break;
            }
        }
        let flags = raw
            .chars()
            .filter_map(taint_name)
            .map(str::to_owned)
            .collect();
        (Some(Taint { raw, flags }), remaining)
    } else {
        (None, state)
    };
    let after = after.trim();
    if after.is_empty() {
        return (taint, None, None);
    }
    let (release, build) = match after.split_once(' ') {
        Some((r, b)) => (r, strip_preempt_model(b.trim())),
        None => (after, ""),
    };
    // Debian pads `#1  Debian 6.1.192-2` with two spaces; one is what people type.
    let build = build.split_whitespace().collect::<Vec<_>>().join(" ");
    let build = (!build.is_empty()).then_some(build);
    (taint, Some(release.to_owned()), build)
}

/// Newest kernels append the preemption model, `PREEMPT(voluntary)`, after the version.
fn strip_preempt_model(build: &str) -> &str {
    match build.rsplit_once(' ') {
        Some((head, last)) if last.starts_with("PREEMPT(") && last.ends_with(')') => {
            head.trim_end()
        }
        _ => build,
    }
}

fn number_then(s: &str) -> Option<(u32, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n = s[..end].parse().ok()?;
    Some((n, &s[end..]))
}

/// Taint letters and the kernel's names for them (kernel/panic.c `taint_flags`). `G` is the
/// "not proprietary" placeholder of bit 0 and names nothing.
const TAINTS: [(char, &str); 19] = [
    ('P', "PROPRIETARY_MODULE"),
    ('F', "FORCED_MODULE"),
    ('S', "CPU_OUT_OF_SPEC"),
    ('R', "FORCED_RMMOD"),
    ('M', "MACHINE_CHECK"),
    ('B', "BAD_PAGE"),
    ('U', "USER"),
    ('D', "DIE"),
    ('A', "OVERRIDDEN_ACPI_TABLE"),
    ('W', "WARN"),
    ('C', "CRAP"),
    ('I', "FIRMWARE_WORKAROUND"),
    ('O', "OOT_MODULE"),
    ('E', "UNSIGNED_MODULE"),
    ('L', "SOFTLOCKUP"),
    ('K', "LIVEPATCH"),
    ('X', "AUX"),
    ('T', "RANDSTRUCT"),
    ('N', "TEST"),
];

fn taint_name(letter: char) -> Option<&'static str> {
    TAINTS.iter().find(|(l, _)| *l == letter).map(|(_, n)| *n)
}

/// `Linux version 6.1.0-56-amd64 (debian-kernel@...) ...`: the release of the boot banner.
pub(crate) fn banner_release(text: &str) -> Option<String> {
    let rest = text.trim_start().strip_prefix("Linux version ")?;
    let release = rest.split(' ').next()?;
    (!release.is_empty()).then(|| release.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_cpu_line() {
        let l = parse_cpu_line(
            "CPU: 0 PID: 1 Comm: x Tainted: G           O       6.1.0-56-amd64 #1 Debian 6.1.192-2",
        )
        .unwrap();
        assert_eq!((l.cpu, l.pid), (Some(0), Some(1)));
        assert_eq!(l.comm.as_deref(), Some("x"));
        assert_eq!(l.release.as_deref(), Some("6.1.0-56-amd64"));
        assert_eq!(l.build.as_deref(), Some("#1 Debian 6.1.192-2"));
        let t = l.taint.unwrap();
        assert_eq!(t.raw, "GO");
        assert_eq!(t.flags, vec!["OOT_MODULE"]);
    }

    #[test]
    fn uid_kdump_and_comm_with_space() {
        let l = parse_cpu_line(
            "CPU: 3 UID: 0 PID: 1234 Comm: Web Content Kdump: loaded Tainted: G        W  OE      6.12.0 #1 PREEMPT(voluntary)",
        )
        .unwrap();
        assert_eq!(l.comm.as_deref(), Some("Web Content"));
        assert_eq!(l.pid, Some(1234));
        assert_eq!(l.build.as_deref(), Some("#1"));
        assert_eq!(
            l.taint.unwrap().flags,
            vec!["WARN", "OOT_MODULE", "UNSIGNED_MODULE"]
        );
    }

    #[test]
    fn not_tainted() {
        let l = parse_cpu_line("CPU: 1 PID: 0 Comm: swapper/1 Not tainted 6.1.0 #1 SMP").unwrap();
        assert_eq!(l.taint.unwrap().raw, "");
        assert_eq!(l.release.as_deref(), Some("6.1.0"));
        assert_eq!(l.build.as_deref(), Some("#1 SMP"));
    }

    #[test]
    fn standalone_taint_line() {
        let (t, r, b) = parse_taint_line(
            "      Tainted: G           OE      6.1.0-56-amd64 #1 Debian 6.1.192-2",
        )
        .unwrap();
        assert_eq!(t.unwrap().raw, "GOE");
        assert_eq!(r.as_deref(), Some("6.1.0-56-amd64"));
        assert_eq!(b.as_deref(), Some("#1 Debian 6.1.192-2"));
        assert!(parse_taint_line("Tainted: [W]=WARN, [O]=OOT_MODULE").is_none());
    }

    #[test]
    fn garbage_cpu_lines() {
        assert!(parse_cpu_line("CPU: x PID: 1").is_none());
        assert!(parse_cpu_line("CPU: 1 PID: 2").is_none());
        let l = parse_cpu_line("CPU: 1 PID: 2 Comm: a").unwrap();
        assert_eq!(l.release, None);
    }
}
