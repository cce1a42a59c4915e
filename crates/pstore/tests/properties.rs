//! Properties: splitting a log into parts and assembling gives it back, overlapping snapshots
//! merge into the log, names round-trip, and arbitrary input never breaks `assemble`.

mod common;

use common::*;
use proptest::prelude::*;
use pstore::{RecordKind, RecordName, assemble, parse_record_name};

fn kind() -> impl Strategy<Value = RecordKind> {
    prop::sample::select(vec![
        RecordKind::Dmesg,
        RecordKind::Mce,
        RecordKind::Console,
        RecordKind::Ftrace,
        RecordKind::Rtas,
        RecordKind::PowerpcOfw,
        RecordKind::PowerpcCommon,
        RecordKind::Pmsg,
        RecordKind::PowerpcOpal,
        RecordKind::Unknown,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn parts_reassemble_to_the_log(n_lines in 1u32..200, n_parts in 1usize..20, seed in any::<u64>()) {
        let lines = log_lines(0..n_lines);
        let mut records = efi_dump(1_700_000_000, "Panic", 1, &lines, n_parts);
        // Any input order.
        let len = records.len();
        for i in 0..len {
            records.swap(i, usize::try_from((seed >> (i % 64)) % len as u64).unwrap());
        }
        let crashes = assemble(records);
        prop_assert_eq!(crashes.len(), 1);
        prop_assert_eq!(&crashes[0].dmesg, &text(&lines));
        prop_assert!(!crashes[0].partial);
    }

    #[test]
    fn a_missing_part_leaves_the_rest_in_order(n_parts in 3usize..12, drop in 2u32..11) {
        let lines = log_lines(0..120);
        let parts = split_into_parts(&lines, n_parts);
        let highest = u32::try_from(parts.len()).unwrap();
        prop_assume!(drop < highest);
        let records: Vec<_> = efi_dump(1_700_000_000, "Oops", 3, &lines, n_parts)
            .into_iter()
            .filter(|r| {
                let id = r.name.as_ref().unwrap().id;
                pstore::decode_efi_id(id).part != drop
            })
            .collect();
        let crashes = assemble(records);
        prop_assert_eq!(crashes.len(), 1);
        prop_assert_eq!(&crashes[0].dumps[0].missing_parts, &vec![drop]);
        prop_assert!(crashes[0].partial);
        let expected: Vec<u8> = parts.iter().rev().filter(|(p, _)| *p != drop).flat_map(|(_, c)| c.clone()).collect();
        prop_assert_eq!(&crashes[0].dmesg, &expected);
    }

    #[test]
    fn oops_and_panic_snapshots_merge(n in 4u32..200, oops_end in 1u32..200, panic_start in 0u32..200) {
        let oops_end = oops_end.min(n - 1).max(1);
        let panic_start = panic_start.min(oops_end - 1);
        let lines = log_lines(0..n);
        let u = |x: u32| usize::try_from(x).unwrap();
        let oops = record("dmesg-ramoops-0", with_header("Oops", 1, 1, &text(&lines[..u(oops_end)])), Some(1000));
        let panic = record("dmesg-ramoops-1", with_header("Panic", 2, 1, &text(&lines[u(panic_start)..])), Some(1001));
        let crashes = assemble(vec![panic, oops]);
        prop_assert_eq!(crashes.len(), 1);
        prop_assert_eq!(&crashes[0].dmesg, &text(&lines));
    }

    #[test]
    fn a_hole_in_either_snapshot_is_filled_when_the_other_has_it(
        n in 10u32..120,
        oops_end in 2u32..120,
        panic_start in 0u32..120,
        hole_start in 0u32..120,
        hole_len in 1u32..30,
        hole_in_panic in any::<bool>(),
    ) {
        let oops_end = oops_end.min(n - 1);
        let panic_start = panic_start.min(oops_end - 1);
        let hole = hole_start..hole_start + hole_len;
        let lines = log_lines(0..n);
        let pick = |range: std::ops::Range<u32>, holed: bool| -> Vec<u8> {
            range
                .filter(|i| !(holed && hole.contains(i)))
                .flat_map(|i| lines[usize::try_from(i).unwrap()].clone().into_bytes())
                .collect()
        };
        // The one case left apart on purpose: the later snapshot lost exactly the stretch where
        // the earlier one ends, which is how two boots sharing early lines look too.
        prop_assume!(!(hole_in_panic && hole.contains(&(oops_end - 1)) && panic_start < oops_end - 1));
        let oops = pick(0..oops_end, !hole_in_panic);
        let panic = pick(panic_start..n, hole_in_panic);
        prop_assume!(!oops.is_empty() && !panic.is_empty());
        let crashes = assemble(vec![
            record("dmesg-ramoops-0", with_header("Oops", 1, 1, &oops), Some(1000)),
            record("dmesg-ramoops-1", with_header("Panic", 2, 1, &panic), Some(1001)),
        ]);
        prop_assert_eq!(crashes.len(), 1);
        // Only what neither snapshot holds may be missing.
        let expected = (0..n).filter(|i| {
            let in_oops = *i < oops_end && (hole_in_panic || !hole.contains(i));
            let in_panic = *i >= panic_start && (!hole_in_panic || !hole.contains(i));
            in_oops || in_panic
        });
        let expected: Vec<u8> = expected.flat_map(|i| lines[usize::try_from(i).unwrap()].clone().into_bytes()).collect();
        prop_assert_eq!(String::from_utf8_lossy(&crashes[0].dmesg), String::from_utf8_lossy(&expected));
    }

    #[test]
    fn merging_never_loses_or_doubles_a_line(
        a in prop::collection::vec(0u8..12, 0..25),
        b in prop::collection::vec(0u8..12, 0..25),
        cut in any::<bool>(),
    ) {
        // A small alphabet of timestamped lines, so repeats and odd orders are common.
        let render = |ids: &[u8]| -> Vec<u8> {
            ids.iter().flat_map(|i| format!("<6>[{i:5}.000000] line number {i}\n").into_bytes()).collect()
        };
        let mut earlier = render(&a);
        if cut && earlier.len() > 5 {
            earlier.truncate(earlier.len() - 5);
        }
        let later = render(&b);
        if let pstore::Merge::Overlapping(merged) = pstore::merge_overlapping(&earlier, &later) {
            let count = |text: &[u8], line: &[u8]| lines_of(text).iter().filter(|l| **l == line).count();
            let mut whole_a = lines_of(&earlier);
            if !earlier.ends_with(b"\n") {
                whole_a.pop();
            }
            for line in whole_a.iter().chain(lines_of(&later).iter()) {
                let n = count(&merged, line);
                prop_assert!(n >= 1, "lost {:?}", String::from_utf8_lossy(line));
                prop_assert!(n <= count(&earlier, line).max(count(&later, line)), "doubled {:?}", String::from_utf8_lossy(line));
            }
        }
    }

    #[test]
    fn names_round_trip(
        kind in kind(),
        backend in "[a-z][a-z0-9_]{0,12}(-[a-z]{1,5})?",
        id in any::<u64>(),
        encoded in any::<bool>(),
    ) {
        let name = RecordName { kind, backend, id, encoded };
        prop_assert_eq!(parse_record_name(&name.file_name()), Some(name));
    }

    #[test]
    fn any_name_is_safe(name in "\\PC{0,40}") {
        pstore::fuzzing::check_name(name.as_bytes());
    }

    #[test]
    fn any_record_bytes_are_safe(data in prop::collection::vec(any::<u8>(), 0..600)) {
        pstore::fuzzing::check_record(&data);
        pstore::fuzzing::check_assemble(&data);
    }
}
