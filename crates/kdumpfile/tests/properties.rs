//! Property tests: random machines (holes, exclusions, page kinds, window sizes) round-trip
//! through the writer and reader, and random damage to a dump never panics the reader.

// One range of present pfns is the common case here, not a mistake.
#![allow(clippy::single_range_in_vec_init)]

mod common;

use std::collections::BTreeSet;
use std::ops::Range;

use common::*;
use kdumpfile::{Compression, Limits};
use proptest::prelude::*;

fn ranges(max: u64) -> impl Strategy<Value = Vec<Range<u64>>> {
    prop::collection::vec((0..max, 1..64u64), 0..6)
        .prop_map(move |v| v.into_iter().map(|(s, l)| s..(s + l).min(max)).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_page_sets_round_trip(
        max_mapnr in 1..300u64,
        holes in ranges(300),
        excluded in prop::collection::btree_set(0..300u64, 0..100),
        level in prop::sample::select(vec![0u8, 1, 17, 31]),
        compression in prop::sample::select(Compression::ALL.to_vec()),
        window in 1..40usize,
        data_buffer in 1..5usize,
        desc_buffer in 1..20usize,
        threads in 1..4usize,
        batch_pages in 1..40usize,
    ) {
        let mut present: Vec<Range<u64>> = vec![0..max_mapnr];
        for h in &holes {
            present = present
                .into_iter()
                .flat_map(|r| [r.start..h.start.clamp(r.start, r.end), h.end.clamp(r.start, r.end)..r.end])
                .filter(|r| r.start < r.end)
                .collect();
        }
        let info = info(max_mapnr, level, compression);
        let limits = Limits { bitmap_window: window, data_buffer: data_buffer * PAGE, desc_buffer, threads, batch_pages };
        let (bytes, summary) = write(&info, &present, excluded.clone(), limits);
        let mut dump = open(&bytes);
        let mut expect = vec![0u8; PAGE];
        let mut dumped = 0;
        for pfn in 0..max_mapnr {
            let here = present.iter().any(|r| r.contains(&pfn));
            prop_assert_eq!(dump.is_present(pfn).unwrap(), here);
            let page = dump.read_page(pfn).unwrap();
            if here && !excluded.contains(&pfn) {
                dumped += 1;
                contents(pfn, &mut expect);
                prop_assert_eq!(page, Some(&expect[..]));
            } else {
                prop_assert_eq!(page, None);
            }
        }
        prop_assert_eq!(summary.dumped_pages, dumped);
        prop_assert_eq!(summary.file_size, bytes.len() as u64);
    }

    #[test]
    fn damaged_dumps_never_panic(
        edits in prop::collection::vec((0..40_000usize, any::<u8>()), 1..16),
        cut in 0..40_000usize,
    ) {
        let excluded: BTreeSet<u64> = (0..64).filter(|p| p % 5 == 4).collect();
        let (mut bytes, _) = write(&info(64, 31, Compression::Zstd), &[0..64], excluded, Limits::default());
        for (at, v) in edits {
            let len = bytes.len();
            bytes[at % len] = v;
        }
        bytes.truncate(cut.max(1));
        kdumpfile::fuzzing::check_read(&bytes);
    }
}
