//! Replays the fuzz corpus (superblocks of filesystems made by mkfs, and cut-off ones) on
//! stable Rust, and mutates the real superblocks at random: never a panic.

use std::path::PathBuf;

use proptest::prelude::*;

fn corpus() -> Vec<Vec<u8>> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/fsprobe_superblock");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect()
}

#[test]
fn corpus_replays_and_recognises_every_mkfs_seed() {
    let corpus = corpus();
    assert!(corpus.len() >= 10, "{} seeds", corpus.len());
    for seed in &corpus {
        fsprobe::fuzzing::check_superblock(seed);
    }
    let recognised = corpus
        .iter()
        .filter(|seed| matches!(fsprobe::probe(seed), Ok(Some(_))))
        .count();
    // The seven mkfs images and the FAT32 boot sector alone.
    assert_eq!(recognised, 8);
}

proptest! {
    #[test]
    fn mutated_superblocks_never_panic(
        seed in 0usize..7,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..32),
        cut in any::<prop::sample::Index>(),
    ) {
        let corpus = corpus();
        let mut bytes = corpus[seed % corpus.len()].clone();
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        fsprobe::fuzzing::check_superblock(&bytes);
    }
}
