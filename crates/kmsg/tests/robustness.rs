//! Bad input: huge logs, binary noise, truncated oopses, pathological lines. Nothing may
//! panic, and the work must stay linear.

use std::time::{Duration, Instant};

use kmsg::analyze;

fn sample(name: &str) -> String {
    let path = format!(
        "{}/tests/corpus/{name}/boot1.log",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A deterministic byte stream, so failures reproduce.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[test]
fn ten_mib_log_with_the_crash_at_the_end() {
    let mut text = String::with_capacity(11 << 20);
    let mut i = 0u64;
    while text.len() < 10 << 20 {
        text.push_str(&format!(
            "<6>[{:>5}.{:06}] usb 1-1: new high-speed USB device number {i} using xhci_hcd\n",
            i / 1000,
            i % 1000
        ));
        i += 1;
    }
    text.push_str(&sample("x86_64/null"));
    let started = Instant::now();
    let a = analyze(&text);
    let took = started.elapsed();
    assert_eq!(a.class, "null-pointer-dereference");
    assert_eq!(a.signature, analyze(&sample("x86_64/null")).signature);
    // Generous for a debug build on a loaded machine; a quadratic scan takes minutes.
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn ten_mib_single_line_and_many_brackets() {
    let one_line = "[".repeat(10 << 20);
    assert_eq!(analyze(&one_line).class, "unknown");
    let brackets = "x [ 1.5 [<ffffffff> [#1 [T1 ".repeat(400_000);
    let started = Instant::now();
    let _ = analyze(&brackets);
    assert!(started.elapsed() < Duration::from_secs(30));
    // Many lines that each open a crash block.
    let headlines = "Oops: 0002 [#1] SMP\nCall Trace:\n f+0x1/0x2\n".repeat(200_000);
    let started = Instant::now();
    assert_eq!(analyze(&headlines).class, "oops");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn binary_noise() {
    for seed in 1..40 {
        let bytes = noise(64 << 10, seed);
        let a = analyze(&String::from_utf8_lossy(&bytes));
        assert!(!a.signature.is_empty());
    }
    // Noise spliced into a real record keeps the crash findable.
    let mut text = sample("x86_64/bug");
    let mid = text.find("Call Trace:").unwrap();
    let junk = String::from_utf8_lossy(&noise(4096, 7)).replace('\n', " ");
    text.insert_str(mid, &format!("{junk}\n"));
    assert_eq!(analyze(&text).class, "bug");
}

#[test]
fn every_truncation_of_every_sample() {
    let root = format!("{}/tests/corpus", env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    for arch in std::fs::read_dir(&root).unwrap() {
        let arch = arch.unwrap().path();
        if !arch.is_dir() {
            continue;
        }
        for kind in std::fs::read_dir(&arch).unwrap() {
            paths.push(kind.unwrap().path().join("boot1.log"));
        }
    }
    assert!(paths.len() > 10);
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut cut = 0;
        // Cut at every line end and in the middle of every line, from either side, as a
        // record that lost its head or tail would be.
        while cut < text.len() {
            let head = &text[..cut];
            let tail = &text[cut..];
            let _ = analyze(head).render_text();
            let _ = analyze(tail).render_text();
            cut = match text[cut..].find('\n') {
                Some(n) if n > 2 && text.is_char_boundary(cut + n / 2) && cut % 2 == 0 => {
                    cut + n / 2
                }
                Some(n) => cut + n + 1,
                None => text.len(),
            };
        }
    }
}

#[test]
fn truncated_oops_still_names_what_is_left() {
    // Only the panic survived: the record was too small for the oops.
    let a = analyze("<0>[ 9.0] Kernel panic - not syncing: Fatal exception\n");
    assert_eq!(a.class, "oops");
    assert_eq!(a.panic_message.as_deref(), Some("Fatal exception"));
    assert!(
        a.signature.starts_with("oops-fatal-exception-"),
        "{}",
        a.signature
    );
    // The head of an oops without its end.
    let text = sample("x86_64/null");
    let head = &text[..text.find(" lastgasp_crash+").unwrap()];
    let a = analyze(head);
    assert_eq!(a.class, "null-pointer-dereference");
    assert_eq!(a.function.as_deref(), Some("lastgasp_null_write"));
}

#[test]
fn no_crash_is_unknown() {
    let a = analyze(
        "<6>[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1\n",
    );
    assert_eq!(a.class, "unknown");
    assert_eq!(a.kernel_release.as_deref(), Some("6.1.0-56-amd64"));
    assert!(a.signature.starts_with("unknown-unknown-"));
    assert_eq!(analyze("").class, "unknown");
}
