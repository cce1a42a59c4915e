//! One sender's recent kernel log and the crash-watching around it: a bounded window of lines
//! (oldest dropped first), partial plain lines and extended fragments put back together, and
//! the decision when a crash in the window is complete enough to report.
//!
//! Crash detection is the kmsg analysis itself (`kmsg::analyze`, the one lastgasp uses for
//! pstore and kdump logs): a window whose analysis finds a crash is reported when the panic's
//! last line (`---[ end Kernel panic`, or `Rebooting in N seconds..` with `panic=N`) arrives,
//! or after a quiet gap, or at the latest `max_wait` after the crash was first seen. Each crash
//! is reported once: after a panic's end nothing more of that boot is reported, and a signature
//! already reported in this boot is not again.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::datagram::{self, Datagram, Reassembly};

/// Bounds of what the receiver keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Lines kept per sender.
    pub max_lines: usize,
    /// Bytes of text kept per sender.
    pub max_bytes: usize,
    /// Senders followed at once; the one heard from least recently is forgotten for a new one.
    pub max_senders: usize,
    /// Silence after a crash (one that did not end in a panic line) before it is reported.
    pub quiet: Duration,
    /// Longest wait from a crash's discovery to its report on a sender that keeps talking.
    pub max_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_lines: 4000,
            max_bytes: 256 << 10,
            max_senders: 1024,
            quiet: Duration::from_secs(3),
            max_wait: Duration::from_secs(30),
        }
    }
}

/// Longest line kept; the rest of a longer one is dropped (the kmsg analysis cuts there too).
const MAX_LINE: usize = 4096;
/// The last line of a panic that halts; one that reboots (`panic=N`) ends with
/// `Rebooting in N seconds..` instead.
const PANIC_END: &str = "---[ end Kernel panic";
const PANIC_REBOOT: &str = "Rebooting in ";

/// A crash's log, ready to become a report.
#[derive(Debug, Clone)]
pub struct Captured {
    /// The window's lines, one per line, newline-terminated.
    pub log: String,
    pub analysis: kmsg::Analysis,
    /// What is known to be missing from `log`.
    pub gaps: Vec<String>,
}

/// One sender's state.
#[derive(Debug)]
pub struct Window {
    lines: VecDeque<String>,
    bytes: usize,
    /// Lines dropped from the front since this boot's window began.
    evicted: u64,
    /// Plain text after the last newline.
    partial: Vec<u8>,
    reassembly: Reassembly,
    /// Extended records missing between the sequence numbers seen.
    lost_records: u64,
    last_seq: Option<u64>,
    last_ts: Option<f64>,
    pub last_heard: Instant,
    /// New lines since the last analysis.
    dirty: bool,
    last_analysis: Option<Instant>,
    /// The crash waiting to be reported, and since when.
    pending: Option<Instant>,
    /// The panic's end line arrived: report now.
    panic_ended: bool,
    /// A panic of this boot was reported: nothing more is until the next boot.
    halted: bool,
    /// Signatures reported in this boot.
    reported: Vec<String>,
    /// Datagrams refused by the parser.
    pub refused: u64,
}

impl Window {
    pub fn new(now: Instant) -> Self {
        Self {
            lines: VecDeque::new(),
            bytes: 0,
            evicted: 0,
            partial: Vec::new(),
            reassembly: Reassembly::default(),
            lost_records: 0,
            last_seq: None,
            last_ts: None,
            last_heard: now,
            dirty: false,
            last_analysis: None,
            pending: None,
            panic_ended: false,
            halted: false,
            reported: Vec::new(),
            refused: 0,
        }
    }

    /// Takes one datagram. Returns a crash to report when this datagram completed one (its
    /// panic ended, or a new boot began while one was waiting).
    pub fn receive(&mut self, data: &[u8], limits: &Limits, now: Instant) -> Option<Captured> {
        self.last_heard = now;
        let mut out = None;
        match datagram::parse(data) {
            Err(_) => self.refused += 1,
            Ok(Datagram::Plain(text)) => self.plain(text, limits, &mut out),
            Ok(Datagram::Record { header, body }) => self.record(&header, body, limits, &mut out),
            Ok(Datagram::Piece {
                header,
                fragment,
                body,
            }) => {
                if let Some((header, body)) = self.reassembly.add(&header, fragment, body) {
                    self.record(&header, &body, limits, &mut out);
                }
            }
        }
        if out.is_none() && self.panic_ended && !self.halted {
            out = self.capture();
        }
        out
    }

    /// Called regularly: analyses a window that changed (at most once per quiet gap) and
    /// reports a crash whose sender went quiet or that waited `max_wait`.
    pub fn tick(&mut self, limits: &Limits, now: Instant) -> Option<Captured> {
        if self.halted {
            return None;
        }
        let quiet = now.saturating_duration_since(self.last_heard) >= limits.quiet;
        let due = self
            .last_analysis
            .is_none_or(|at| now.saturating_duration_since(at) >= limits.quiet);
        if self.dirty && (due || quiet) && self.pending.is_none() {
            self.last_analysis = Some(now);
            self.dirty = false;
            if self.unreported(&self.analyze()) {
                self.pending = Some(now);
            }
        }
        let since = self.pending?;
        if quiet || now.saturating_duration_since(since) >= limits.max_wait {
            return self.capture();
        }
        None
    }

    fn plain(&mut self, text: &[u8], limits: &Limits, out: &mut Option<Captured>) {
        for piece in text.split_inclusive(|&b| b == b'\n') {
            let room = MAX_LINE.saturating_sub(self.partial.len());
            let ends = piece.ends_with(b"\n");
            let piece = piece.strip_suffix(b"\n").unwrap_or(piece);
            self.partial
                .extend_from_slice(&piece[..piece.len().min(room)]);
            if ends {
                let line = String::from_utf8_lossy(&self.partial)
                    .trim_end_matches('\r')
                    .to_owned();
                self.partial.clear();
                self.push(line, None, limits, out);
            }
        }
    }

    fn record(
        &mut self,
        header: &datagram::Header,
        body: &[u8],
        limits: &Limits,
        out: &mut Option<Captured>,
    ) {
        if let Some(last) = self.last_seq {
            if header.seq > last + 1 {
                self.lost_records += (header.seq - last - 1).min(1 << 20);
            } else if header.seq < last && (header.seq == 0 || header.seq + 1000 < last) {
                // Sequence numbers restart at 0 when the sender boots again.
                self.new_boot(out);
            }
        }
        self.last_seq = Some(self.last_seq.map_or(header.seq, |l| l.max(header.seq)));
        for line in datagram::render(header, body) {
            self.push(line, Some(header.ts_usec as f64 / 1e6), limits, out);
        }
    }

    /// Appends one line, dropping the oldest past the limits, and notices a new boot (its
    /// banner, or timestamps going back) and the end of a panic.
    fn push(
        &mut self,
        mut line: String,
        ts: Option<f64>,
        limits: &Limits,
        out: &mut Option<Captured>,
    ) {
        if line.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
        }
        let ts = ts.or_else(|| timestamp(&line));
        // The kernel's first line, not a later line that happens to quote it.
        let banner = message(&line).starts_with("Linux version ");
        let went_back = matches!((ts, self.last_ts), (Some(t), Some(last)) if t + 1.0 < last);
        if (banner || went_back) && !self.lines.is_empty() {
            self.new_boot(out);
        }
        if ts.is_some() {
            self.last_ts = ts;
        }
        if line.contains(PANIC_END) || (line.contains(PANIC_REBOOT) && line.contains(" second")) {
            self.panic_ended = true;
        }
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.lines.len() > limits.max_lines.max(1)
            || (self.bytes > limits.max_bytes && self.lines.len() > 1)
        {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.len() + 1;
                self.evicted += 1;
            }
        }
        self.dirty = true;
    }

    /// A new boot starts: a crash still waiting is captured first, then the window restarts.
    fn new_boot(&mut self, out: &mut Option<Captured>) {
        if out.is_none() && !self.halted && (self.pending.is_some() || self.dirty) {
            let analysis = self.analyze();
            if self.unreported(&analysis) {
                *out = Some(self.captured(analysis));
            }
        }
        self.lines.clear();
        self.bytes = 0;
        self.evicted = 0;
        self.lost_records = 0;
        self.last_ts = None;
        self.last_seq = None;
        self.pending = None;
        self.panic_ended = false;
        self.halted = false;
        self.reported.clear();
        self.dirty = false;
    }

    fn analyze(&self) -> kmsg::Analysis {
        kmsg::analyze(&self.text())
    }

    fn unreported(&self, analysis: &kmsg::Analysis) -> bool {
        analysis.class != "unknown" && !self.reported.contains(&analysis.signature)
    }

    /// Reports the window's crash if it is one not reported yet; either way the wait ends.
    fn capture(&mut self) -> Option<Captured> {
        let analysis = self.analyze();
        let panicked = self.panic_ended;
        self.pending = None;
        self.panic_ended = false;
        self.dirty = false;
        // A panic's last line ends the boot's reporting only when there was a crash to report
        // (a stray "Rebooting in" of a healthy machine does not).
        if panicked && analysis.class != "unknown" {
            self.halted = true;
        }
        if !self.unreported(&analysis) {
            return None;
        }
        let captured = self.captured(analysis);
        self.reported.push(captured.analysis.signature.clone());
        Some(captured)
    }

    fn captured(&self, analysis: kmsg::Analysis) -> Captured {
        let mut gaps = Vec::new();
        if self.evicted > 0 {
            gaps.push(format!(
                "netconsole: the receiver's window dropped the {} oldest lines of this boot",
                self.evicted
            ));
        }
        if self.lost_records > 0 {
            gaps.push(format!(
                "netconsole: {} extended records never arrived (sequence gaps)",
                self.lost_records
            ));
        }
        if self.reassembly.dropped > 0 {
            gaps.push(format!(
                "netconsole: {} fragmented records could not be reassembled",
                self.reassembly.dropped
            ));
        }
        Captured {
            log: self.text(),
            analysis,
            gaps,
        }
    }

    fn text(&self) -> String {
        let mut text = String::with_capacity(self.bytes + self.partial.len() + 1);
        for line in &self.lines {
            text.push_str(line);
            text.push('\n');
        }
        if !self.partial.is_empty() {
            text.push_str(&String::from_utf8_lossy(&self.partial));
            text.push('\n');
        }
        text
    }

    /// Lines and bytes held.
    pub fn size(&self) -> (usize, usize) {
        (self.lines.len(), self.bytes)
    }
}

/// A console line's text after its optional `<N>` level and `[ s.us]` stamp.
fn message(line: &str) -> &str {
    let rest = line
        .strip_prefix('<')
        .and_then(|r| r.split_once('>'))
        .map_or(line, |(_, r)| r);
    let rest = rest
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map_or(rest, |(_, r)| r);
    rest.trim_start()
}

/// Seconds since boot of a console line's `[ s.us]` stamp, after an optional `<N>` level.
fn timestamp(line: &str) -> Option<f64> {
    let rest = match line.strip_prefix('<') {
        Some(r) => r.split_once('>')?.1,
        None => line,
    };
    let inner = rest.strip_prefix('[')?.split_once(']')?.0.trim();
    let (secs, frac) = inner.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit());
    (digits(secs) && digits(frac))
        .then(|| inner.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OOPS: &str = "\
[   27.100000] BUG: kernel NULL pointer dereference, address: 0000000000000010
[   27.100001] Oops: 0002 [#1] PREEMPT SMP NOPTI
[   27.100002] CPU: 0 PID: 85 Comm: sh Tainted: G           O       6.1.0-28-amd64 #1 Debian 6.1.119-1
[   27.100003] RIP: 0010:my_write+0x5/0x10 [mymod]
[   27.100004] Call Trace:
[   27.100005]  <TASK>
[   27.100006]  my_caller+0x2d/0x1a0 [mymod]
[   27.100007]  vfs_write+0x2ad/0x3f0
[   27.100008]  </TASK>
[   27.100009] ---[ end trace 0000000000000000 ]---
";
    const PANIC: &str = "\
[   27.200000] Kernel panic - not syncing: Fatal exception
[   27.200001] ---[ end Kernel panic - not syncing: Fatal exception ]---
";

    fn limits() -> Limits {
        Limits {
            quiet: Duration::from_secs(2),
            max_wait: Duration::from_secs(10),
            ..Limits::default()
        }
    }

    #[test]
    fn a_panic_is_reported_at_its_end_line_and_once() {
        let limits = limits();
        let t0 = Instant::now();
        let mut w = Window::new(t0);
        assert!(
            w.receive(b"[    1.000000] booting\n", &limits, t0)
                .is_none()
        );
        // A line split across datagrams is put back together.
        assert!(w.receive(&OOPS.as_bytes()[..100], &limits, t0).is_none());
        assert!(w.receive(&OOPS.as_bytes()[100..], &limits, t0).is_none());
        let captured = w.receive(PANIC.as_bytes(), &limits, t0).expect("panic end");
        assert_eq!(captured.analysis.class, "null-pointer-dereference");
        assert!(
            captured
                .log
                .contains("RIP: 0010:my_write+0x5/0x10 [mymod]\n")
        );
        assert!(captured.gaps.is_empty());
        assert_eq!(
            captured.analysis.signature,
            kmsg::analyze(&captured.log).signature
        );
        // Another oops and panic of the same boot: not reported again.
        let later = t0 + Duration::from_secs(60);
        assert!(w.receive(OOPS.as_bytes(), &limits, later).is_none());
        assert!(w.receive(PANIC.as_bytes(), &limits, later).is_none());
        assert!(w.tick(&limits, later + Duration::from_secs(5)).is_none());
    }

    #[test]
    fn an_oops_is_reported_after_a_quiet_gap_or_the_longest_wait() {
        let limits = limits();
        let t0 = Instant::now();
        let mut w = Window::new(t0);
        w.receive(OOPS.as_bytes(), &limits, t0);
        assert!(w.tick(&limits, t0 + Duration::from_millis(500)).is_none());
        let captured = w.tick(&limits, t0 + Duration::from_secs(3)).expect("quiet");
        assert_eq!(captured.analysis.class, "null-pointer-dereference");
        // The same oops again in this boot is not a new crash.
        w.receive(OOPS.as_bytes(), &limits, t0 + Duration::from_secs(4));
        assert!(w.tick(&limits, t0 + Duration::from_secs(20)).is_none());

        // A sender that keeps talking is reported at max_wait.
        let mut w = Window::new(t0);
        w.receive(OOPS.as_bytes(), &limits, t0);
        let mut reported = None;
        for step in 1..=30u64 {
            let now = t0 + Duration::from_secs(step);
            w.receive(b"[   30.000000] chatter\n", &limits, now);
            if let Some(c) = w.tick(&limits, now) {
                reported = Some(step);
                assert_eq!(c.analysis.class, "null-pointer-dereference");
                break;
            }
        }
        let step = reported.expect("reported within max_wait");
        assert!((10..=14).contains(&step), "reported at {step} s");
    }

    #[test]
    fn a_new_boot_reports_what_waited_and_restarts_the_window() {
        let limits = limits();
        let t0 = Instant::now();
        let mut w = Window::new(t0);
        w.receive(OOPS.as_bytes(), &limits, t0);
        let captured = w
            .receive(
                b"[    0.000000] Linux version 6.1.0-28-amd64\n",
                &limits,
                t0,
            )
            .expect("the oops before the reboot");
        assert!(!captured.log.contains("Linux version"));
        assert_eq!(w.size().0, 1);
        // The same crash in the new boot is reported again: it is another crash.
        w.receive(OOPS.as_bytes(), &limits, t0);
        w.receive(PANIC.as_bytes(), &limits, t0 + Duration::from_millis(1))
            .expect("reported in the new boot");
    }

    #[test]
    fn extended_records_with_fragments_and_gaps() {
        let limits = limits();
        let t0 = Instant::now();
        let mut w = Window::new(t0);
        let mut seq = 10;
        for line in OOPS.lines().chain(PANIC.lines()) {
            let text = line.split_once("] ").unwrap().1;
            let head = format!("4,{seq},27100000,-");
            seq += if seq == 12 { 2 } else { 1 };
            if text.starts_with("CPU:") {
                // Sent in two fragments, the second first.
                let body = format!("{text}\n");
                let (a, b) = body.split_at(20);
                let n = body.len();
                let second = format!("{head},ncfrag=20/{n};{b}");
                let first = format!("{head},ncfrag=0/{n};{a}");
                assert!(w.receive(second.as_bytes(), &limits, t0).is_none());
                assert!(w.receive(first.as_bytes(), &limits, t0).is_none());
                continue;
            }
            let datagram = format!("{head};{text}\n");
            if let Some(c) = w.receive(datagram.as_bytes(), &limits, t0) {
                assert_eq!(c.analysis.class, "null-pointer-dereference");
                assert!(c.log.contains("<4>[   27.100000] CPU: 0 PID: 85"));
                assert_eq!(c.gaps.len(), 1, "{:?}", c.gaps);
                return;
            }
        }
        panic!("the panic was not reported");
    }

    #[test]
    fn the_window_keeps_its_bounds() {
        let limits = Limits {
            max_lines: 5,
            max_bytes: 100,
            ..limits()
        };
        let t0 = Instant::now();
        let mut w = Window::new(t0);
        for i in 0..50 {
            w.receive(format!("[ {i}.000000] line {i}\n").as_bytes(), &limits, t0);
        }
        let (lines, bytes) = w.size();
        assert!(lines <= 5 && bytes <= 100, "{lines} lines, {bytes} bytes");
        w.receive(&[b'x'; 10_000], &limits, t0);
        w.receive(b"\n", &limits, t0);
        assert!(w.text().contains(&"x".repeat(MAX_LINE)));
        assert!(!w.text().contains(&"x".repeat(MAX_LINE + 1)));
    }

    #[test]
    fn a_reboot_line_without_a_crash_stops_nothing() {
        let limits = limits();
        let t0 = Instant::now();
        let mut w = Window::new(t0);
        assert!(
            w.receive(b"[    9.000000] Rebooting in 5 seconds..\n", &limits, t0)
                .is_none()
        );
        w.receive(OOPS.as_bytes(), &limits, t0);
        let captured = w.receive(PANIC.as_bytes(), &limits, t0).expect("reported");
        assert_eq!(captured.analysis.class, "null-pointer-dereference");
    }

    #[test]
    fn only_the_kernels_banner_starts_a_new_boot() {
        let limits = limits();
        let t0 = Instant::now();
        let mut w = Window::new(t0);
        w.receive(b"[    5.000000] one\n", &limits, t0);
        w.receive(b"[    6.000000] sh: echo Linux version 9\n", &limits, t0);
        assert_eq!(w.size().0, 2);
        w.receive(
            b"<5>[    0.000000] Linux version 6.1.0-28-amd64\n",
            &limits,
            t0,
        );
        assert_eq!(w.size().0, 1);
        assert_eq!(message("<4>[   27.1]  x"), "x");
        assert_eq!(message("plain"), "plain");
    }

    #[test]
    fn timestamps_are_read() {
        assert_eq!(timestamp("[   27.100000] x"), Some(27.1));
        assert_eq!(timestamp("<4>[    0.5] x"), Some(0.5));
        assert_eq!(timestamp("no stamp"), None);
        assert_eq!(timestamp("[ 1e3.0] x"), None);
    }
}
