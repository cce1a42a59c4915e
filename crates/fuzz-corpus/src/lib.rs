//! The fuzz corpora (fuzz/corpus/<target>) for the crates' tests: every seed and every crash a
//! fuzzer ever found, replayed on stable Rust through the checks the fuzz targets run, so what
//! was fixed once stays fixed without a fuzzer. A dev-dependency only: nothing that ships uses it.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// fuzz/corpus/`target` in this checkout.
pub fn dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// Every seed of `target` with its path, sorted by path. A corpus that cannot be read fails the
/// test, naming the directory or file.
pub fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = dir(target);
    let mut seeds: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path();
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, data)
        })
        .collect();
    seeds.sort();
    seeds
}

/// Runs `check` (a fuzz target's body) on every seed of `target`; a seed that panics fails the
/// test, named. Returns how many seeds ran, for the caller to hold against the corpus it expects.
pub fn replay(target: &str, check: impl Fn(&[u8])) -> usize {
    let seeds = seeds(target);
    for (path, data) in &seeds {
        // Only to name the seed: nothing is used after a panic but the assertion.
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| check(data)));
        assert!(outcome.is_ok(), "{} fails {target}", path.display());
    }
    seeds.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_read_sorted_and_a_panicking_seed_is_named() {
        let seeds = seeds("pstore_name");
        assert!(seeds.len() >= 10, "{} seeds", seeds.len());
        assert!(seeds.windows(2).all(|pair| pair[0].0 < pair[1].0));
        assert_eq!(replay("pstore_name", |_| {}), seeds.len());
        let first = seeds[0].0.display().to_string();
        let failure = panic::catch_unwind(|| replay("pstore_name", |_| panic!("found a bug")))
            .expect_err("a panicking check fails");
        let message = failure.downcast_ref::<String>().unwrap();
        assert_eq!(*message, format!("{first} fails pstore_name"));
    }

    #[test]
    #[should_panic(expected = "no-such-target")]
    fn a_missing_corpus_fails() {
        seeds("no-such-target");
    }
}
