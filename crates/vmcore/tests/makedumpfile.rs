//! Differential tests against the real `makedumpfile --dump-dmesg` (Debian's 1.7.2) and
//! `vmcore-dmesg` (kexec-tools 2.0.25): synthetic vmcores with awkward logs (wrapped rings,
//! embedded newlines, control and non-ASCII bytes, data-less records, the pre-5.10 layout) must
//! give byte-identical text in each tool's format. Skipped, saying so, where a tool is not
//! installed.

use std::path::Path;
use std::process::Command;

use vmcore::Vmcore;
use vmcore::synthetic_kernel::{SyntheticKernel, SyntheticRecord};

fn makedumpfile_dmesg(vmcore: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("vmcore");
    let output = dir.path().join("dmesg");
    std::fs::write(&input, vmcore).unwrap();
    let run = Command::new("makedumpfile")
        .arg("--dump-dmesg")
        .arg(&input)
        .arg(&output)
        .output();
    match run {
        Err(e) => {
            panic!("cannot run makedumpfile (Debian's makedumpfile, as .ci/run installs): {e}")
        }
        Ok(out) => {
            assert!(
                out.status.success(),
                "makedumpfile failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::fs::read(&output).unwrap()
        }
    }
}

fn vmcore_dmesg(vmcore: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("vmcore");
    std::fs::write(&input, vmcore).unwrap();
    let out = Command::new("vmcore-dmesg")
        .arg(&input)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run vmcore-dmesg (Debian's kexec-tools, as .ci/run installs): {e}")
        });
    assert!(
        out.status.success(),
        "vmcore-dmesg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn ours(vmcore: Vec<u8>) -> Vec<u8> {
    read(vmcore).to_makedumpfile_text()
}

fn read(vmcore: Vec<u8>) -> vmcore::Log {
    let core = Vmcore::from_source(vmcore, Path::new("synthetic").into()).unwrap();
    let log = core.dmesg().unwrap();
    assert!(log.complete, "{:?}", log.warnings);
    log
}

/// Texts with everything the formatter treats specially, varied by `seed`.
fn awkward_records(n: usize, seed: u64) -> Vec<SyntheticRecord> {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    (0..n)
        .map(|i| {
            let mut text = format!("record {i}: ").into_bytes();
            for _ in 0..next() % 90 {
                let pick = next() % 20;
                text.push(match pick {
                    0 => b'\n',
                    1 => b'\t',
                    2 => (next() % 32) as u8,
                    3 => 0x7f,
                    4 => 0x80 + (next() % 128) as u8,
                    5 => b'\r',
                    _ => b'a' + (next() % 26) as u8,
                });
            }
            if next() % 17 == 0 {
                text.clear();
            }
            SyntheticRecord::new(next() * 1_000 + i as u64 + 1, &text)
        })
        .collect()
}

#[test]
fn lockless_rings_match_makedumpfile() {
    for (seed, count_bits, size_bits, n) in [
        (1, 8, 15, 100),
        (2, 5, 11, 400),
        (3, 4, 12, 1000),
        (4, 9, 10, 50),
    ] {
        let mut kernel = SyntheticKernel::new();
        kernel.lockless_ring(
            &awkward_records(n, seed),
            count_bits,
            size_bits,
            seed * 1000,
        );
        kernel.describe_flatmem();
        let vmcore = kernel.elf(2);
        let expected = makedumpfile_dmesg(&vmcore);
        assert!(!expected.is_empty());
        let got = ours(vmcore);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "seed {seed}"
        );
        assert_eq!(got, expected, "seed {seed}");
    }
}

#[test]
fn structured_logs_match_makedumpfile() {
    for (seed, buf_len, n) in [(5, 8192, 60), (6, 2048, 300)] {
        let mut kernel = SyntheticKernel::new();
        let records: Vec<SyntheticRecord> = awkward_records(n, seed)
            .into_iter()
            .filter(|r| !r.text.is_empty())
            .collect();
        kernel.structured_log(&records, buf_len);
        kernel.describe_flatmem();
        let vmcore = kernel.elf(1);
        let expected = makedumpfile_dmesg(&vmcore);
        assert!(!expected.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&ours(vmcore)),
            String::from_utf8_lossy(&expected),
            "seed {seed}"
        );
    }
}

#[test]
fn logs_match_vmcore_dmesg() {
    for (seed, count_bits, size_bits, n) in [(7, 8, 15, 150), (8, 5, 11, 400)] {
        let mut kernel = SyntheticKernel::new();
        kernel.lockless_ring(&awkward_records(n, seed), count_bits, size_bits, seed << 40);
        let vmcore = kernel.elf(1);
        let expected = vmcore_dmesg(&vmcore);
        assert!(!expected.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&read(vmcore).to_vmcore_dmesg_text()),
            String::from_utf8_lossy(&expected),
            "seed {seed}"
        );
    }
    let mut kernel = SyntheticKernel::new();
    let records: Vec<SyntheticRecord> = awkward_records(300, 9)
        .into_iter()
        .filter(|r| !r.text.is_empty())
        .collect();
    kernel.structured_log(&records, 4096);
    let vmcore = kernel.elf(1);
    let expected = vmcore_dmesg(&vmcore);
    // vmcore-dmesg prints the zeroed wrap marker of a pre-5.10 log as if it were a record, an
    // empty line at time 0; no record here has time 0.
    let expected = String::from_utf8_lossy(&expected).replace("[    0.000000] \n", "");
    assert_eq!(
        String::from_utf8_lossy(&read(vmcore).to_vmcore_dmesg_text()),
        expected
    );
}
