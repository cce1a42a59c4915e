//! Finds the crash that matters: splits the log into boots, groups headline lines into
//! crash blocks, and picks the block that led to the panic.

use std::ops::Range;

use crate::block::{Owner, headline_owner, section_owner};
use crate::class::Class;
use crate::headline::{Headline, PanicCause, Role, classify_line, cut_panic_causes, panic_cause};
use crate::line::Line;

/// Headlines further apart than this many lines belong to different blocks even without a
/// trace between them; a fault headline and its die line are at most ~30 lines apart (arm64
/// prints the abort decoding in between).
const MERGE_WINDOW: usize = 60;
/// How many lines before a panic an oops whose head was cut off may still be read from.
const ORPHAN_WINDOW: usize = 200;
/// How many reports before an explicit panic may be the one its message repeats.
const MAX_EXPLAINED: usize = 16;

/// One crash block: a headline and the lines that explain it.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub lines: Range<usize>,
    pub class: Class,
    /// An oops is under way (fault headline or die line).
    pub die: bool,
    /// A WARNING-like report (what panic_on_warn panics on).
    pub warn: bool,
    pub panic: bool,
    pub location: Option<String>,
    pub address: Option<String>,
    pub function: Option<String>,
    pub die_number: Option<u32>,
    pub message: Option<String>,
}

impl Event {
    fn open(at: usize, h: Headline) -> Self {
        Event {
            lines: at..at + 1,
            class: h.class,
            die: h.role == Role::Die,
            warn: h.role == Role::Warn,
            panic: h.role == Role::Panic,
            location: h.location,
            address: h.address,
            function: h.function,
            die_number: h.die_number,
            message: h.message,
        }
    }

    fn merge(&mut self, h: Headline) {
        if h.class.specificity() > self.class.specificity() {
            self.class = h.class;
        }
        self.die |= h.role == Role::Die;
        self.warn |= h.role == Role::Warn;
        self.location = self.location.take().or(h.location);
        self.address = self.address.take().or(h.address);
        self.function = self.function.take().or(h.function);
        self.die_number = self.die_number.or(h.die_number);
    }
}

/// The boots in a log: a new one starts at the `Linux version` banner, a journal boot
/// separator, or when the clock starts again from zero.
pub(crate) fn segments(lines: &[Line<'_>]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut last_ts = 0.0_f64;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trimmed();
        let clock_reset = line.ts.is_some_and(|ts| ts < 1.0 && last_ts > 10.0);
        let boundary = t.starts_with("Linux version ") || t.starts_with("-- Boot ") || clock_reset;
        if boundary && i > start {
            out.push(start..i);
            start = i;
        }
        if boundary {
            last_ts = 0.0;
        }
        if let Some(ts) = line.ts {
            last_ts = last_ts.max(ts);
        }
    }
    out.push(start..lines.len());
    out
}

/// The crash blocks of one boot, in log order.
pub(crate) fn events(lines: &[Line<'_>], segment: Range<usize>) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    let mut open: Option<usize> = None;
    let mut trace_seen = false;
    // Without caller ids: the CPU and PID of the open oops, and whether another task's WARNING
    // printed inside it is being passed over (up to its `---[ end trace`, which is not ours).
    let mut owner: Option<Owner> = None;
    let mut foreign = false;
    let seg_end = segment.end;
    for i in segment {
        let Some(line) = lines.get(i) else { break };
        let t = line.trimmed();
        if let Some(cur) = open
            && events[cur].die
            && line.caller.is_none()
        {
            if let Some(o) = section_owner(t) {
                match owner {
                    // Our own CPU line ends a foreign section; another task's WARNING opens one.
                    Some(w) => foreign = !w.is(o) && (foreign || t.starts_with("WARNING: ")),
                    None => owner = Some(o),
                }
                if foreign {
                    continue;
                }
            } else if foreign {
                if t.starts_with("---[ end trace") {
                    foreign = false;
                    continue;
                }
                if !classify_line(t).is_some_and(|h| h.role == Role::Panic) {
                    continue;
                }
                foreign = false;
            }
        }
        if let Some(cur) = open {
            let ev = &mut events[cur];
            if is_trace_header(t) {
                trace_seen = true;
            }
            let ends = t.starts_with("---[ end trace")
                || (ev.panic && t.starts_with("---[ end Kernel panic"))
                || (matches!(ev.class, Class::Kasan | Class::Kfence | Class::Ubsan)
                    && i > ev.lines.start + 1
                    && t.len() >= 20
                    && t.bytes().all(|b| b == b'='));
            if ends {
                ev.lines.end = i + 1;
                open = None;
                continue;
            }
        }
        let Some(h) = classify_line(t) else { continue };
        if let Some(cur) = open {
            let ev = &mut events[cur];
            if can_merge(ev, &h, i, trace_seen, lines) {
                ev.merge(h);
                continue;
            }
            ev.lines.end = i;
        }
        owner = headline_owner(t);
        foreign = false;
        events.push(Event::open(i, h));
        open = Some(events.len() - 1);
        trace_seen = false;
    }
    if let Some(cur) = open {
        events[cur].lines.end = seg_end;
    }
    events
}

fn can_merge(ev: &Event, h: &Headline, at: usize, trace_seen: bool, lines: &[Line<'_>]) -> bool {
    if ev.panic || h.role == Role::Panic || trace_seen || at > ev.lines.start + MERGE_WINDOW {
        return false;
    }
    if ev.die_number.is_some() && h.die_number.is_some() {
        return false;
    }
    if (ev.warn && h.role == Role::Warn) || (is_watchdog(ev) && h.role == Role::Watchdog) {
        return false;
    }
    // Another CPU's report interleaved with this one is not part of it.
    let caller = |i: usize| lines.get(i).and_then(|l| l.caller);
    match (caller(ev.lines.start), caller(at)) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

fn is_watchdog(ev: &Event) -> bool {
    matches!(
        ev.class,
        Class::SoftLockup
            | Class::HardLockup
            | Class::RcuStall
            | Class::HungTask
            | Class::OutOfMemory
    )
}

/// `Call Trace:` (x86, also at the end of a line another printk ran into), `Call trace:`
/// (arm64), `Backtrace:` (arm32), kmemleak's `backtrace:`
/// (also `backtrace (crc 1a2b3c4d):`; lockdep's `stack backtrace:` is no header).
pub(crate) fn is_trace_header(t: &str) -> bool {
    t.starts_with("Call Trace:")
        || t.starts_with("Call trace:")
        // The header printed right after a register word that lost its newline:
        // ` dffffc0000000000Call Trace:`.
        || t.ends_with("Call Trace:")
        || t.starts_with("Backtrace:")
        || t == "backtrace:"
        || (t.starts_with("backtrace (crc ") && t.ends_with("):"))
}

/// The chosen crash of a log.
#[derive(Debug)]
pub(crate) struct Choice {
    pub segment: Range<usize>,
    pub event: Event,
    pub class: Class,
    /// The panic block, when the boot panicked.
    pub panic: Option<Event>,
    /// The highest `[#N]` seen in the boot.
    pub oops_count: u32,
}

/// Picks the boot and the crash block within it; `None` when the log shows no crash.
pub(crate) fn choose(lines: &[Line<'_>]) -> Option<Choice> {
    let segs = segments(lines);
    let per_seg: Vec<(Range<usize>, Vec<Event>)> = segs
        .into_iter()
        .map(|s| {
            let ev = events(lines, s.clone());
            (s, ev)
        })
        .collect();
    // The first boot that panicked; else the first with an oops; else the first with a
    // warning or watchdog report.
    let (segment, evs) = per_seg
        .iter()
        .find(|(_, e)| e.iter().any(|x| x.panic))
        .or_else(|| per_seg.iter().find(|(_, e)| e.iter().any(|x| x.die)))
        .or_else(|| {
            per_seg
                .iter()
                .find(|(_, e)| e.iter().any(|x| x.warn || is_watchdog(x)))
        })?;
    let oops_count = evs.iter().filter_map(|e| e.die_number).max().unwrap_or(0);
    let panic_at = evs.iter().position(|e| e.panic);
    let Some(p) = panic_at else {
        // An explanation line alone (`mce: [Hardware Error]: Machine check events logged` of a
        // corrected error, a lone `sysrq:` line) is no crash without an oops or panic after it.
        let pick = evs
            .iter()
            .find(|e| e.die)
            .or_else(|| evs.iter().find(|e| e.warn || is_watchdog(e)))?;
        return Some(Choice {
            segment: segment.clone(),
            class: pick.class,
            event: pick.clone(),
            panic: None,
            oops_count,
        });
    };
    let panic = &evs[p];
    let before = &evs[..p];
    let message = panic.message.as_deref().unwrap_or_default();
    // A panic line cut off mid-message may be any panic its remaining words begin: the one
    // whose report the boot shows is taken.
    let causes = match lines.get(panic.lines.start) {
        Some(l) if l.cut => cut_panic_causes(message),
        _ => vec![panic_cause(message)],
    };
    let (cause, pick) = causes
        .iter()
        .map(|&c| (c, pick_for(c, panic, before, lines)))
        .find(|(_, p)| p.is_some())
        .unwrap_or((causes[0], None));
    let (event, class) = match pick {
        Some(e) => (e.clone(), e.class),
        None => {
            let class = match cause {
                PanicCause::Class(c) => c,
                // The oops scrolled out of the record; only the panic is left.
                PanicCause::Oops => Class::Oops,
                PanicCause::Warn => Class::Warning,
                PanicCause::Explicit => Class::Panic,
            };
            // A text that begins inside the oops (a record or paste whose head was cut off)
            // still holds the rest of it before the panic: its registers and trace.
            let event = if cause == PanicCause::Oops && before.is_empty() && segment.start == 0 {
                let start = panic.lines.start.saturating_sub(ORPHAN_WINDOW);
                Event {
                    lines: start..panic.lines.start,
                    die: true,
                    warn: false,
                    panic: false,
                    location: None,
                    address: None,
                    function: None,
                    die_number: None,
                    message: None,
                    class,
                }
            } else {
                panic.clone()
            };
            (event, class)
        }
    };
    Some(Choice {
        segment: segment.clone(),
        event,
        class,
        panic: Some(panic.clone()),
        oops_count,
    })
}

/// The report before the panic that `cause` names.
fn pick_for<'e>(
    cause: PanicCause,
    panic: &Event,
    before: &'e [Event],
    lines: &[Line<'_>],
) -> Option<&'e Event> {
    match cause {
        PanicCause::Oops => before.iter().find(|e| e.die),
        // `BUG: scheduling while atomic` with panic_on... : `Kernel panic - not syncing:
        // scheduling while atomic`; the report the message repeats is the crash.
        PanicCause::Explicit => before.iter().find(|e| e.die).or_else(|| {
            let message = panic.message.as_deref().unwrap_or_default().trim();
            // The report is the panic's immediate cause: only the last few are looked at, which
            // also keeps a log of thousands of headlines linear.
            before.iter().rev().take(MAX_EXPLAINED).find(|e| {
                !message.is_empty()
                    && lines
                        .get(e.lines.start)
                        .is_some_and(|l| l.text.contains(message))
            })
        }),
        PanicCause::Warn => before.iter().find(|e| e.warn),
        PanicCause::Class(Class::OutOfMemory) => {
            before.iter().rev().find(|e| e.class == Class::OutOfMemory)
        }
        PanicCause::Class(c) => before.iter().find(|e| e.class == c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::split_lines;

    #[test]
    fn fault_and_die_line_merge() {
        let log = "BUG: kernel NULL pointer dereference, address: 0000000000000010\n\
                   #PF: supervisor write access in kernel mode\n\
                   Oops: 0002 [#1] PREEMPT SMP PTI\n\
                   Call Trace:\n f+0x1/0x2\n\
                   ---[ end trace 0000000000000000 ]---\n\
                   Kernel panic - not syncing: Fatal exception\n";
        let lines = split_lines(log);
        let ev = events(&lines, 0..lines.len());
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].class, Class::NullPointerDereference);
        assert_eq!(ev[0].die_number, Some(1));
        assert_eq!(ev[0].lines, 0..6);
        let c = choose(&lines).unwrap();
        assert_eq!(c.class, Class::NullPointerDereference);
        assert_eq!(c.oops_count, 1);
    }

    #[test]
    fn second_oops_is_collateral() {
        let log = "divide error: 0000 [#1] SMP\nCall Trace:\n a+0x1/0x2\n---[ end trace 0 ]---\n\
                   general protection fault: 0000 [#2] SMP\nCall Trace:\n b+0x1/0x2\n\
                   Kernel panic - not syncing: Fatal exception in interrupt\n";
        let lines = split_lines(log);
        let c = choose(&lines).unwrap();
        assert_eq!(c.class, Class::DivideError);
        assert_eq!(c.oops_count, 2);
    }

    #[test]
    fn earlier_warning_is_not_the_cause_of_an_oops_panic() {
        let log = "WARNING: CPU: 0 PID: 1 at a.c:1 w+0x1/0x2\n---[ end trace 0 ]---\n\
                   kernel BUG at b.c:2!\ninvalid opcode: 0000 [#1] SMP\n\
                   Kernel panic - not syncing: Fatal exception\n";
        let lines = split_lines(log);
        let c = choose(&lines).unwrap();
        assert_eq!(c.class, Class::Bug);
        assert_eq!(c.event.location.as_deref(), Some("b.c:2"));
    }

    #[test]
    fn panic_picks_the_first_crashed_boot() {
        let log = "[    0.000000] Linux version 6.1.0 (x) #1\n[   5.0] Kernel panic - not syncing: one\n\
                   [    0.000000] Linux version 6.1.0 (x) #1\n[   5.0] Kernel panic - not syncing: two\n";
        let lines = split_lines(log);
        assert_eq!(segments(&lines).len(), 2);
        let c = choose(&lines).unwrap();
        assert_eq!(c.panic.unwrap().message.as_deref(), Some("one"));
    }

    #[test]
    fn no_crash() {
        let lines = split_lines("hello\nworld\n");
        assert!(choose(&lines).is_none());
        let lines = split_lines("mce: [Hardware Error]: Machine check events logged\n");
        assert!(choose(&lines).is_none());
    }

    #[test]
    fn warning_without_panic() {
        let lines =
            split_lines("WARNING: CPU: 0 PID: 1 at a.c:1 w+0x1/0x2\nCall Trace:\n x+0x1/0x2\n");
        assert_eq!(choose(&lines).unwrap().class, Class::Warning);
    }
}
