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

/// One boot of `journalctl --list-boots`.
#[derive(Debug, Deserialize)]
struct Boot {
    #[serde(alias = "idx")]
    index: i64,
    boot_id: String,
    /// Microseconds since the epoch.
    first_entry: u64,
    last_entry: u64,
}

/// The boot list, as JSON (systemd's table output: Debian 12's systemd 252 has it, with the
/// index as `index`) or as the text older releases print whatever `-o` says (`-1 <32 hex> Tue
/// 2026-12-01 07:00:01 UTC—Tue 2026-12-01 07:40:00 UTC`, with `--utc`).
fn parse_boots(output: &[u8]) -> Result<Vec<Boot>, String> {
    let text = String::from_utf8_lossy(output);
    let unexpected = |why: String| format!("journalctl --list-boots: unexpected output ({why})");
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text).map_err(|e| unexpected(e.to_string()));
    }
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| parse_boot_line(line).ok_or_else(|| unexpected(format!("{line:?}"))))
        .collect()
}

fn parse_boot_line(line: &str) -> Option<Boot> {
    let mut words = line.split_whitespace();
    let index = words.next()?.parse().ok()?;
    let boot_id = words.next()?.to_string();
    let rest: Vec<&str> = words.collect();
    let joined = rest.join(" ");
    let (first, last) = joined.split_once('—')?;
    Some(Boot {
        index,
        boot_id,
        first_entry: utc_micros(first)?,
        last_entry: utc_micros(last)?,
    })
}

/// `Tue 2026-12-01 07:00:01 UTC` in microseconds since the epoch.
fn utc_micros(text: &str) -> Option<u64> {
    let mut words = text.split_whitespace();
    let (_weekday, date, time, zone) = (words.next()?, words.next()?, words.next()?, words.next()?);
    if zone != "UTC" || words.next().is_some() {
        return None;
    }
    let stamp: jiff::Timestamp = format!("{date}T{time}Z").parse().ok()?;
    u64::try_from(stamp.as_microsecond()).ok()
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
        &["--list-boots", "--utc", "-o", "json", "--no-pager"],
        LIST_LIMIT,
    )?;
    if listed.dropped > 0 {
        return Err("journalctl --list-boots: the boot list is too long to read".to_string());
    }
    let boots = parse_boots(&listed.stdout)?;
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

    const LIST: &str = "journalctl --list-boots --utc -o json --no-pager";
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
    fn an_older_systemds_text_boot_list_is_read_too() {
        // What --list-boots --utc prints on releases before systemd's table output.
        let text = "-1 5a1e Thu 1970-01-01 00:16:40 UTC—Thu 1970-01-01 00:33:20 UTC\n \
                    0 c0de Thu 1970-01-01 00:35:00 UTC—Thu 1970-01-01 00:36:40 UTC\n";
        let boots = parse_boots(text.as_bytes()).unwrap();
        assert_eq!(boots.len(), 2);
        assert_eq!((boots[0].index, boots[0].boot_id.as_str()), (-1, "5a1e"));
        assert_eq!(boots[0].first_entry, 1_000_000_000);
        assert_eq!(boots[1].first_entry, 2_100_000_000);
        let fake = Fake(vec![
            (LIST.into(), Ok(text.into())),
            (TAIL.into(), Ok("x\n".into())),
        ]);
        let (item, file) = collect(3, Some(2050), &fake);
        assert!(item.is_collected(), "{item:?}");
        assert_eq!(file.unwrap(), b"x\n");
        let old_json = r#"[{"idx":-1,"boot_id":"5a1e","first_entry":1,"last_entry":2}]"#;
        assert_eq!(parse_boots(old_json.as_bytes()).unwrap()[0].index, -1);
        let local = "-1 5a1e Thu 1970-01-01 01:16:40 CET—Thu 1970-01-01 01:33:20 CET\n";
        assert!(parse_boots(local.as_bytes()).is_err());
    }

    /// The real journalctl, on a journal directory a test made.
    struct OnDirectory(std::path::PathBuf);

    impl Runner for OnDirectory {
        fn run(
            &self,
            program: &str,
            args: &[&str],
            limit: usize,
        ) -> Result<super::super::runner::Output, String> {
            let dir = self.0.display().to_string();
            let all: Vec<&str> = ["-D", dir.as_str()]
                .into_iter()
                .chain(args.iter().copied())
                .collect();
            super::super::runner::run_bounded(
                program,
                &all,
                limit,
                std::time::Duration::from_secs(30),
            )
        }
    }

    /// A journal of two boots written by systemd-journal-remote from journal export text: boot
    /// ...0a from 1000 s to 2000 s (five kernel lines on host "labhost"), boot ...0b from 2100 s.
    fn real_journal() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let mut export = String::new();
        let boots = [(0xa, 1000, 5, 250), (0xb, 2100, 3, 10)];
        for (boot, start, lines, step) in boots {
            for line in 0..lines {
                export.push_str(&format!(
                    "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID={boot:032x}\n\
                     _MACHINE_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=labhost\n\
                     SYSLOG_IDENTIFIER=kernel\nMESSAGE=boot {boot:x} line {line}\n\n",
                    (start + line * step) * 1_000_000,
                    (line + 1) * 1_000_000,
                ));
            }
        }
        let program = [
            "/lib/systemd/systemd-journal-remote",
            "/usr/lib/systemd/systemd-journal-remote",
        ]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
        .expect("this test needs systemd-journal-remote (Debian package systemd-journal-remote)");
        let mut child = std::process::Command::new(program)
            .arg("-o")
            .arg(dir.path().join("remote.journal"))
            .arg("-")
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), export.as_bytes()).unwrap();
        drop(child.stdin.take());
        assert!(
            child.wait().unwrap().success(),
            "systemd-journal-remote failed"
        );
        dir
    }

    #[test]
    fn the_real_journalctl_gives_the_crashed_boots_tail() {
        let journal = real_journal();
        let runner = OnDirectory(journal.path().to_path_buf());
        let (item, file) = collect(2, Some(2050), &runner);
        assert!(item.is_collected(), "{item:?}");
        assert_eq!(item.facts["lines"], "2");
        let text = String::from_utf8(file.unwrap()).unwrap();
        assert_eq!(
            text,
            "[    4.000000] labhost kernel: boot a line 3\n\
             [    5.000000] labhost kernel: boot a line 4\n"
        );
        // A crash after this boot began is not the previous boot's.
        let (item, _) = collect(2, Some(2110), &runner);
        assert!(
            item.missing
                .unwrap()
                .contains("is not in the journal's previous boot")
        );
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
