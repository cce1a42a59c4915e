//! The peers' own test vectors (ChromeOS crash_reporter, ABRT and satyr, syzkaller's report
//! parser) run through `lastgasp analyze --json` by the runners that live with them, and every
//! score must stay at or above the committed baseline (tests/conformance/baseline.txt).
//!
//! The sets are read in place from `../shared/conformance` beside the checkout (or the directory
//! `LASTGASP_CONFORMANCE_DIR` names); they are not copied into the repository. Without them, or
//! without python3 for their runners, the test fails and says so. docs/conformance.md shows the
//! baseline as a table; this test also checks that the table shows the baseline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `key -> (passed, total)`; `total` is `None` for a plain count (`syzkaller-errors`).
type Scores = BTreeMap<String, (u64, Option<u64>)>;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn conformance_dir() -> PathBuf {
    match std::env::var_os("LASTGASP_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("../shared/conformance"),
    }
}

/// Runs one of the sets' `run.sh` on the debug binary and returns its output.
fn run_runner(script: &Path) -> String {
    let out = Command::new("sh")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_lastgasp"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} could not compare (exit {:?}): {}",
        script.display(),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    stdout
}

/// `name A/B` pairs of a runner's summary line, each key prefixed with `prefix`.
fn parse_pairs(line: &str, prefix: &str, into: &mut Scores) {
    let words: Vec<&str> = line.split_whitespace().collect();
    for pair in words.windows(2) {
        let (name, value) = (pair[0], pair[1]);
        let parsed = match value.split_once('/') {
            Some((a, b)) => a.parse().ok().zip(b.parse().ok().map(Some)),
            None if name.ends_with("errors") => value.parse().ok().map(|n| (n, None)),
            None => None,
        };
        if let Some(score) = parsed {
            into.insert(format!("{prefix}{name}"), score);
        }
    }
}

fn measure(dir: &Path) -> Scores {
    let mut scores = Scores::new();
    let peers = run_runner(&dir.join("run.sh"));
    let checks = peers
        .lines()
        .find_map(|l| l.strip_prefix("checks: "))
        .unwrap_or_else(|| panic!("run.sh printed no `checks:` line:\n{peers}"));
    parse_pairs(checks, "", &mut scores);
    let syz = run_runner(&dir.join("syzkaller/run.sh"));
    let last = syz
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("syzkaller "))
        .unwrap_or_else(|| panic!("syzkaller/run.sh printed no summary line:\n{syz}"));
    parse_pairs(last, "syzkaller-", &mut scores);
    scores
}

fn baseline() -> Scores {
    let path = repo_root().join("tests/conformance/baseline.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut scores = Scores::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let before = scores.len();
        parse_pairs(line, "", &mut scores);
        assert_eq!(
            scores.len(),
            before + 1,
            "{}:{}: expected `<key> <passed>/<total>` or `syzkaller-errors <n>`",
            path.display(),
            n + 1
        );
    }
    scores
}

fn shown(score: (u64, Option<u64>)) -> String {
    match score {
        (a, Some(b)) => format!("{a}/{b}"),
        (a, None) => a.to_string(),
    }
}

#[test]
fn conformance_scores_hold_the_baseline() {
    let dir = conformance_dir();
    assert!(
        dir.join("run.sh").is_file() && dir.join("syzkaller/run.sh").is_file(),
        "the conformance sets are missing: no run.sh and syzkaller/run.sh in {} \
         (they live in ../shared/conformance beside the checkout; LASTGASP_CONFORMANCE_DIR \
         names another place)",
        dir.display()
    );
    let python = Command::new("python3").arg("--version").output();
    assert!(
        python.is_ok_and(|o| o.status.success()),
        "python3 is needed to run the conformance sets' runners (apt-get install python3)"
    );
    let want = baseline();
    let got = measure(&dir);
    let mut failures = Vec::new();
    eprintln!("| set | baseline | now |\n|---|---|---|");
    for (key, &base) in &want {
        let Some(&now) = got.get(key) else {
            failures.push(format!("{key}: the runners no longer report it"));
            continue;
        };
        eprintln!("| `{key}` | {} | {} |", shown(base), shown(now));
        match (base, now) {
            ((_, Some(bt)), (_, Some(nt))) if bt != nt => failures.push(format!(
                "{key}: the set changed ({bt} cases in the baseline, {nt} now): update \
                 tests/conformance/baseline.txt and docs/conformance.md"
            )),
            ((ba, Some(_)), (na, Some(_))) if na < ba => failures.push(format!(
                "{key}: {} is below the baseline {}",
                shown(now),
                shown(base)
            )),
            ((ba, None), (na, None)) if na > ba => {
                failures.push(format!("{key}: {na} is above the baseline {ba}"))
            }
            ((_, bt), (_, nt)) if bt.is_some() != nt.is_some() => failures.push(format!(
                "{key}: {} and {} are not comparable",
                shown(base),
                shown(now)
            )),
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "conformance dropped:\n{}",
        failures.join("\n")
    );
}

#[test]
fn docs_table_shows_the_baseline() {
    let path = repo_root().join("docs/conformance.md");
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    for (key, score) in baseline() {
        let row = format!("| `{key}` | {} |", shown(score));
        assert!(
            doc.contains(&row),
            "{} does not show the baseline row {row}",
            path.display()
        );
    }
}
