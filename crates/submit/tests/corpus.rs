//! Scrubbing on the project's real kernel logs: every log of the corpora, as it is and with
//! identifiers planted in it, keeps its signature, class, function and frames when scrubbed; no
//! planted identifier survives; scrubbing twice changes nothing. And a report made of a real
//! crash goes out with its analysis as computed and every file's digest matching its content.

mod common;

use std::fs;

use kmsg::analyze;
use sha2::{Digest, Sha256};
use submit::payload;
use submit::scrub::{Identifiers, Kind, Scrubber};

const MAC: &str = "52:54:00:12:34:56";
const IPV4: &str = "192.168.7.23";
const IPV6: &str = "fe80::5054:ff:fe12:3456";
const UUID: &str = "0a1b2c3d-4e5f-4789-abcd-ef0123456789";
const MACHINE_ID: &str = "6d2f1e0c9b8a47f3a1b2c3d4e5f60718";
const SERIAL: &str = "PF3XYZ12";

fn scrubber() -> Scrubber {
    let ids = Identifiers {
        // Debian's QEMU guests are called "debian", which their BIOS version also names.
        hostnames: ["pluto", "debian"].iter().map(|h| h.to_string()).collect(),
        secrets: vec![
            (MACHINE_ID.to_string(), Kind::MachineId),
            (SERIAL.to_string(), Kind::Serial),
        ],
    };
    Scrubber::new(&ids, &[r"secret-\w+".to_string()]).unwrap()
}

/// Lines a real machine prints, with identifiers, after every 25th line, in the prefix
/// (`<6>[  1.0]`, `[  1.0]`, none) of the line before.
fn plant(log: &str) -> String {
    let planted = [
        format!("e1000 0000:00:03.0 eth0: (PCI:33MHz:32-bit) {MAC}"),
        format!("IPv4 {IPV4} and IPv6 {IPV6} on pluto"),
        format!("EXT4-fs (vda1): mounted filesystem {UUID} r/w; machine {MACHINE_ID}"),
        format!("module built in /home/alice/src for pluto.example.org, chassis {SERIAL}"),
        "usb 1-1: SerialNumber: 0123ABC secret-sauce".to_string(),
    ];
    let mut out = String::new();
    for (n, line) in log.lines().enumerate() {
        out.push_str(line);
        out.push('\n');
        if n % 25 == 24 {
            let prefix = line.find("] ").map_or("", |at| &line[..at + 2]);
            let extra = &planted[(n / 25) % planted.len()];
            out.push_str(&format!("{prefix}{extra}\n"));
        }
    }
    out
}

fn identity(a: &kmsg::Analysis) -> (String, String, Option<String>, Vec<String>) {
    (
        a.signature.clone(),
        a.class.clone(),
        a.function.clone(),
        a.signature_frames.clone(),
    )
}

#[test]
fn every_corpus_log_keeps_its_signature_when_scrubbed() {
    let scrubber = scrubber();
    let mut planted_logs = 0;
    for path in common::corpus_logs() {
        let bytes = fs::read(&path).unwrap();
        let log = String::from_utf8_lossy(&bytes);
        let name = path.display();
        for text in [log.to_string(), plant(&log)] {
            let scrubbed = scrubber.scrub(&text);
            assert_eq!(
                identity(&analyze(&scrubbed)),
                identity(&analyze(&text)),
                "{name}: scrubbing changed the analysis"
            );
            assert_eq!(
                scrubber.scrub(&scrubbed),
                scrubbed,
                "{name}: not idempotent"
            );
            for planted in [
                MAC,
                IPV4,
                IPV6,
                UUID,
                MACHINE_ID,
                SERIAL,
                "alice",
                "pluto",
                "0123ABC",
                "secret-sauce",
            ] {
                assert!(!scrubbed.contains(planted), "{name}: {planted} survived");
            }
            if text.contains(MAC) {
                planted_logs += 1;
                assert!(scrubbed.contains("<mac>"), "{name}");
            }
            if text.contains("/home/alice/src") {
                assert!(scrubbed.contains("/home/<user>/src"), "{name}");
            }
        }
    }
    assert!(
        planted_logs > 100,
        "only {planted_logs} logs had identifiers planted"
    );
}

#[test]
fn a_real_crash_report_goes_out_scrubbed_with_its_analysis() {
    let tmp = tempfile::tempdir().unwrap();
    let logs: Vec<String> = ["null", "bug", "warn"]
        .iter()
        .map(|kind| plant(&common::lab_log(kind)))
        .collect();
    let refs: Vec<&str> = logs.iter().map(String::as_str).collect();
    let (store, ids) = common::store_of(&tmp.path().join("reports"), &refs);
    let staging = tmp.path().join("staging");
    fs::create_dir_all(&staging).unwrap();
    let machine = Identifiers {
        hostnames: Default::default(),
        secrets: vec![(MACHINE_ID.to_string(), Kind::MachineId)],
    };
    for (id, log) in ids.iter().zip(&logs) {
        let original = analyze(log);
        let out = payload::build(&store, id, &machine, &[], &staging).unwrap();
        assert_eq!(out.signature.as_deref(), Some(original.signature.as_str()));
        assert!(out.left_out.is_empty());
        let files = payload::contents(&out.archive).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                format!("{id}/context/journal.txt"),
                format!("{id}/dmesg.txt"),
                format!("{id}/report.json"),
            ]
        );
        let manifest: serde_json::Value = serde_json::from_slice(&files[2].bytes).unwrap();
        let kept: kmsg::Analysis = serde_json::from_value(manifest["analysis"].clone()).unwrap();
        assert_eq!(identity(&kept), identity(&original));
        for file in &files[..2] {
            let text = std::str::from_utf8(&file.bytes).unwrap();
            // The host the journal names is scrubbed everywhere, though no file under the
            // root names it.
            for planted in [MAC, IPV4, MACHINE_ID, "alice", "pluto"] {
                assert!(!text.contains(planted), "{}: {planted} survived", file.name);
            }
            let short = file.name.strip_prefix(&format!("{id}/")).unwrap();
            let listed = manifest["files"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == short)
                .unwrap();
            assert_eq!(listed["size"], file.bytes.len());
            assert_eq!(listed["sha256"], hex::encode(Sha256::digest(&file.bytes)));
        }
        let dmesg = std::str::from_utf8(&files[1].bytes).unwrap();
        assert_eq!(identity(&analyze(dmesg)), identity(&original));
        assert!(
            fs::read_dir(&staging).unwrap().next().is_none(),
            "staging left behind"
        );
    }
}

#[test]
fn a_log_with_damaged_bytes_still_goes_out() {
    let tmp = tempfile::tempdir().unwrap();
    let log = common::lab_log("null");
    let store = report::Store::open(tmp.path().join("reports"));
    let mut damaged = common::report_of(&log, 1_764_000_000);
    for file in &mut damaged.files {
        if file.name == "dmesg.txt" {
            file.data.splice(10..10, [0xff, 0xfe]);
        }
    }
    let id = store.write(&damaged).unwrap().id;
    let staging = tmp.path().join("staging");
    fs::create_dir_all(&staging).unwrap();
    let out = payload::build(&store, &id, &Identifiers::default(), &[], &staging).unwrap();
    assert!(out.left_out.is_empty());
    let files = payload::contents(&out.archive).unwrap();
    let dmesg = files
        .iter()
        .find(|f| f.name == format!("{id}/dmesg.txt"))
        .expect("dmesg.txt goes out");
    let text = std::str::from_utf8(&dmesg.bytes).unwrap();
    assert!(text.contains('\u{fffd}'));
    assert_eq!(identity(&analyze(text)), identity(&analyze(&log)));
}
