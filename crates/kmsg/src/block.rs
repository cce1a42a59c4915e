//! Reads the details out of one crash block: CPU line, hardware, faulting instruction,
//! call trace with stack contexts, module list.

use std::ops::Range;

use crate::cpuline::{CpuLine, parse_cpu_line, parse_taint_line};
use crate::frame::{TraceLine, parse_symbol, parse_trace_line, split_marker};
use crate::headline::classify_line;
use crate::line::Line;
use crate::model::{Frame, Module};
use crate::modules::parse_modules;
use crate::scan::is_trace_header;

/// Bounds the frames kept from one trace; a stack overflow prints thousands.
const MAX_FRAMES: usize = 256;
/// Other output (another subsystem's printk, `...` where a log was cut) may interrupt a trace
/// without a caller id to tell it apart; after this many such lines in a row the trace is over.
const MAX_STRAY_LINES: usize = 8;

/// What one block says.
#[derive(Debug, Default)]
pub(crate) struct Block {
    pub cpu: Option<CpuLine>,
    pub hardware: Option<String>,
    pub fault: Option<Frame>,
    pub link: Option<Frame>,
    /// The first call trace; empty when the block has none.
    pub frames: Vec<Frame>,
    pub has_trace: bool,
    pub modules: Option<(Vec<Module>, Option<String>)>,
}

/// Reads `range` of `lines`, skipping lines another printk caller interleaved.
pub(crate) fn read_block(lines: &[Line<'_>], range: Range<usize>) -> Block {
    read_block_of_cpu(lines, range, None)
}

/// The task a section of a report belongs to: a CPU and, when known, a PID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    pub cpu: u32,
    pub pid: Option<u32>,
}

impl Owner {
    pub fn is(&self, other: Owner) -> bool {
        self.cpu == other.cpu
            && (self.pid.is_none() || other.pid.is_none() || self.pid == other.pid)
    }
}

/// Like `read_block`, for a block without printk caller ids to tell CPUs apart: the sections
/// another task prints inside it (`NMI backtrace for cpu 0`, another CPU's `CPU: 0 PID: …` line
/// or `WARNING: CPU: 0 PID: …` report, up to the end of its trace or its `---[ end trace`) are
/// skipped. The owner is the task the headline names, else the one the block's first
/// `CPU: N PID: P` line names. When skipping leaves no trace, the block is read whole.
pub(crate) fn read_block_of_cpu(
    lines: &[Line<'_>],
    range: Range<usize>,
    owner: Option<Owner>,
) -> Block {
    let block = lines.get(range.clone()).unwrap_or_default();
    // With caller ids, `read_lines` keeps the headline's caller's lines and nothing else.
    let has_callers = block.first().is_some_and(|l| l.caller.is_some());
    let owner = owner.or_else(|| block.iter().find_map(|l| section_owner(l.trimmed())));
    let Some(owner) = owner.filter(|_| !has_callers) else {
        return read_lines(block, &vec![true; block.len()]);
    };
    // `Some(in_trace)` while inside another task's section.
    let mut foreign: Option<bool> = None;
    let keep: Vec<bool> = block
        .iter()
        .map(|l| {
            let t = l.trimmed();
            if let Some(o) = section_owner(t) {
                let ours = owner.is(o);
                foreign = (!ours).then_some(false);
                return ours;
            }
            match foreign {
                None => true,
                Some(_) if t.starts_with("---[ end trace") => {
                    foreign = None;
                    false
                }
                // The other task's trace is over: what follows (our own `Call Trace:` too) is
                // ours again.
                Some(true) if !is_trace_content(l.text) => {
                    foreign = None;
                    true
                }
                Some(false) if is_trace_header(t) => {
                    foreign = Some(true);
                    false
                }
                Some(_) => false,
            }
        })
        .collect();
    let b = read_lines(block, &keep);
    if b.has_trace || keep.iter().all(|&k| k) {
        b
    } else {
        read_lines(block, &vec![true; block.len()])
    }
}

/// A line that a trace may hold: a frame, a context marker, an exception frame's registers.
fn is_trace_content(text: &str) -> bool {
    let t = text.trim();
    parse_trace_line(text).is_some()
        || split_marker(text).is_some()
        || is_register_line(t)
        || is_unknown_frame(t)
}

/// The task whose section a line opens: `NMI backtrace for cpu 0`, `CPU: 0 PID: 85 Comm: …`,
/// `WARNING: CPU: 0 PID: 85 at …`.
pub(crate) fn section_owner(t: &str) -> Option<Owner> {
    if let Some(cpu) = t
        .strip_prefix("NMI backtrace for cpu ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
    {
        return Some(Owner { cpu, pid: None });
    }
    if let Some(rest) = t.strip_prefix("WARNING: CPU: ") {
        let (cpu, rest) = rest.split_once(' ')?;
        let pid = rest.strip_prefix("PID: ")?.split(' ').next()?;
        return Some(Owner {
            cpu: cpu.parse().ok()?,
            pid: Some(pid.parse().ok()?),
        });
    }
    let line = parse_cpu_line(t)?;
    Some(Owner {
        cpu: line.cpu?,
        pid: line.pid,
    })
}

/// The task a headline names: the CPU of a watchdog (`soft lockup - CPU#2 stuck`, `hard
/// LOCKUP on cpu 1`), the CPU and PID of a WARNING (`WARNING: CPU: 1 PID: 90 at …`).
pub(crate) fn headline_owner(headline: &str) -> Option<Owner> {
    if headline.starts_with("WARNING: CPU: ") {
        return section_owner(headline);
    }
    reported_cpu(headline).map(|cpu| Owner { cpu, pid: None })
}

/// The CPU a watchdog headline names: `soft lockup - CPU#2 stuck`, `hard LOCKUP on cpu 1`.
pub(crate) fn reported_cpu(headline: &str) -> Option<u32> {
    let rest = if let Some(at) = headline.find("CPU#") {
        &headline[at + 4..]
    } else {
        let at = headline.find("LOCKUP on cpu ")?;
        &headline[at + "LOCKUP on cpu ".len()..]
    };
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn read_lines(block: &[Line<'_>], keep: &[bool]) -> Block {
    let mut b = Block::default();
    let owner = block.first().and_then(|l| l.caller);
    let mut in_trace = false;
    let mut trace_done = false;
    // The trace being read is a diagnostic of another task, not the crash's.
    let mut discard = false;
    let mut skip_next_trace = false;
    let mut context: Option<String> = None;
    let mut stray = 0;
    // Sanitizers print frames right under their headline or under an access line (KMSAN's
    // report, KCSAN's `read to 0x… of 8 bytes by task 1 on cpu 0:`, KFENCE's `Use-after-free
    // read at 0x… (in kfence-#79):`) with no `Call Trace:` header.
    let mut may_open_trace = false;
    let mut trace_has_ts = false;
    // A block without a headline is what is left of a report whose head was cut off: its
    // first frames are its trace, whether or not the `Call Trace:` header survived.
    let orphan = block
        .first()
        .is_some_and(|l| classify_line(l.trimmed()).is_none());
    for (at, line) in block.iter().enumerate() {
        if let (Some(a), Some(c)) = (owner, line.caller)
            && a != c
        {
            continue;
        }
        if !keep.get(at).copied().unwrap_or(true) {
            continue;
        }
        // In a log whose kernel lines carry timestamps, a line without one is another
        // program's output on the same console (a shell, a fuzzer's `executing program`).
        if in_trace && trace_has_ts && line.ts.is_none() {
            continue;
        }
        let t = line.trimmed();
        let opens = std::mem::replace(&mut may_open_trace, at == 0 || opens_implicit_trace(t))
            || (orphan && !b.has_trace);
        if opens
            && !in_trace
            && !trace_done
            && matches!(parse_trace_line(line.text), Some(TraceLine::Frame(_)))
        {
            in_trace = true;
            b.has_trace = true;
            context = None;
        }
        if b.fault.is_none() {
            b.fault = parse_pc(t);
        }
        if b.link.is_none() {
            b.link = parse_lr(t);
        }
        if in_trace {
            let mut text = line.text;
            if let Some((TraceLine::Open(name) | TraceLine::Close(name), rest)) = split_marker(text)
            {
                context = Some(name);
                text = rest;
            }
            let ended = match parse_trace_line(text) {
                Some(TraceLine::Frame(mut f)) => {
                    if !discard && b.frames.len() < MAX_FRAMES {
                        f.context = context.clone();
                        b.frames.push(f);
                    }
                    stray = 0;
                    trace_has_ts = line.ts.is_some();
                    false
                }
                Some(TraceLine::Open(name)) => {
                    context = Some(name);
                    false
                }
                Some(TraceLine::Close(name)) => {
                    context = None;
                    name == "task"
                }
                None if is_register_line(t) || is_unknown_frame(t) || t.is_empty() => false,
                None if ends_trace(t) => true,
                None => {
                    stray += 1;
                    stray > MAX_STRAY_LINES
                }
            };
            if !ended {
                continue;
            }
            in_trace = false;
            trace_done = !discard;
            discard = false;
            if is_trace_line_consumed(t) {
                continue;
            }
        }
        // An RCU stall whose grace-period kthread starved dumps that kthread's stack first;
        // the stack of the CPU that stalled comes after it.
        if t.contains("grace-period kthread stack dump") {
            skip_next_trace = true;
        }
        if !trace_done && is_trace_header(t) {
            in_trace = true;
            trace_has_ts = line.ts.is_some();
            discard = std::mem::take(&mut skip_next_trace);
            b.has_trace |= !discard;
            context = None;
            continue;
        }
        if b.cpu.is_none() {
            if let Some(cpu) = parse_cpu_line(t) {
                b.cpu = Some(cpu);
                continue;
            }
            if let Some((taint, release, build)) = parse_taint_line(t) {
                b.cpu = Some(CpuLine {
                    taint,
                    release,
                    build,
                    ..CpuLine::default()
                });
                continue;
            }
        }
        if b.hardware.is_none()
            && let Some(hw) = t.strip_prefix("Hardware name: ")
        {
            b.hardware = Some(hw.trim().to_owned());
            continue;
        }
        if b.modules.is_none()
            && let Some(m) = parse_modules(t)
        {
            b.modules = Some(m);
        }
    }
    b
}

/// The faulting instruction's function: x86 `RIP: 0010:func+0x12/0x40 [mod]` (also the
/// pre-4.15 `RIP: 0010:[<addr>]  [<addr>] func`, the trailing `RIP  [<addr>] func` and the
/// old fault report's `IP: [<addr>] func`), i386 `EIP: [<addr>] func` and `EIP is at func`,
/// arm64 `pc : func`, arm32 `PC is at func`, ppc64 `NIP [addr] .func`, s390
/// `Krnl PSW : mask addr (func+0x1/0x2)`, riscv `epc : func` and MIPS `epc   : addr func`.
/// User-mode IPs give `None`.
pub(crate) fn parse_pc(t: &str) -> Option<Frame> {
    // Registers printed on the same line after the PC.
    let t = t.split(" SS:ESP").next().unwrap_or(t);
    let t = t.split(" RSP: ").next().unwrap_or(t);
    let sym = if let Some(rest) = ["RIP: ", "EIP: ", "IP: "]
        .iter()
        .find_map(|p| t.strip_prefix(p))
    {
        let rest = match rest.split_once(':') {
            Some((seg, after)) if seg.len() == 4 && seg.bytes().all(|b| b.is_ascii_hexdigit()) => {
                after
            }
            _ => rest,
        };
        skip_addresses(rest)
    } else if let Some(rest) = t
        .strip_prefix("RIP  [<")
        .or_else(|| t.strip_prefix("EIP  [<"))
    {
        skip_addresses(&t[t.len() - rest.len() - 2..])
    } else if let Some(rest) = t.strip_prefix("NIP [") {
        let after = rest.split_once("] ")?.1;
        after.strip_prefix('.').unwrap_or(after)
    } else if let Some(rest) = t.strip_prefix("Krnl PSW : ") {
        let open = rest.rfind('(')?;
        rest[open + 1..].strip_suffix(')')?
    } else if let Some(rest) = t.strip_prefix("epc") {
        let rest = rest.trim_start().strip_prefix(':')?.trim_start();
        match rest.split_once(' ') {
            // MIPS: `epc   : 804010f0 lkdtm_do_action+0x68/0x3f8`.
            Some((addr, sym)) if addr.bytes().all(|b| b.is_ascii_hexdigit()) => sym.trim(),
            _ => rest,
        }
    } else {
        ["pc : ", "PC is at ", "EIP is at ", "IP is at "]
            .iter()
            .find_map(|p| t.strip_prefix(p))?
    };
    parse_symbol(sym)
}

/// arm64 `lr : func`, arm32 `LR is at func`.
pub(crate) fn parse_lr(t: &str) -> Option<Frame> {
    let rest = t
        .strip_prefix("lr : ")
        .or_else(|| t.strip_prefix("LR is at "))?;
    parse_symbol(rest)
}

pub(crate) fn skip_addresses(mut s: &str) -> &str {
    loop {
        let trimmed = s.trim_start();
        let Some(inner) = trimmed.strip_prefix("[<") else {
            return trimmed;
        };
        match inner.find(">]") {
            Some(close) => s = &inner[close + 2..],
            None => return trimmed,
        }
    }
}

/// A sanitizer's access line after which its frames follow without a header.
fn opens_implicit_trace(t: &str) -> bool {
    t.ends_with(':')
        && (t.contains(" by task ") || t.contains(" by interrupt ") || t.contains("(in kfence-#"))
}

/// A line that starts something else: a section header (`Allocated by task 1:`, `rcu: Stack
/// dump where RCU GP kthread last ran:`), another trace or CPU's report, a headline, the end
/// marker or the module list.
fn ends_trace(t: &str) -> bool {
    t.ends_with(':')
        || t.starts_with("---[")
        || is_trace_header(t)
        || t.starts_with("Modules linked in")
        || t.starts_with("NMI backtrace")
        || t.starts_with("Sending NMI")
        || t.starts_with("Kernel Offset")
        || parse_cpu_line(t).is_some()
        || classify_line(t).is_some()
}

/// A `</TASK>` closing marker belongs to the trace it ends.
fn is_trace_line_consumed(t: &str) -> bool {
    t.starts_with("</")
}

/// Register dumps that x86 prints inside a trace when it crosses an exception frame.
fn is_register_line(t: &str) -> bool {
    if t.starts_with("Code: ") {
        return true;
    }
    let Some(colon) = t.find(':') else {
        return false;
    };
    let name = &t[..colon];
    !name.is_empty()
        && name.len() <= 8
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// ` ? 0xffffffffc0001234` and similar frames without a symbol.
fn is_unknown_frame(t: &str) -> bool {
    let t = t.strip_prefix('?').map(str::trim_start).unwrap_or(t);
    t.strip_prefix("0x")
        .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::split_lines;

    #[test]
    fn pc_forms() {
        let f = parse_pc("RIP: 0010:my_func+0x12/0x40 [mymod]").unwrap();
        assert_eq!(f.function, "my_func");
        assert_eq!(f.module.as_deref(), Some("mymod"));
        let f = parse_pc("RIP: 0010:[<ffffffff811c6ed5>]  [<ffffffff811c6ed5>] old+0xa5/0x350")
            .unwrap();
        assert_eq!(f.function, "old");
        assert!(parse_pc("RIP: 0033:0x7f0c1a2b3c4d").is_none());
        assert_eq!(
            parse_pc("pc : lastgasp_null_write+0x14/0x20 [lastgasp_crashtest]")
                .unwrap()
                .function,
            "lastgasp_null_write"
        );
        assert_eq!(parse_lr("lr : caller+0x1/0x2").unwrap().function, "caller");
        for (line, function) in [
            (
                "EIP: [<f88dec25>] radeon_cp_init_ring_buffer+0x90/0x302 [radeon] SS:ESP 0068:f0a0cf08",
                "radeon_cp_init_ring_buffer",
            ),
            (
                "EIP is at radeon_audio_detect+0x54/0x140 [radeon]",
                "radeon_audio_detect",
            ),
            ("RIP: skb_pull+0xd5/0xf0 RSP: ffff8801d9fdf270", "skb_pull"),
            (
                "RIP  [<ffffffff81171b02>] find_get_entry+0x42/0xc0",
                "find_get_entry",
            ),
            (
                "IP: [<ffffffff8104e2b4>] ip_idents_reserve+0x84/0x90",
                "ip_idents_reserve",
            ),
            (
                "NIP [c000000008068dfc] .eeh_dev_check_failure+0x27c/0x390",
                "eeh_dev_check_failure",
            ),
            (
                "Krnl PSW : 0404c00180000000 0000000000431f8e (scsi_alloc_sgtable+0x62/0x7c)",
                "scsi_alloc_sgtable",
            ),
            ("epc : lkdtm_WARNING+0x8/0x10", "lkdtm_WARNING"),
            (
                "epc   : 804010f0 lkdtm_do_action+0x68/0x3f8",
                "lkdtm_do_action",
            ),
        ] {
            assert_eq!(
                parse_pc(line).map(|f| f.function).as_deref(),
                Some(function),
                "{line}"
            );
        }
        assert!(parse_pc("NIP: c000000008068dfc LR: c000000008068df8 CTR: 0").is_none());
        assert!(parse_pc("EIP: 0060:[<f88dec25>] EFLAGS: 00213246 CPU: 1").is_none());
    }

    #[test]
    fn trace_with_contexts_and_registers() {
        let log = "CPU: 0 PID: 1 Comm: sh Not tainted 6.1.0 #1\n\
                   Call Trace:\n <IRQ>\n dump_stack_lvl+0x1/0x2\n </IRQ>\n <TASK>\n\
                   asm_sysvec_apic_timer_interrupt+0x1/0x2\n\
                   RIP: 0010:spin+0x1/0x2 [m]\n\
                   RSP: 0018:ffffc90000 EFLAGS: 00000246\n\
                   ? 0xffffffffc0001234\n\
                   caller+0x1/0x2 [m]\n </TASK>\n\
                   Modules linked in: m(OE)\n";
        let lines = split_lines(log);
        let b = read_block(&lines, 0..lines.len());
        assert_eq!(b.cpu.unwrap().comm.as_deref(), Some("sh"));
        assert_eq!(b.fault.unwrap().function, "spin");
        let names: Vec<_> = b.frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(
            names,
            [
                "dump_stack_lvl",
                "asm_sysvec_apic_timer_interrupt",
                "caller"
            ]
        );
        assert_eq!(b.frames[0].context.as_deref(), Some("irq"));
        assert_eq!(b.frames[2].context.as_deref(), Some("task"));
        assert_eq!(b.modules.unwrap().0[0].flags, "OE");
    }

    #[test]
    fn starved_rcu_kthread_dump_is_not_the_crash_trace() {
        let log = "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n\
                   rcu: RCU grace-period kthread stack dump:\n\
                   task:rcu_preempt     state:R  running task\n\
                   Call Trace:\n <TASK>\n __schedule+0x1/0x2\n rcu_gp_kthread+0x1/0x2\n </TASK>\n\
                   rcu: Stack dump where RCU GP kthread last ran:\n\
                   RIP: 0010:spin+0x1/0x2 [m]\n\
                   Call Trace:\n <TASK>\n caller+0x1/0x2 [m]\n </TASK>\n";
        let lines = split_lines(log);
        let b = read_block(&lines, 0..lines.len());
        let names: Vec<_> = b.frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(names, ["caller"]);
        assert!(b.has_trace);
    }

    #[test]
    fn other_output_inside_a_trace_does_not_end_it() {
        let log = "kernel BUG at include/linux/skbuff.h:2069!\n\
                   Call Trace:\n\
                   sctp: [Deprecated]: syz-executor0 (pid 22212) Use of int in max_burst\n\
                   Use struct sctp_assoc_value instead\n \
                   esp6_gro_receive+0xb4/0xbe0\n\
                   ...\n \
                   SyS_writev+0x27/0x30\n\
                   Allocated by task 1:\n \
                   kmalloc_trace+0x1/0x2\n";
        let lines = split_lines(log);
        let b = read_block(&lines, 0..lines.len());
        let names: Vec<_> = b.frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(names, ["esp6_gro_receive", "SyS_writev"]);
    }

    #[test]
    fn sanitizer_frames_without_a_header() {
        let log = "[ 1.0] BUG: KMSAN: kernel-infoleak in _copy_to_user+0x1c9/0x270\n\
                   [ 1.0]  _copy_to_user+0x1c9/0x270\n\
                   [ 1.0]  urandom_read_nowarn+0x57b/0xb10\n\
                   [ 1.0] \n\
                   [ 1.0] Uninit was stored to memory at:\n\
                   [ 1.0]  chacha_permute+0x12db/0x1400\n";
        let lines = split_lines(log);
        let b = read_block(&lines, 0..lines.len());
        let names: Vec<_> = b.frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(names, ["_copy_to_user", "urandom_read_nowarn"]);
        let log = "BUG: KCSAN: data-race in a / b\n\nread to 0x1 of 8 bytes by task 1 on cpu 0:\n a+0x1/0x2\n";
        let lines = split_lines(log);
        assert_eq!(read_block(&lines, 0..lines.len()).frames[0].function, "a");
    }

    #[test]
    fn other_programs_lines_in_a_stamped_trace_are_skipped() {
        let log = "[ 1.0] Call Trace:\n[ 1.0]  dump_stack+0x194/0x257\n\
                   2018/01/02 18:20:06 executing program 3:\n\
                   mmap(&(0x7f0000000000/0xa000)=nil, 0xa000, 0x3, 0x32)\n\
                   [ 1.1]  memcmp+0xe3/0x160\n[ 1.1]  xfrm_selector_match+0x1/0x2\n";
        let lines = split_lines(log);
        let b = read_block(&lines, 0..lines.len());
        let names: Vec<_> = b.frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(names, ["dump_stack", "memcmp", "xfrm_selector_match"]);
    }

    #[test]
    fn other_cpus_nmi_backtraces_are_skipped() {
        let log = "watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [sh:85]\n\
                   Sending NMI from CPU 1 to CPUs 0:\n\
                   NMI backtrace for cpu 0\n\
                   CPU: 0 PID: 0 Comm: swapper/0 Not tainted 6.1.0 #1\n\
                   RIP: 0010:default_idle+0x1/0x2\n\
                   Call Trace:\n default_idle_call+0x1/0x2\n do_idle+0x1/0x2\n\
                   CPU: 1 PID: 85 Comm: sh Not tainted 6.1.0 #1\n\
                   RIP: 0010:spin+0x1/0x2 [m]\n\
                   Call Trace:\n caller+0x1/0x2 [m]\n";
        let lines = split_lines(log);
        assert_eq!(reported_cpu(lines[0].text), Some(1));
        let b = read_block_of_cpu(&lines, 0..lines.len(), headline_owner(lines[0].text));
        assert_eq!(b.fault.unwrap().function, "spin");
        assert_eq!(b.cpu.unwrap().pid, Some(85));
        let names: Vec<_> = b.frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(names, ["caller"]);
        assert_eq!(
            reported_cpu("NMI watchdog: Watchdog detected hard LOCKUP on cpu 3"),
            Some(3)
        );
        assert_eq!(
            headline_owner("WARNING: CPU: 1 PID: 90 at a.c:1 f+0x1/0x2"),
            Some(Owner {
                cpu: 1,
                pid: Some(90)
            })
        );
        assert_eq!(headline_owner("WARNING: CPU: 1 PID: x at a.c:1"), None);
    }

    #[test]
    fn interleaved_caller_is_skipped() {
        let log = "[ 1.0][  T100] Oops: 0002 [#1] SMP\n\
                   [ 1.0][    C1] CPU: 1 PID: 0 Comm: swapper/1 Not tainted 6.1.0 #1\n\
                   [ 1.0][  T100] CPU: 0 PID: 100 Comm: sh Not tainted 6.1.0 #1\n";
        let lines = split_lines(log);
        let b = read_block(&lines, 0..lines.len());
        assert_eq!(b.cpu.unwrap().pid, Some(100));
    }
}
