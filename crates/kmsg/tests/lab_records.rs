//! The lab's real records (tests/fixtures/lab): Debian 6.1 under QEMU crashed by the
//! crash-test module's NULL write, kept by four pstore backends and seen on the serial
//! console. Every single-record dmesg file and every serial log must give the same crash.

use std::fs;
use std::path::{Path, PathBuf};

use kmsg::analyze;

/// Single-part dmesg records (multi-part EFI/ERST parts are pstore's to reassemble) and
/// serial captures of every lab scenario.
fn lab_logs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/lab");
    let mut out = Vec::new();
    let Ok(arches) = fs::read_dir(&root) else {
        return out;
    };
    for arch in arches.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        for scenario in fs::read_dir(&arch).into_iter().flatten().flatten() {
            let dir = scenario.path();
            out.push(dir.join("serial.log"));
            for record in fs::read_dir(dir.join("pstore"))
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = record.file_name().to_string_lossy().into_owned();
                if name.starts_with("dmesg-ramoops-") || name.starts_with("dmesg-pstore_blk-") {
                    out.push(record.path());
                }
            }
        }
    }
    out.retain(|p| p.is_file());
    out.sort();
    out
}

#[test]
fn every_lab_record_names_the_null_write() {
    let logs = lab_logs();
    assert!(
        !logs.is_empty(),
        "no lab records in tests/fixtures/lab (cargo xtask lab --save-fixtures makes them)"
    );
    let mut signatures = Vec::new();
    for path in &logs {
        let a = analyze(&String::from_utf8_lossy(&fs::read(path).unwrap()));
        let at = path.display();
        assert_eq!(a.class, "null-pointer-dereference", "{at}");
        assert_eq!(a.function.as_deref(), Some("lastgasp_null_write"), "{at}");
        assert_eq!(a.kernel_release.as_deref(), Some("6.1.0-56-amd64"), "{at}");
        assert_eq!(
            a.kernel_build.as_deref(),
            Some("#1 Debian 6.1.192-2"),
            "{at}"
        );
        assert_eq!(a.fault_address.as_deref(), Some("0000000000000010"), "{at}");
        assert_eq!(
            a.signature_frames.get(1).map(String::as_str),
            Some("lastgasp_crashtest:lastgasp_crash"),
            "{at}"
        );
        let taint = a.taint.as_ref().unwrap();
        assert_eq!(taint.flags, ["OOT_MODULE", "UNSIGNED_MODULE"], "{at}");
        signatures.push(a.signature);
    }
    signatures.dedup();
    assert_eq!(signatures.len(), 1, "{signatures:?} from {logs:?}");
}
