//! The end of the crashed boot's journal (`journalctl -b -1 -n N -o short-monotonic`), taken
//! only when the journal's previous boot is the one that crashed: its first entry comes before
//! the crash and this boot's first entry after it. Without a crash time, or with a journal that
//! keeps no previous boot (not persistent), the tail is missing with the reason, never a guess.

use std::collections::BTreeMap;

use report::{ContextItem, ContextKind, Describes};
use serde::Deserialize;

use super::runner::Runner;

/// The tail kept in a report at most, whatever the line count: the end of the log matters.
pub const MAX_BYTES: usize = 256 << 10;

/// Enough for years of boots in `--list-boots`.
const LIST_LIMIT: usize = 4 << 20;

/// The file name inside the report's context folder.
pub const FILE: &str = "journal-tail.txt";

/// One entry of `journalctl --list-boots -o json` (systemd 251 and later).
#[derive(Debug, Deserialize)]
struct Boot {
    index: i64,
    boot_id: String,
    /// Microseconds since the epoch.
    first_entry: u64,
    last_entry: u64,
}

/// The tail as an item and the file's text, or a missing item.
pub fn collect(
    lines: u32,
    crash_time: Option<i64>,
    runner: &dyn Runner,
) -> (ContextItem, Option<Vec<u8>>) {
    match tail(lines, crash_time, runner) {
        Ok((facts, text)) => (
            ContextItem::collected(ContextKind::JournalTail, Describes::CrashedBoot, facts),
            Some(text),
        ),
        Err(why) => (
            ContextItem::missing(ContextKind::JournalTail, Describes::CrashedBoot, why),
            None,
        ),
    }
}

fn tail(
    lines: u32,
    crash_time: Option<i64>,
    runner: &dyn Runner,
) -> Result<(BTreeMap<String, String>, Vec<u8>), String> {
    let crash_time = crash_time
        .ok_or("the crash time is unknown, so no journal boot can be matched to the crash")?;
    let listed = runner.run(
        "journalctl",
        &["--list-boots", "-o", "json", "--no-pager"],
        LIST_LIMIT,
    )?;
    if listed.dropped > 0 {
        return Err("journalctl --list-boots: the boot list is too long to read".to_string());
    }
    let boots: Vec<Boot> = serde_json::from_slice(&listed.stdout)
        .map_err(|e| format!("journalctl --list-boots -o json: unexpected output ({e})"))?;
    let previous = crashed_boot(&boots, crash_time)?;
    let count = lines.to_string();
    let out = runner.run(
        "journalctl",
        &[
            "-b",
            &previous.boot_id,
            "-n",
            &count,
            "-o",
            "short-monotonic",
            "--no-pager",
            "-q",
        ],
        MAX_BYTES,
    )?;
    let mut text = out.stdout;
    let mut dropped = out.dropped;
    if dropped > 0 {
        // Start at a whole line.
        let cut = text
            .iter()
            .position(|b| *b == b'\n')
            .map_or(text.len(), |at| at + 1);
        text.drain(..cut);
        dropped += cut as u64;
    }
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err("the journal's previous boot has no entries".to_string());
    }
    let mut facts = BTreeMap::from([
        ("boot".to_string(), "-1".to_string()),
        (
            "lines".to_string(),
            text.iter().filter(|b| **b == b'\n').count().to_string(),
        ),
    ]);
    if dropped > 0 {
        facts.insert("bytes-left-out".to_string(), dropped.to_string());
    }
    Ok((facts, text))
}

/// The journal's boot -1, when the crash at `crash_time` (Unix seconds) happened in it.
fn crashed_boot(boots: &[Boot], crash_time: i64) -> Result<&Boot, String> {
    let find = |index| boots.iter().find(|b| b.index == index);
    let previous = find(-1).ok_or(
        "the journal keeps no previous boot (a journal that is not persistent forgets it: \
         /var/log/journal)",
    )?;
    let crash = i128::from(crash_time) * 1_000_000;
    let started = i128::from(previous.first_entry);
    // The crash came after the previous boot's first entry, and before this boot's first.
    let this_boot = find(0).map(|b| i128::from(b.first_entry));
    if crash < started || this_boot.is_some_and(|first| crash > first) {
        return Err(format!(
            "the crash ({}) is not in the journal's previous boot ({} to {})",
            utc(crash),
            utc(started),
            utc(i128::from(previous.last_entry)),
        ));
    }
    Ok(previous)
}

fn utc(micros: i128) -> String {
    i64::try_from(micros / 1_000_000)
        .ok()
        .and_then(|secs| jiff::Timestamp::from_second(secs).ok())
        .map_or_else(
            || "?".to_string(),
            |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::super::runner::fake::Fake;
    use super::*;

    const LIST: &str = "journalctl --list-boots -o json --no-pager";
    const TAIL: &str = "journalctl -b 5a1e -n 3 -o short-monotonic --no-pager -q";

    /// Boot -1 from 1000 to 2000 s, boot 0 from 2100 s.
    fn boots() -> String {
        r#"[{"index":-2,"boot_id":"0ld","first_entry":100000000,"last_entry":900000000},
            {"index":-1,"boot_id":"5a1e","first_entry":1000000000,"last_entry":2000000000},
            {"index":0,"boot_id":"c0de","first_entry":2100000000,"last_entry":2200000000}]"#
            .to_string()
    }

    fn journal(tail: &str) -> Fake {
        Fake(vec![
            (LIST.into(), Ok(boots())),
            (TAIL.into(), Ok(tail.to_string())),
        ])
    }

    #[test]
    fn the_previous_boots_tail_when_it_crashed() {
        let text = "[  10.1] host a: x\n[  10.2] host b: y\n[  10.3] host c: z\n";
        let (item, file) = collect(3, Some(2050), &journal(text));
        assert!(item.is_collected(), "{item:?}");
        assert_eq!(item.describes, Describes::CrashedBoot);
        assert_eq!(item.facts["lines"], "3");
        assert_eq!(file.unwrap(), text.as_bytes());
    }

    #[test]
    fn a_crash_outside_the_previous_boot_gets_no_tail() {
        for crash in [500, 2150] {
            let (item, file) = collect(3, Some(crash), &journal("x\n"));
            let reason = item.missing.unwrap();
            assert!(reason.starts_with("the crash (1970-01-01T00:"), "{reason}");
            assert!(
                reason.contains("is not in the journal's previous boot"),
                "{reason}"
            );
            assert!(file.is_none());
        }
        let (item, _) = collect(3, None, &journal("x\n"));
        assert!(
            item.missing
                .unwrap()
                .starts_with("the crash time is unknown")
        );
    }

    #[test]
    fn a_volatile_journal_or_no_journalctl_is_a_reason() {
        let only_this_boot = r#"[{"index":0,"boot_id":"c0de","first_entry":1,"last_entry":2}]"#;
        let fake = Fake(vec![(LIST.into(), Ok(only_this_boot.into()))]);
        let (item, _) = collect(3, Some(2050), &fake);
        assert!(
            item.missing
                .unwrap()
                .starts_with("the journal keeps no previous boot")
        );
        let (item, _) = collect(3, Some(2050), &Fake(vec![]));
        assert_eq!(item.missing.unwrap(), "journalctl: not found");
        let garbage = Fake(vec![(LIST.into(), Ok("-1 5a1e Tue ...".into()))]);
        let (item, _) = collect(3, Some(2050), &garbage);
        assert!(item.missing.unwrap().contains("unexpected output"));
    }

    #[test]
    fn a_long_tail_keeps_whole_lines_from_the_end() {
        let line = "x".repeat(99) + "\n";
        let text = line.repeat(MAX_BYTES / 100 + 10);
        let (item, file) = collect(3, Some(2050), &journal(&text));
        let file = file.unwrap();
        assert!(file.len() <= MAX_BYTES);
        assert!(file.starts_with(line.as_bytes()) && file.ends_with(b"\n"));
        let left_out: usize = item.facts["bytes-left-out"].parse().unwrap();
        assert_eq!(left_out + file.len(), text.len());
    }
}
