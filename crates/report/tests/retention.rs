//! Retention through `Store::prune`: oldest reports go first, protected ones never do.

mod common;

use common::sample;
use report::{Retention, Store};

fn store_with_four(dir: &std::path::Path) -> (Store, Vec<String>) {
    let store = Store::open(dir);
    let ids = (0..4)
        .map(|i| {
            let created = format!("2026-11-2{i}T00:00:00Z").parse().unwrap();
            let log = format!("<0>[    1.000000] Kernel panic - not syncing: crash {i}\n");
            store.write_at(&sample(&log, None), created).unwrap().id
        })
        .collect();
    (store, ids)
}

fn remaining(store: &Store) -> Vec<String> {
    let mut ids: Vec<String> = store.list().unwrap().into_iter().map(|l| l.id).collect();
    ids.sort();
    ids
}

#[test]
fn count_limit_removes_the_oldest() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, ids) = store_with_four(tmp.path());
    let limits = Retention {
        max_reports: 2,
        max_bytes: 0,
    };
    let pruned = store.prune(&limits, &[]).unwrap();
    let pruned: Vec<&str> = pruned.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(pruned, [ids[0].as_str(), ids[1].as_str()]);
    let mut expected = vec![ids[2].clone(), ids[3].clone()];
    expected.sort();
    assert_eq!(remaining(&store), expected);
    assert!(store.prune(&limits, &[]).unwrap().is_empty());
}

#[test]
fn protected_report_survives_even_when_oldest() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, ids) = store_with_four(tmp.path());
    let limits = Retention {
        max_reports: 1,
        max_bytes: 0,
    };
    let pruned = store.prune(&limits, &[ids[0].clone()]).unwrap();
    assert_eq!(pruned.len(), 3);
    assert_eq!(remaining(&store), [ids[0].clone()]);
}

#[test]
fn byte_limit_counts_every_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, ids) = store_with_four(tmp.path());
    let sizes: Vec<u64> = store.list().unwrap().iter().map(|l| l.bytes).collect();
    assert!(sizes.iter().all(|s| *s > 100), "{sizes:?}");
    // Room for the two newest reports and a little more, not for three.
    let limits = Retention {
        max_reports: 0,
        max_bytes: sizes[2] + sizes[3] + 10,
    };
    let pruned = store.prune(&limits, &[]).unwrap();
    assert_eq!(pruned.len(), 2);
    assert_eq!(pruned[0].id, ids[0]);
    assert_eq!(pruned[0].bytes, sizes[0]);
    assert_eq!(remaining(&store).len(), 2);
}

#[test]
fn no_limits_keep_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, _) = store_with_four(tmp.path());
    let limits = Retention {
        max_reports: 0,
        max_bytes: 0,
    };
    assert!(store.prune(&limits, &[]).unwrap().is_empty());
    assert_eq!(remaining(&store).len(), 4);
}

#[test]
fn pruned_report_is_not_written_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, ids) = store_with_four(tmp.path());
    let limits = Retention {
        max_reports: 3,
        max_bytes: 0,
    };
    assert_eq!(store.prune(&limits, &[]).unwrap().len(), 1);
    assert!(store.was_pruned(&ids[0]));
    assert!(!store.was_pruned(&ids[1]));

    // The same records found again (systemd's archive keeps them for weeks).
    let log = "<0>[    1.000000] Kernel panic - not syncing: crash 0\n";
    let again = store.write(&sample(log, None)).unwrap();
    assert_eq!(again.id, ids[0]);
    assert!(again.already_present && again.previously_pruned);
    assert!(!again.path.exists());
    assert_eq!(remaining(&store).len(), 3);
}
