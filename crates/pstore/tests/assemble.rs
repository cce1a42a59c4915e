//! `assemble` on synthetic record sets built from the documented formats: multipart dumps,
//! Oops+Panic pairs, separate crashes, console-only boots, extras and damaged input.

mod common;

use common::*;
use pstore::{Decoding, assemble, encode_efi_id};
use std::io::Write;

#[test]
fn efi_multipart_dump_is_joined_highest_part_first() {
    let lines = log_lines(0..140);
    let mut records = efi_dump(1_700_000_000, "Panic", 1, &lines, 14);
    records.reverse();
    let crashes = assemble(records);
    assert_eq!(crashes.len(), 1);
    let c = &crashes[0];
    assert_eq!(c.dmesg, text(&lines));
    assert_eq!(c.backend, "efi_pstore");
    assert_eq!(c.dump_reason.as_deref(), Some("Panic"));
    assert_eq!(c.crash_time, Some(1_700_000_000));
    assert_eq!(c.dumps.len(), 1);
    assert_eq!(c.dumps[0].parts, (1..=14).collect::<Vec<_>>());
    assert!(c.dumps[0].missing_parts.is_empty());
    assert!(!c.partial && c.gaps.is_empty());
    assert_eq!(c.records.len(), 14);
}

#[test]
fn missing_part_is_a_gap_and_the_rest_is_kept() {
    let lines = log_lines(0..50);
    let records: Vec<_> = efi_dump(1_700_000_000, "Panic", 1, &lines, 5)
        .into_iter()
        .filter(|r| !r.file_name.ends_with(&format!("{:05}", 3 * 1000 + 1)))
        .collect();
    assert_eq!(records.len(), 4);
    let c = &assemble(records)[0];
    assert_eq!(c.dumps[0].missing_parts, [3]);
    assert_eq!(c.dumps[0].parts, [1, 2, 4, 5]);
    assert!(c.partial);
    assert_eq!(c.gaps, ["Panic#1: part 3 of 5 missing"]);
    let mut expected = lines.clone();
    expected.drain(20..30);
    assert_eq!(c.dmesg, text(&expected));
}

#[test]
fn identical_duplicate_part_is_kept_once() {
    let lines = log_lines(0..20);
    let mut records = efi_dump(1_700_000_000, "Panic", 1, &lines, 2);
    let mut copy = records[0].clone();
    copy.path = "elsewhere/copy".into();
    records.push(copy);
    let crashes = assemble(records);
    assert_eq!(crashes.len(), 1);
    assert_eq!(crashes[0].dmesg, text(&lines));
    assert_eq!(crashes[0].records.len(), 3);
    assert!(!crashes[0].partial);
}

#[test]
fn conflicting_duplicate_part_is_noted_and_kept() {
    let lines = log_lines(0..20);
    let id = encode_efi_id(1_700_000_001, 2, 1);
    let mut records = efi_dump(1_700_000_000, "Panic", 1, &lines, 2);
    records.push(record(
        &format!("dmesg-efi_pstore-{id}"),
        with_header("Panic", 1, 2, b"<6>[ 0.5] other text\n"),
        None,
    ));
    let crashes = assemble(records);
    assert_eq!(crashes.len(), 1);
    let c = &crashes[0];
    assert_eq!(c.records.len(), 3);
    assert!(c.partial);
    assert!(c.gaps[0].contains("part 2 recorded twice"), "{:?}", c.gaps);
    assert_eq!(c.extra_files.len(), 1);
    assert!(lines_of(&c.dmesg).len() == 20);
}

#[test]
fn ramoops_oops_then_panic_merge_without_doubling() {
    let lines = log_lines(0..60);
    // Each ramoops record is the whole log so far, cut to the record size: the Panic record
    // starts later than the Oops record.
    let oops = record(
        "dmesg-ramoops-0",
        with_header("Oops", 1, 1, &text(&lines[0..40])),
        Some(1_700_000_100),
    );
    let panic = record(
        "dmesg-ramoops-1",
        with_header("Panic", 2, 1, &text(&lines[15..60])),
        Some(1_700_000_101),
    );
    let crashes = assemble(vec![panic, oops]);
    assert_eq!(crashes.len(), 1);
    let c = &crashes[0];
    assert_eq!(c.dmesg, text(&lines));
    assert_eq!(
        c.dumps
            .iter()
            .map(|d| (d.reason.as_str(), d.count))
            .collect::<Vec<_>>(),
        [("Oops", 1), ("Panic", 2)]
    );
    assert_eq!(c.dump_reason.as_deref(), Some("Panic"));
    assert_eq!(c.crash_time, Some(1_700_000_101));
    assert!(!c.partial);
}

#[test]
fn panic_record_containing_the_whole_oops_record() {
    let lines = log_lines(0..30);
    let oops = record(
        "dmesg-ramoops-0",
        with_header("Oops", 1, 1, &text(&lines[..20])),
        Some(50),
    );
    let panic = record(
        "dmesg-ramoops-1",
        with_header("Panic", 2, 1, &text(&lines)),
        Some(50),
    );
    let crashes = assemble(vec![oops, panic]);
    assert_eq!(crashes.len(), 1);
    assert_eq!(crashes[0].dmesg, text(&lines));
}

#[test]
fn older_uncollected_crash_stays_separate() {
    let old = log_lines(1000..1030);
    let new = log_lines(0..30);
    let records = vec![
        record(
            "dmesg-ramoops-0",
            with_header("Panic", 1, 1, &text(&new)),
            Some(1_700_100_000),
        ),
        record(
            "dmesg-ramoops-1",
            with_header("Panic", 1, 1, &text(&old)),
            Some(1_700_000_000),
        ),
        record(
            "console-ramoops-0",
            b"[    2.000000] console tail\n".to_vec(),
            Some(1_700_200_000),
        ),
    ];
    let crashes = assemble(records);
    assert_eq!(crashes.len(), 2);
    assert_eq!(crashes[0].crash_time, Some(1_700_000_000));
    assert_eq!(crashes[0].dmesg, text(&old));
    assert_eq!(crashes[1].dmesg, text(&new));
    // The console belongs to the previous boot, i.e. the newest crash.
    assert!(crashes[0].console.is_none());
    assert_eq!(
        crashes[1].console.as_deref(),
        Some(&b"[    2.000000] console tail\n"[..])
    );
    assert_eq!(used_names(&crashes).len(), 3);
}

#[test]
fn same_boot_dumps_without_common_lines_join_with_a_gap() {
    let lines = log_lines(0..100);
    let oops = record(
        "dmesg-ramoops-0",
        with_header("Oops", 1, 1, &text(&lines[..30])),
        Some(100),
    );
    let panic = record(
        "dmesg-ramoops-1",
        with_header("Panic", 2, 1, &text(&lines[60..])),
        Some(160),
    );
    let crashes = assemble(vec![oops, panic]);
    assert_eq!(crashes.len(), 1);
    assert!(crashes[0].partial);
    assert!(crashes[0].gaps[0].contains("share no log lines"));
    let mut expected = lines[..30].to_vec();
    expected.extend_from_slice(&lines[60..]);
    assert_eq!(crashes[0].dmesg, text(&expected));
}

#[test]
fn console_only_boot_is_a_crash_of_its_own() {
    let crashes = assemble(vec![
        record(
            "console-ramoops-0",
            b"[  100.0] hung\n\nNo errors detected\n".to_vec(),
            None,
        ),
        record("pmsg-ramoops-0", b"\x00\x01user\xff".to_vec(), None),
        record(
            "ftrace-ramoops-0",
            b"CPU:0 ts:1 ffffffff81000000  ffffffff81000001  f <- g\n".to_vec(),
            None,
        ),
    ]);
    assert_eq!(crashes.len(), 1);
    let c = &crashes[0];
    assert!(c.dmesg.is_empty() && c.dumps.is_empty() && !c.partial);
    assert_eq!(c.backend, "ramoops");
    assert_eq!(c.console.as_deref(), Some(&b"[  100.0] hung\n"[..]));
    assert_eq!(c.pmsg.as_deref(), Some(&b"\x00\x01user\xff"[..]));
    assert!(c.ftrace.is_some());
    assert_eq!(c.records.len(), 3);
}

#[test]
fn mce_and_opaque_records_are_kept_as_extra_files() {
    let crashes = assemble(vec![
        record(
            "dmesg-erst-7301960581958418433",
            with_header("Panic", 1, 1, b"<0>[ 1.000000] x\n"),
            None,
        ),
        record("mce-erst-7301960581958418434", vec![1, 2, 3], None),
        record("something-else", b"?".to_vec(), None),
    ]);
    assert_eq!(crashes.len(), 1);
    let c = &crashes[0];
    let mut extra: Vec<_> = c
        .extra_files
        .iter()
        .map(|(n, d)| (n.as_str(), d.len()))
        .collect();
    extra.sort();
    assert_eq!(
        extra,
        [("mce-erst-7301960581958418434", 3), ("something-else", 1)]
    );
    assert!(!c.partial);
    let raw = c
        .records
        .iter()
        .filter(|r| matches!(r.decoding, Decoding::Raw { .. }))
        .count();
    assert_eq!(raw, 2);
}

#[test]
fn erst_parts_group_by_consecutive_ids() {
    let lines = log_lines(0..40);
    let base = 1_700_000_000u64 << 32;
    let mut records: Vec<_> = split_into_parts(&lines, 2)
        .into_iter()
        .map(|(part, chunk)| {
            record(
                &format!("dmesg-erst-{}", base + u64::from(part) - 1),
                with_header("Panic", 1, part, &chunk),
                Some(1_700_000_000),
            )
        })
        .collect();
    // An older crash's Panic#1 from another boot, far away in id space.
    let old = log_lines(500..510);
    let old_base = 1_600_000_000u64 << 32;
    records.push(record(
        &format!("dmesg-erst-{old_base}"),
        with_header("Panic", 1, 1, &text(&old)),
        Some(1_600_000_000),
    ));
    let crashes = assemble(records);
    assert_eq!(crashes.len(), 2);
    assert_eq!(crashes[1].dmesg, text(&lines));
    assert_eq!(crashes[1].dumps[0].parts, [1, 2]);
    assert_eq!(crashes[0].dmesg, text(&old));
}

#[test]
fn pstore_blk_total_line_is_stripped() {
    let lines = log_lines(0..5);
    let mut data = b"Panic: Total 1 times\n".to_vec();
    data.extend(with_header("Panic", 1, 1, &text(&lines)));
    let crashes = assemble(vec![record("dmesg-pstore_blk-0", data, Some(10))]);
    assert_eq!(crashes[0].dmesg, text(&lines));
    assert_eq!(crashes[0].backend, "pstore_blk");
    assert!(!crashes[0].partial);
}

#[test]
fn enc_z_records_are_decompressed() {
    let lines = log_lines(0..30);
    let plain = with_header("Panic", 1, 1, &text(&lines));
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&plain).unwrap();
    let crashes = assemble(vec![record(
        "dmesg-ramoops-0.enc.z",
        enc.finish().unwrap(),
        Some(5),
    )]);
    let c = &crashes[0];
    assert_eq!(c.dmesg, text(&lines));
    assert_eq!(
        c.records[0].decoding,
        Decoding::Decompressed {
            algorithm: "deflate".into()
        }
    );
    assert!(!c.partial);
}

#[test]
fn garbage_enc_z_is_kept_raw_and_marks_partial() {
    let lines = log_lines(0..10);
    let crashes = assemble(vec![
        record(
            "dmesg-ramoops-0",
            with_header("Panic", 1, 1, &text(&lines)),
            Some(5),
        ),
        record(
            "dmesg-ramoops-1.enc.z",
            b"\x13\x37 not really deflate".to_vec(),
            Some(5),
        ),
    ]);
    assert_eq!(crashes.len(), 1);
    let c = &crashes[0];
    assert_eq!(c.dmesg, text(&lines));
    assert_eq!(c.extra_files[0].0, "dmesg-ramoops-1.enc.z");
    assert!(c.partial);
    assert!(c.gaps[0].starts_with("dmesg-ramoops-1.enc.z: could not be decompressed"));
    assert!(matches!(c.records[1].decoding, Decoding::Raw { .. }));
}

#[test]
fn only_garbage_still_gives_a_report() {
    let crashes = assemble(vec![record(
        "dmesg-efi_pstore-170000000001001.enc.z",
        vec![0xff; 40],
        None,
    )]);
    assert_eq!(crashes.len(), 1);
    assert!(crashes[0].partial && crashes[0].dmesg.is_empty());
    assert_eq!(crashes[0].extra_files.len(), 1);
}

#[test]
fn bad_records_never_panic() {
    let lines = log_lines(0..10);
    let mut truncated = record(
        "dmesg-ramoops-2",
        with_header("Oops", 1, 1, &text(&lines)),
        Some(9),
    );
    truncated.data.truncate(50);
    truncated.truncated = true;
    let records = vec![
        record("dmesg-ramoops-0", Vec::new(), Some(1)),
        record(
            "dmesg-ramoops-1",
            b"no header at all\n\xff\xfe\n".to_vec(),
            Some(2),
        ),
        truncated,
        record("dmesg-efi_pstore-1", b"Panic#1 Part".to_vec(), None),
        record(
            "dmesg-erst-5",
            b"Panic#1 Part4294967295\nx\n".to_vec(),
            None,
        ),
        record("console-ramoops.enc.z", b"x".to_vec(), None),
    ];
    let n = records.len();
    let crashes = assemble(records);
    assert_eq!(used_names(&crashes).len(), n);
    let all_gaps: Vec<&String> = crashes.iter().flat_map(|c| &c.gaps).collect();
    assert!(
        all_gaps
            .iter()
            .any(|g| g.contains("dmesg-ramoops-1: has no pstore header line"))
    );
    assert!(
        all_gaps
            .iter()
            .any(|g| g.contains("dmesg-ramoops-2: only the first 50 bytes"))
    );
    assert!(
        all_gaps
            .iter()
            .any(|g| g.contains("more missing parts not listed"))
    );
    let non_utf8 = crashes
        .iter()
        .any(|c| c.dmesg.windows(2).any(|w| w == b"\xff\xfe"));
    assert!(non_utf8, "non-UTF-8 bytes are kept as bytes");
}

#[test]
fn empty_input_gives_no_crash() {
    assert!(assemble(Vec::new()).is_empty());
}

#[test]
fn crash_serializes_kebab_case() {
    let crashes = assemble(vec![record(
        "dmesg-ramoops-0",
        with_header("Panic", 1, 1, b"x\n"),
        Some(1),
    )]);
    let json = serde_json::to_value(&crashes[0]).unwrap();
    assert_eq!(json["dump-reason"], "Panic");
    assert_eq!(json["records"][0]["decoding"]["kind"], "plain");
    assert_eq!(json["records"][0]["origin"], "pstore");
    assert_eq!(json["dumps"][0]["missing-parts"], serde_json::json!([]));
}

#[test]
fn efi_dumps_from_two_boots_stay_apart() {
    let first = log_lines(0..30);
    let second = log_lines(100..130);
    let mut records = efi_dump(1_700_000_000, "Panic", 1, &first, 3);
    records.extend(efi_dump(1_700_086_400, "Panic", 1, &second, 3));
    for r in &mut records {
        r.mtime = None;
    }
    let crashes = assemble(records);
    assert_eq!(crashes.len(), 2);
    assert_eq!(crashes[0].crash_time, Some(1_700_000_000));
    assert_eq!(crashes[0].dmesg, text(&first));
    assert_eq!(crashes[1].crash_time, Some(1_700_086_400));
    assert_eq!(crashes[1].dmesg, text(&second));
}

#[test]
fn erst_time_falls_back_to_the_record_id() {
    let id = (1_700_000_000u64 << 32) + 7;
    let crashes = assemble(vec![record(
        &format!("dmesg-erst-{id}"),
        with_header("Panic", 1, 1, b"<0>[ 1.000000] x\n"),
        None,
    )]);
    assert_eq!(crashes[0].crash_time, Some(1_700_000_000));
}

#[test]
fn cut_short_enc_z_gives_its_head_and_keeps_the_bytes() {
    let lines = log_lines(0..400);
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&with_header("Panic", 1, 1, &text(&lines)))
        .unwrap();
    let mut packed = enc.finish().unwrap();
    packed.truncate(packed.len() / 2);
    let crashes = assemble(vec![record(
        "dmesg-ramoops-0.enc.z",
        packed.clone(),
        Some(5),
    )]);
    let c = &crashes[0];
    assert!(c.partial);
    assert!(c.gaps[0].contains("cut short"), "{:?}", c.gaps);
    assert!(text(&lines).starts_with(&c.dmesg[..c.dmesg.len() - 40]));
    assert!(c.dmesg.len() > 1000);
    assert_eq!(
        c.extra_files,
        [("dmesg-ramoops-0.enc.z".to_owned(), packed)]
    );
}
