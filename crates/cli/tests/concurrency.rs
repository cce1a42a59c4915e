//! `list` reading while `save` writes (issue 9, item 5): a reader never sees a half-written
//! report, and the reports it sees only ever grow.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::{FakeRoot, dmesg_record, log_lines, stderr_of};

const CRASHES: u32 = 12;

#[test]
fn list_never_sees_a_half_written_report_while_save_writes() {
    let root = FakeRoot::new();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let (mut listings, mut seen) = (0, 0);
            while !done.load(Ordering::Acquire) {
                let out = root.cmd().args(["list", "--json"]).output().unwrap();
                assert!(out.status.success(), "{}", stderr_of(&out));
                let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                let listed = listed.as_array().unwrap();
                for report in listed {
                    assert!(report["problem"].is_null(), "half-visible: {report}");
                }
                assert!(listed.len() >= seen, "a report went away");
                seen = listed.len();
                listings += 1;
            }
            listings
        });
        for i in 0..CRASHES {
            // A new crash each time: other lines, another dump time, so another report.
            let record = dmesg_record("Panic", 1, &log_lines(i * 100, 200));
            root.record(
                "dmesg-ramoops-0",
                &record,
                Some(1_700_000_000 + u64::from(i) * 60),
            );
            let out = root.cmd().arg("save").output().unwrap();
            assert!(out.status.success(), "{}", stderr_of(&out));
        }
        done.store(true, Ordering::Release);
        let listings = reader.join().unwrap();
        assert!(listings > 0, "the reader never ran");
    });
    assert_eq!(root.report_ids().len(), CRASHES as usize);
    assert!(root.pstore_files().is_empty());
}
