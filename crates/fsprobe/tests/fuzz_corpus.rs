//! Replays the fuzz corpus (superblocks of filesystems made by mkfs, and cut-off ones) on
//! stable Rust, and mutates the real superblocks at random: never a panic.

use proptest::prelude::*;

fn corpus() -> Vec<Vec<u8>> {
    fuzz_corpus::seeds("fsprobe_superblock")
        .into_iter()
        .map(|(_, data)| data)
        .collect()
}

#[test]
fn corpus_replays_and_recognises_every_mkfs_seed() {
    let count = fuzz_corpus::replay("fsprobe_superblock", fsprobe::fuzzing::check_superblock);
    assert!(count >= 10, "{count} seeds");
    let corpus = corpus();
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
