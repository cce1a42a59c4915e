//! The same crash read from every kind of log text gives the same analysis: a pstore record,
//! a serial console capture with noise, journalctl and dmesg in their output formats, /dev/kmsg
//! records, a log with printk caller ids, one without timestamps, and pastes with the damage
//! copying adds (blank lines, quoting, CRLF, line numbers, cut-off heads and tails).

use kmsg::analyze;

fn pstore_text(name: &str) -> String {
    let path = format!(
        "{}/tests/corpus/{name}/boot1.log",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `<N>[ ts] text` or `[ ts] text` lines split into (timestamp, text); other lines dropped.
fn messages(pstore: &str) -> Vec<(String, String)> {
    pstore
        .lines()
        .filter_map(|l| {
            let rest = match l.strip_prefix('<') {
                Some(r) => r.split_once('>')?.1,
                None => l,
            };
            let (ts, text) = rest.strip_prefix('[')?.split_once("] ")?;
            Some((ts.trim().to_owned(), text.to_owned()))
        })
        .collect()
}

fn serial(pstore: &str) -> String {
    let mut out =
        String::from("U-Boot noise\r\n~ # echo null > /sys/module/x/parameters/crash\r\n");
    for (i, (ts, text)) in messages(pstore).iter().enumerate() {
        // A shell prompt that the kernel's output interrupted mid-line.
        let noise = if i == 3 { "~ # " } else { "" };
        out.push_str(&format!("{noise}[{ts:>12}] {text}\r\n"));
    }
    out.push_str("LASTGASP-LAB: collected\r\n");
    out
}

fn journal_short(pstore: &str) -> String {
    let mut out = String::from("Nov 26 03:11:59 host systemd[1]: Started Session 1.\n");
    for (_, text) in messages(pstore) {
        out.push_str(&format!("Nov 26 03:12:01 host kernel: {text}\n"));
    }
    out
}

fn journal_monotonic(pstore: &str) -> String {
    messages(pstore)
        .iter()
        .map(|(ts, text)| format!("[{ts:>12}] host kernel: {text}\n"))
        .collect()
}

fn journal_iso(pstore: &str) -> String {
    messages(pstore)
        .iter()
        .map(|(_, text)| format!("2026-11-26T03:12:01+0000 host kernel: {text}\n"))
        .collect()
}

fn journal_full_and_unix(pstore: &str) -> String {
    messages(pstore)
        .iter()
        .enumerate()
        .map(|(i, (_, text))| {
            if i % 2 == 0 {
                format!("Thu 2026-11-26 03:12:01 UTC host kernel: {text}\n")
            } else {
                format!("1795663921.123456 host kernel: {text}\n")
            }
        })
        .collect()
}

fn dmesg_human(pstore: &str) -> String {
    messages(pstore)
        .iter()
        .map(|(_, text)| format!("[Thu Nov 26 03:12:01 2026] {text}\n"))
        .collect()
}

fn dmesg_decoded(pstore: &str) -> String {
    messages(pstore)
        .iter()
        .map(|(ts, text)| format!("kern  :warn  : [{ts:>12}] {text}\n"))
        .collect()
}

fn devkmsg(pstore: &str) -> String {
    messages(pstore)
        .iter()
        .enumerate()
        .map(|(seq, (ts, text))| {
            let micros = (ts.parse::<f64>().unwrap() * 1e6).round() as u64;
            format!("4,{seq},{micros},-;{text}\n")
        })
        .collect()
}

fn with_callers(pstore: &str) -> String {
    messages(pstore)
        .iter()
        .map(|(ts, text)| format!("<4>[{ts:>12}][   T85] {text}\n"))
        .collect()
}

fn without_timestamps(pstore: &str) -> String {
    messages(pstore)
        .iter()
        .map(|(_, text)| format!("<4>{text}\n"))
        .collect()
}

/// A console capture pasted into a bug report: a blank line after every line (a mail client or
/// a terminal that doubled the newlines), markdown quoting, CRLF line ends.
fn pasted(pstore: &str) -> String {
    messages(pstore)
        .iter()
        .map(|(ts, text)| format!("> [{ts:>12}] {text}\r\n\r\n"))
        .collect()
}

/// The same without timestamps, quoted twice (a reply to a reply).
fn pasted_without_timestamps(pstore: &str) -> String {
    messages(pstore)
        .iter()
        .map(|(_, text)| format!("> > {text}\n\n"))
        .collect()
}

/// `cat -n` (and `nl`) of the record: the number right-aligned in six columns and a tab.
fn cat_n(pstore: &str) -> String {
    pstore
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{:>6}\t{l}\n", i + 1))
        .collect()
}

/// A web pastebin's view copied with its line numbers (`120 | `), starting mid-file, serial
/// capture with CRLF.
fn pastebin(pstore: &str) -> String {
    messages(pstore)
        .iter()
        .enumerate()
        .map(|(i, (ts, text))| format!("{:>4} | [{ts:>12}] {text}\r\n", i + 120))
        .collect()
}

/// `grep -n` output (`12:`) of a log without timestamps: frame lines keep their leading space.
fn grep_n(pstore: &str) -> String {
    messages(pstore)
        .iter()
        .enumerate()
        .map(|(i, (_, text))| format!("{}:{text}\n", i + 7))
        .collect()
}

/// An editor's number column (`  12 `) over a markdown-quoted paste.
fn editor_numbers(pstore: &str) -> String {
    messages(pstore)
        .iter()
        .enumerate()
        .map(|(i, (ts, text))| format!("> {:>3} [{ts:>12}] {text}\n", i + 1))
        .collect()
}

#[test]
fn same_signature_from_every_format() {
    for name in [
        "x86_64/null",
        "x86_64/warn",
        "x86_64/softlockup",
        "x86_64/hung",
        "x86_64/sysrq",
        "x86_64/oom",
    ] {
        let pstore = pstore_text(name);
        let reference = analyze(&pstore);
        assert_ne!(reference.class, "unknown", "{name}");
        let variants = [
            ("serial", serial(&pstore)),
            ("journal-short", journal_short(&pstore)),
            ("journal-monotonic", journal_monotonic(&pstore)),
            ("journal-iso", journal_iso(&pstore)),
            ("journal-full-unix", journal_full_and_unix(&pstore)),
            ("dmesg-T", dmesg_human(&pstore)),
            ("dmesg-x", dmesg_decoded(&pstore)),
            ("devkmsg", devkmsg(&pstore)),
            ("callers", with_callers(&pstore)),
            ("no-timestamps", without_timestamps(&pstore)),
            ("pasted", pasted(&pstore)),
            ("pasted-no-timestamps", pasted_without_timestamps(&pstore)),
            ("cat-n", cat_n(&pstore)),
            ("pastebin-numbers", pastebin(&pstore)),
            ("grep-n", grep_n(&pstore)),
            ("editor-numbers", editor_numbers(&pstore)),
        ];
        for (format, text) in variants {
            let a = analyze(&text);
            assert_eq!(a.signature, reference.signature, "{name} as {format}");
            assert_eq!(
                a.signature_frames, reference.signature_frames,
                "{name} as {format}"
            );
            assert_eq!(
                a.kernel_release, reference.kernel_release,
                "{name} as {format}"
            );
            assert_eq!(a.frames, reference.frames, "{name} as {format}");
        }
    }
}

#[test]
fn serial_keeps_timestamps() {
    let pstore = pstore_text("x86_64/null");
    let a = analyze(&serial(&pstore));
    assert_eq!(a.crash_time, Some(27.123456));
}

#[test]
fn interleaved_other_cpu_lines_are_ignored_with_caller_ids() {
    let pstore = pstore_text("x86_64/null");
    let mut text = String::new();
    for (ts, line) in messages(&pstore) {
        text.push_str(&format!("<4>[{ts:>12}][   T85] {line}\n"));
        // Another CPU printing its own backtrace at the same time.
        text.push_str(&format!(
            "<4>[{ts:>12}][    C1]  other_cpu_func+0x10/0x20\n"
        ));
        text.push_str(&format!(
            "<4>[{ts:>12}][    C1] CPU: 1 PID: 0 Comm: swapper/1 Not tainted 6.1.0-56-amd64 #1\n"
        ));
    }
    let a = analyze(&text);
    let reference = analyze(&pstore);
    assert_eq!(a.signature, reference.signature);
    assert_eq!(a.pid, Some(85));
}

/// A paste cut anywhere before the crash's first line, or anywhere after the last line its
/// signature reads (mid-line, without a final newline, with or without the panic), gives the
/// whole record's signature, function and release.
#[test]
fn cut_off_heads_and_tails_keep_the_signature() {
    for name in [
        "x86_64/null",
        "x86_64/warn",
        "x86_64/softlockup",
        "x86_64/hung",
    ] {
        let pstore = pstore_text(name);
        let reference = analyze(&pstore);
        let last_name = reference
            .signature_frames
            .last()
            .map(|n| n.rsplit(':').next().unwrap_or(n))
            .unwrap_or_else(|| panic!("{name}: no signature frames"));
        let headline = reference.headline.as_deref().unwrap();
        let crash_at = pstore.find(headline).unwrap();
        let head_start = pstore[..crash_at].rfind('\n').unwrap_or(0);
        // The end of the line that holds the last signature frame of the first trace.
        let trace_at = pstore[crash_at..].find(last_name).unwrap() + crash_at;
        let tail_end = pstore[trace_at..].find('\n').unwrap() + trace_at + 1;
        let cuts = (0..=head_start)
            .filter(|&c| pstore.is_char_boundary(c))
            .map(|c| (&pstore[c..], format!("head cut at {c}")))
            .chain(
                (tail_end..pstore.len())
                    .filter(|&c| pstore.is_char_boundary(c))
                    .map(|c| (&pstore[..c], format!("tail cut at {c}"))),
            );
        for (text, what) in cuts {
            let a = analyze(text);
            assert_eq!(a.signature, reference.signature, "{name}: {what}");
            assert_eq!(a.function, reference.function, "{name}: {what}");
        }
    }
}

/// A record that begins inside the oops (its headline scrolled out of pstore, or the paste
/// started lower) still names the faulting function and the trace it kept; the class is the
/// one the panic message gives (`oops` for `Fatal exception`).
#[test]
fn a_head_cut_inside_the_oops_keeps_its_function_and_frames() {
    let pstore = pstore_text("x86_64/null");
    let reference = analyze(&pstore);
    let from = pstore.find("Oops: 0002").unwrap();
    let to = pstore.find("Call Trace:").unwrap();
    let mut seen = 0;
    for cut in (from..to).filter(|&c| pstore.is_char_boundary(c)) {
        let a = analyze(&pstore[cut..]);
        assert_eq!(a.class, "oops", "cut at {cut}");
        assert_eq!(a.function, reference.function, "cut at {cut}");
        assert_eq!(
            a.faulting_function, reference.faulting_function,
            "cut at {cut}"
        );
        assert_eq!(
            a.signature_frames, reference.signature_frames,
            "cut at {cut}"
        );
        assert_eq!(a.panic_message, reference.panic_message, "cut at {cut}");
        seen += 1;
    }
    assert!(seen > 500);
    // Cut inside the trace, mid-line too: the frames left are the record's, none is the end of
    // a name (`ite` of `vfs_write`).
    let names: Vec<&str> = reference
        .frames
        .iter()
        .map(|f| f.function.as_str())
        .collect();
    let end = pstore.find("RIP: 0033").unwrap();
    for cut in (to..end).filter(|&c| pstore.is_char_boundary(c)) {
        let a = analyze(&pstore[cut..]);
        let left: Vec<&str> = a.frames.iter().map(|f| f.function.as_str()).collect();
        assert!(names.ends_with(&left), "cut at {cut}: {left:?}");
        assert!(
            left.len() + 1 >= names.len() - names_before(&pstore, cut),
            "cut at {cut}: {left:?}"
        );
        assert_eq!(
            a.faulting_function, reference.faulting_function,
            "cut at {cut}"
        );
    }
    // Twice cut at other places: one signature.
    let a = analyze(&pstore[from + 3..]);
    let b = analyze(&pstore[to - 7..]);
    assert_eq!(a.signature, b.signature);
    assert!(a.signature.starts_with("oops-lastgasp_null_write-"));
}

/// How many frame lines of `log`'s first trace begin before `cut`.
fn names_before(log: &str, cut: usize) -> usize {
    let trace = log.find("Call Trace:").unwrap();
    log[trace..cut.max(trace)]
        .lines()
        .skip(1)
        .filter(|l| l.contains("+0x"))
        .count()
}

/// Without caller ids, another CPU's NMI backtrace printed in the middle of the oops (here
/// between its registers and its trace) is told apart by the CPU and PID of the oops's own
/// `CPU:` line, and a WARNING's by the CPU and PID its headline names.
#[test]
fn interleaved_nmi_backtrace_without_caller_ids() {
    let other_cpu = "\
[   27.123950] NMI backtrace for cpu 1
[   27.123951] CPU: 1 PID: 0 Comm: swapper/1 Tainted: G           O       6.1.0-56-amd64 #1  Debian 6.1.192-2
[   27.123952] RIP: 0010:default_idle+0xb/0x10
[   27.123953] Code: 07 76 e7 48 83 c4 18 5b 5d 41 5c 41 5d 41 5e 41 5f c3 cc cc cc cc 0f 1f 44 00 00 eb 07 0f 00 2d 63 43 39 00 fb f4 <c3> cc cc cc cc 66 66 2e 0f 1f 84 00 00 00 00 00 66 90 0f 1f 44 00
[   27.123954] RSP: 0018:ffffa8e4c0093ed8 EFLAGS: 00000252
[   27.123955] Call Trace:
[   27.123956]  <NMI>
[   27.123957]  ? nmi_cpu_backtrace+0x87/0xf0
[   27.123958]  ? nmi_handle+0x5a/0x150
[   27.123959]  ? default_idle+0xb/0x10
[   27.123960]  </NMI>
[   27.123961]  <TASK>
[   27.123962]  default_idle_call+0x2c/0xe0
[   27.123963]  do_idle+0x226/0x270
[   27.123964]  cpu_startup_entry+0x1d/0x20
[   27.123965]  start_secondary+0x129/0x160
[   27.123966]  secondary_startup_64_no_verify+0xe5/0xeb
[   27.123967]  </TASK>
";
    for name in ["x86_64/null", "x86_64/warn"] {
        let pstore = pstore_text(name);
        let plain: String = messages(&pstore)
            .iter()
            .map(|(ts, text)| format!("[{ts:>12}] {text}\n"))
            .collect();
        let reference = analyze(&plain);
        let at = plain.find("Call Trace:").unwrap();
        let at = plain[..at].rfind('[').unwrap();
        let mixed = format!("{}{other_cpu}{}", &plain[..at], &plain[at..]);
        let a = analyze(&mixed);
        assert_eq!(a.signature, reference.signature, "{name}");
        assert_eq!(a.frames, reference.frames, "{name}");
        assert_eq!(a.faulting_function, reference.faulting_function, "{name}");
        assert_eq!((a.cpu, a.pid), (reference.cpu, reference.pid), "{name}");
        assert!(!a.frames.iter().any(|f| f.function == "do_idle"), "{name}");
    }
}

/// Without caller ids, a WARNING another CPU raised while the oops was printing (between its
/// registers and its trace) is neither merged into the oops nor ends it with its `---[ end
/// trace`: the oops keeps its signature, frames and task.
#[test]
fn interleaved_warning_of_another_cpu_without_caller_ids() {
    let other = "\
[   27.123950] ------------[ cut here ]------------
[   27.123951] WARNING: CPU: 1 PID: 412 at net/core/dev.c:3320 skb_warn_bad_offload+0x8f/0xe0
[   27.123952] Modules linked in: lastgasp_crashtest(O) ramoops reed_solomon
[   27.123953] CPU: 1 PID: 412 Comm: kworker/1:2 Tainted: G           O       6.1.0-56-amd64 #1  Debian 6.1.192-2
[   27.123954] RIP: 0010:skb_warn_bad_offload+0x8f/0xe0
[   27.123955] RSP: 0018:ffffa8e4c0093ed8 EFLAGS: 00010282
[   27.123956] Call Trace:
[   27.123957]  <TASK>
[   27.123958]  __skb_gso_segment+0x1a0/0x1c0
[   27.123959]  validate_xmit_skb+0x1f1/0x330
[   27.123960]  __dev_queue_xmit+0x6e1/0xd10
[   27.123961]  </TASK>
[   27.123962] ---[ end trace 0000000000000000 ]---
";
    let pstore = pstore_text("x86_64/null");
    let plain: String = messages(&pstore)
        .iter()
        .map(|(ts, text)| format!("[{ts:>12}] {text}\n"))
        .collect();
    let reference = analyze(&plain);
    let at = plain.find("Call Trace:").unwrap();
    let at = plain[..at].rfind('[').unwrap();
    let a = analyze(&format!("{}{other}{}", &plain[..at], &plain[at..]));
    assert_eq!(a.signature, reference.signature);
    assert_eq!(a.frames, reference.frames);
    assert_eq!((a.cpu, a.pid), (reference.cpu, reference.pid));
    assert_eq!(a.class, "null-pointer-dereference");
}
