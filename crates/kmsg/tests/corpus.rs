//! Golden corpus: every `<arch>/<kind>/` folder holds the same crash captured on two or more
//! boots (`boot1.log`, `boot2.log`, `serial1.log`, ...) and an `expected.json`. Every log of a
//! folder must give exactly the golden class, function, frames and signature, and no two kinds
//! of one architecture may share a signature.
//!
//! Two corpora: the synthetic one next to this file (crates/kmsg/tests/corpus, second boots made
//! by `second_boot.py`) and the lab's real crashes in tests/fixtures/kmsg. Regenerate goldens
//! with `UPDATE_GOLDEN=1 cargo test -p lastgasp-kmsg --test corpus`, then read the diff: a
//! golden must say what the log says.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use kmsg::{Analysis, analyze};
use serde::{Deserialize, Serialize};

/// What a golden pins down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Golden {
    class: String,
    function: Option<String>,
    signature: String,
    frames: Vec<String>,
    bug_location: Option<String>,
    panic_message: Option<String>,
    /// Of the first log (`boot1.log`, a pstore record, which is what ChromeOS reads).
    chromeos: Option<String>,
    abrt: Option<String>,
}

impl From<&Analysis> for Golden {
    fn from(a: &Analysis) -> Self {
        Golden {
            class: a.class.clone(),
            function: a.function.clone(),
            signature: a.signature.clone(),
            frames: a.signature_frames.clone(),
            bug_location: a.bug_location.as_deref().map(portable_location),
            panic_message: a.panic_message.clone(),
            chromeos: a.hashes.chromeos.clone(),
            abrt: a.hashes.abrt.clone(),
        }
    }
}

/// An out-of-tree module's BUG/WARN path names the directory it was built in, which is no
/// business of a golden (and differs between machines); the file name and line stay.
fn portable_location(location: &str) -> String {
    if location.starts_with('/') {
        location.rsplit('/').next().unwrap_or(location).to_owned()
    } else {
        location.to_owned()
    }
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

fn logs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    out.sort();
    out
}

/// Checks one corpus; returns how many kind folders it checked.
fn run_corpus(root: &Path) -> usize {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut checked = 0;
    for arch in subdirs(root) {
        let mut signatures: BTreeMap<String, PathBuf> = BTreeMap::new();
        for kind in subdirs(&arch) {
            let logs = logs(&kind);
            if logs.is_empty() {
                continue;
            }
            let goldens: Vec<(PathBuf, Golden)> = logs
                .iter()
                .map(|p| {
                    let bytes = fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                    (
                        p.clone(),
                        Golden::from(&analyze(&String::from_utf8_lossy(&bytes))),
                    )
                })
                .collect();
            let (first_path, first) = &goldens[0];
            for (path, golden) in &goldens[1..] {
                // ChromeOS's own hash is neither boot- nor capture-stable: it hashes every
                // frame (a stack overflow's recursion depth varies) and indented lines from
                // anywhere in the text (a console capture is cut elsewhere). The golden pins
                // it for the first log only. ABRT's hashes the raw frame names, so another
                // kernel's log (`linux-<release>-...`) may rename a frame and change it: 6.12
                // calls 6.1's `__alloc_pages` `__alloc_pages_noprof`. Our signature must agree.
                let other_kernel = path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("linux-"));
                let abrt = if other_kernel {
                    first.abrt.clone()
                } else {
                    golden.abrt.clone()
                };
                assert_eq!(
                    Golden {
                        chromeos: first.chromeos.clone(),
                        abrt,
                        ..golden.clone()
                    },
                    *first,
                    "{} and {} disagree",
                    path.display(),
                    first_path.display()
                );
            }
            let expected_path = kind.join("expected.json");
            if update {
                let text = serde_json::to_string_pretty(first).unwrap() + "\n";
                fs::write(&expected_path, text)
                    .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
            } else {
                let text = fs::read_to_string(&expected_path).unwrap_or_else(|e| {
                    panic!(
                        "{}: {e} (run with UPDATE_GOLDEN=1)",
                        expected_path.display()
                    )
                });
                let expected: Golden = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
                assert_eq!(
                    first,
                    &expected,
                    "{} differs from its golden",
                    first_path.display()
                );
            }
            assert_ne!(
                first.class,
                "unknown",
                "{}: no crash found",
                first_path.display()
            );
            if let Some(other) = signatures.insert(first.signature.clone(), kind.clone()) {
                panic!(
                    "{} and {} share the signature {}",
                    kind.display(),
                    other.display(),
                    first.signature
                );
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn synthetic_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    assert_eq!(run_corpus(&root), 17);
}

#[test]
fn lab_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kmsg");
    if !root.is_dir() {
        panic!(
            "{} is missing: the lab captures it (cargo xtask lab --corpus --save-fixtures)",
            root.display()
        );
    }
    let checked = run_corpus(&root);
    assert!(checked > 0, "{} holds no crash logs", root.display());
}
