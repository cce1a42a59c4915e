//! `status` as one screen of text: a verdict line, one line per area, then the problems.

use super::verdict::{Severity, Status};
use crate::commands::selftest::state::Outcome;

/// `extra` rows (key, value) go after the built-in ones, before the problems.
pub fn text(status: &Status, extra: &[(&str, String)]) -> String {
    let mut out = Vec::new();
    let verdict = if status.armed { "ARMED" } else { "NOT ARMED" };
    let pstore_part = status
        .pstore
        .backend
        .as_deref()
        .or(status.pstore.registered.as_deref())
        .map_or("pstore".to_string(), |b| format!("pstore through {b}"));
    let what = match (status.pstore.wanted, status.kdump.wanted) {
        (true, true) => format!("{pstore_part} and kdump"),
        (true, false) => pstore_part,
        (false, true) => "kdump".to_string(),
        (false, false) => String::new(),
    };
    let what = match (status.armed, what.is_empty()) {
        (_, true) => String::new(),
        (true, false) => format!(": {what}"),
        (false, false) => format!(" (wanted: {what})"),
    };
    out.push(format!("lastgasp: {verdict}{what}"));
    let row = |out: &mut Vec<String>, key: &str, value: String| {
        out.push(format!("  {key:<12} {value}"));
    };
    row(
        &mut out,
        "mode",
        match (&status.mode, status.set_up) {
            (Some(mode), true) => format!(
                "{mode} (setup.json, bootloader {})",
                status.bootloader.as_deref().unwrap_or("?")
            ),
            (Some(mode), false) => format!("{mode} (armed by hand; setup has not run)"),
            (None, _) => "none (setup has not run)".into(),
        },
    );
    let pstore = &status.pstore;
    let backend = match (&pstore.backend, &pstore.registered) {
        (Some(wanted), Some(now)) => format!("{now} registered (setup chose {wanted})"),
        (Some(wanted), None) => format!("none registered (setup chose {wanted})"),
        (None, Some(now)) => format!("{now} registered"),
        (None, None) if pstore.wanted => "none registered".into(),
        (None, None) => "none registered (not wanted)".into(),
    };
    row(&mut out, "pstore", backend);
    if let Some(region) = &pstore.region {
        let place = match &region.mem_name {
            Some(name) => format!("reserve_mem {name} at {:#x}", region.address),
            None => format!(
                "{:#x}-{:#x}",
                region.address,
                region.address + region.size.saturating_sub(1)
            ),
        };
        let iomem = region
            .iomem
            .as_deref()
            .map_or(String::new(), |n| format!(", /proc/iomem: {n}"));
        row(
            &mut out,
            "region",
            format!(
                "{place} ({}, records of {}{iomem})",
                human(region.size),
                human(region.record_size)
            ),
        );
    }
    row(
        &mut out,
        "records",
        match pstore.records_waiting.len() {
            0 => "none waiting in pstore".into(),
            n => format!(
                "{n} waiting in pstore: {}",
                pstore.records_waiting.join(" ")
            ),
        },
    );
    let kdump = &status.kdump;
    let reserved = match kdump.reserved_bytes {
        None => "no crash kernel support".to_string(),
        Some(0) => "nothing reserved".to_string(),
        Some(bytes) => format!("{} reserved", human(bytes)),
    };
    let needed = kdump
        .needed_bytes
        .map_or(String::new(), |n| format!(", {} needed", human(n)));
    let loaded = match kdump.loaded {
        Some(true) => "capture kernel loaded",
        Some(false) => "capture kernel not loaded",
        None => "capture kernel unknown",
    };
    let wanted = if kdump.wanted { "" } else { " (not wanted)" };
    row(
        &mut out,
        "kdump",
        format!("{reserved}{needed}; {loaded}{wanted}"),
    );
    if kdump.captures_waiting > 0 {
        row(
            &mut out,
            "captures",
            format!("{} waiting to be saved", kdump.captures_waiting),
        );
    }
    let cmdline = &status.cmdline;
    row(
        &mut out,
        "cmdline",
        match (cmdline.wanted.len(), cmdline.missing.len()) {
            (0, _) => "setup wrote no parameters".into(),
            (n, 0) => format!("all {n} parameters setup wrote are in effect"),
            (n, m) => format!(
                "{m} of {n} parameters setup wrote are missing: {}",
                cmdline.missing.join(" ")
            ),
        },
    );
    if !status.sysctl.is_empty() {
        let differ: Vec<&str> = status
            .sysctl
            .iter()
            .filter(|s| s.in_effect.as_deref() != Some(s.wanted.as_str()))
            .map(|s| s.name.as_str())
            .collect();
        row(
            &mut out,
            "sysctl",
            if differ.is_empty() {
                format!("all {} as setup wants", status.sysctl.len())
            } else {
                format!(
                    "{} of {} differ: {}",
                    differ.len(),
                    status.sysctl.len(),
                    differ.join(" ")
                )
            },
        );
    }
    if let Some(guard) = &status.crash_loop {
        let g = &guard.guard;
        row(
            &mut out,
            "crash loop",
            match (g.active, g.limit) {
                (_, 0) => "guard off ([load] crash_loop_boots = 0)".to_string(),
                (true, _) => format!(
                    "ACTIVE: {} unclean boot ends in a row, pstore only",
                    g.unclean_in_a_row
                ),
                (false, limit) => format!(
                    "not tripped ({} of {limit} unclean boot ends in a row, {} boots recorded)",
                    g.unclean_in_a_row, guard.boots_recorded
                ),
            },
        );
    }
    row(
        &mut out,
        "last crash",
        match &status.last_crash {
            Some(c) => format!(
                "{} at {}: {}",
                c.id,
                c.time.as_deref().unwrap_or("unknown time"),
                c.signature.as_deref().unwrap_or("no signature")
            ),
            None => "none collected".into(),
        },
    );
    row(
        &mut out,
        "selftest",
        match &status.selftest {
            None => "never run".into(),
            Some(s) => match s.outcome {
                Outcome::Pending => {
                    format!("{} pending ({}, started {})", s.id, s.backend, s.started)
                }
                outcome => format!(
                    "{} {} ({}, {}): {}",
                    s.id,
                    outcome.name(),
                    s.backend,
                    s.settled.as_deref().unwrap_or(&s.started),
                    s.detail.as_deref().unwrap_or("no detail")
                ),
            },
        },
    );
    for (key, value) in extra {
        row(&mut out, key, value.clone());
    }
    if status.problems.is_empty() {
        out.push("no problems".into());
    } else {
        out.push("problems:".into());
        for p in &status.problems {
            let mark = match p.severity {
                Severity::Blocking => "!",
                Severity::Warning => "-",
            };
            out.push(format!("  {mark} {}. Fix: {}.", p.problem, p.fix));
        }
    }
    out.join("\n") + "\n"
}

/// Bytes in the largest binary unit that keeps them whole (or MiB with one decimal).
pub fn human(bytes: u64) -> String {
    const UNITS: [(u32, &str); 3] = [(30, "GiB"), (20, "MiB"), (10, "KiB")];
    for (shift, unit) in UNITS {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    if bytes >= 1 << 20 {
        return format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20));
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(1 << 20), "1 MiB");
        assert_eq!(human(64 << 10), "64 KiB");
        assert_eq!(human(256 << 20), "256 MiB");
        assert_eq!(human(3 << 29), "1536 MiB");
        assert_eq!(human((1 << 20) + 1), "1.0 MiB");
        assert_eq!(human(100), "100 bytes");
    }
}
