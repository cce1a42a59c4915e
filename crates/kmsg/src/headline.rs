//! Recognises the lines that open a crash report: fault headlines, die lines, WARNING, BUG,
//! watchdog reports, OOM, machine checks and the panic line itself.

use crate::class::Class;
use memchr::memmem::Finder;
use std::sync::LazyLock;

/// How a headline takes part in a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Explains the oops that follows (`list_del corruption`, `sysrq: Trigger a crash`).
    Intro,
    /// A fault headline or a die line (`... [#1]`): an oops is under way.
    Die,
    /// A WARNING or a non-fatal report that prints a trace and carries on.
    Warn,
    /// A watchdog or OOM report: fatal only with the matching panic knob.
    Watchdog,
    /// `Kernel panic - not syncing: ...`.
    Panic,
}

/// One recognised headline line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Headline {
    pub class: Class,
    pub role: Role,
    /// `file:line` of BUG/WARNING/UBSAN.
    pub location: Option<String>,
    /// Faulting address of a page-fault headline.
    pub address: Option<String>,
    /// The symbol text the headline itself names (WARNING's `%pS`, KASAN's `in func`).
    pub function: Option<String>,
    /// `[#N]` of a die line.
    pub die_number: Option<u32>,
    /// The panic message of a panic line.
    pub message: Option<String>,
}

impl Headline {
    fn new(class: Class, role: Role) -> Self {
        Headline {
            class,
            role,
            location: None,
            address: None,
            function: None,
            die_number: None,
            message: None,
        }
    }
}

const PANIC: &str = "Kernel panic - not syncing: ";

// The substrings looked for in every line of a log, their searchers built once: building
// one per test was a good part of the analysis's time.
static LOGIN: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(" login: "));
static DIE_NUMBER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(" [#"));
static SOFT_LOCKUP: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("BUG: soft lockup"));
static HARD_LOCKUP: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new("Watchdog detected hard LOCKUP"));
static PAGE_ALLOCATION_FAILURE: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(": page allocation failure: "));
static VMALLOC_FAILURE: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new("vmalloc: allocation failure"));
static OOM_KILLER: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(" invoked oom-killer: "));

fn has(text: &str, needle: &Finder<'_>) -> bool {
    needle.find(text.as_bytes()).is_some()
}

/// Classifies one message line (already stripped of prefixes).
pub(crate) fn classify_line(text: &str) -> Option<Headline> {
    let t = text.trim();
    // A console login prompt the kernel's line ran into: `syzkaller login: Unable to handle`.
    let login = LOGIN.needle().len();
    let t = match LOGIN.find(t.as_bytes()) {
        Some(at) if !t[..at].contains(' ') && at + login < t.len() => &t[at + login..],
        _ => t,
    };
    if t.is_empty() || t.starts_with("---[ end") {
        return None;
    }
    if let Some(msg) = t.strip_prefix(PANIC) {
        let mut h = Headline::new(Class::Panic, Role::Panic);
        h.message = Some(msg.trim().to_owned());
        return Some(h);
    }
    if let Some(h) = fault_headline(t) {
        return Some(h);
    }
    if let Some(h) = die_line(t) {
        return Some(h);
    }
    if let Some(h) = bug_or_warning(t) {
        return Some(h);
    }
    watchdog_or_other(t)
}

/// x86 `BUG: kernel NULL pointer dereference, address: ...` and friends, arm64
/// `Unable to handle kernel ... at virtual address ...`.
fn fault_headline(t: &str) -> Option<Headline> {
    const FAULTS: [(&str, Class); 6] = [
        (
            "BUG: kernel NULL pointer dereference, address: ",
            Class::NullPointerDereference,
        ),
        (
            "BUG: unable to handle kernel NULL pointer dereference at ",
            Class::NullPointerDereference,
        ),
        (
            "BUG: unable to handle page fault for address: ",
            Class::PageFault,
        ),
        (
            "BUG: unable to handle kernel paging request at ",
            Class::PageFault,
        ),
        (
            "Unable to handle kernel NULL pointer dereference at virtual address ",
            Class::NullPointerDereference,
        ),
        (
            "Unable to handle kernel paging request at virtual address ",
            Class::PageFault,
        ),
    ];
    // MIPS prefixes the CPU: `CPU 0 Unable to handle kernel paging request at virtual address`.
    let t = match t.strip_prefix("CPU ").and_then(|r| r.split_once(' ')) {
        Some((cpu, rest)) if cpu.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => t,
    };
    for (prefix, class) in FAULTS {
        if let Some(rest) = t.strip_prefix(prefix) {
            let mut h = Headline::new(class, Role::Die);
            h.address = rest.split_whitespace().next().map(str::to_owned);
            return Some(h);
        }
    }
    // x86 `df_debug()`/`exc_double_fault`: `PANIC: double fault, error_code: 0x0`.
    if t.starts_with("PANIC: double fault") {
        return Some(Headline::new(Class::DoubleFault, Role::Die));
    }
    if t.starts_with("Unable to handle kernel ") {
        return Some(Headline::new(Class::PageFault, Role::Die));
    }
    if t.starts_with("BUG: ") && t.contains("stack guard page was hit") {
        return Some(Headline::new(Class::StackOverflow, Role::Intro));
    }
    // arm64 `panic_bad_stack`: the exception that hit the guard found no stack left.
    if t.starts_with("Insufficient stack space to handle exception!") {
        return Some(Headline::new(Class::StackOverflow, Role::Intro));
    }
    None
}

/// `<what>: <hex> [#N] ...`, the oops die line (x86 `__die_header`, arm64 `die`); also the
/// code-less forms of MIPS (`Oops[#1]:`) and riscv (`Oops [#1]`, `Oops - BUG [#1]`).
fn die_line(t: &str) -> Option<Headline> {
    if let Some(rest) = t.strip_prefix("Oops")
        && !rest.starts_with(':')
        && let Some(open) = rest.find("[#")
    {
        let after = &rest[open + 2..];
        let number: u32 = after[..after.find(']')?].parse().ok()?;
        let what = rest[..open].trim().trim_start_matches('-').trim();
        let class = if what.starts_with("BUG") {
            Class::Bug
        } else {
            Class::Oops
        };
        let mut h = Headline::new(class, Role::Die);
        h.die_number = Some(number);
        return Some(h);
    }
    let open = DIE_NUMBER.find(t.as_bytes())?;
    let after = &t[open + 3..];
    let close = after.find(']')?;
    let number: u32 = after[..close].parse().ok()?;
    let head = &t[..open];
    // The error code is the last word before ` [#`, preceded by `: `.
    let colon = head.rfind(": ")?;
    let code = &head[colon + 2..];
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut what = &head[..colon];
    // ≈6.9 prefixes `Oops: ` to every die string; arm64 says `Internal error: `.
    for prefix in ["Internal error: ", "Oops: "] {
        if let Some(rest) = what.strip_prefix(prefix) {
            what = rest;
        }
    }
    // Another printk may run into the die string on one line (`kasan: GPF could be caused by
    // NULL-ptr deref or user memory accessgeneral protection fault: 0000 [#1]`), and old
    // kernels spell some kinds differently (`segment-related general protection fault`,
    // `divide_error`), so the kind is looked for anywhere in the text before the code.
    let class = if what.contains("general protection fault") {
        Class::GeneralProtectionFault
    } else if what.contains("divide error") || what.contains("divide_error") {
        Class::DivideError
    } else if what.contains("invalid opcode") || what.starts_with("Oops - BUG") {
        Class::Bug
    } else if what.contains("stack guard page") || what.contains("kernel stack overflow") {
        Class::StackOverflow
    } else if what.contains("double fault") {
        Class::DoubleFault
    } else if what.contains("stack segment") {
        Class::StackSegmentFault
    } else {
        Class::Oops
    };
    let mut h = Headline::new(class, Role::Die);
    h.die_number = Some(number);
    Some(h)
}

/// `kernel BUG at f.c:12!`, `WARNING: CPU: 0 PID: 1 at f.c:12 func+0x1/0x2 [mod]`,
/// `BUG: KASAN: ...`, `UBSAN: ...`, generic `BUG: ...`.
fn bug_or_warning(t: &str) -> Option<Headline> {
    for prefix in ["kernel BUG at ", "Kernel BUG at "] {
        if let Some(rest) = t.strip_prefix(prefix) {
            // CONFIG_DEBUG_LIST's and hardened usercopy's BUG()s say what they found.
            let class = if rest.starts_with("lib/list_debug.c") {
                Class::ListCorruption
            } else if rest.starts_with("mm/usercopy.c") {
                Class::Usercopy
            } else {
                Class::Bug
            };
            let mut h = Headline::new(class, Role::Die);
            let loc = rest.split(['!', ' ']).next().unwrap_or_default();
            h.location = (!loc.is_empty()).then(|| loc.to_owned());
            return Some(h);
        }
    }
    if lockdep_headline(t) {
        return Some(Headline::new(Class::Lockdep, Role::Warn));
    }
    if let Some(rest) = t.strip_prefix("WARNING: ") {
        return warning(rest);
    }
    // Sanitizers name the function in their headline: `... in func+0x1/0x2`, KCSAN
    // `data-race in a / b`.
    for (prefix, class) in [
        ("BUG: KASAN: ", Class::Kasan),
        ("BUG: KASan: ", Class::Kasan),
        ("BUG: KFENCE: ", Class::Kfence),
        ("BUG: KCSAN: ", Class::Bug),
        ("BUG: KMSAN: ", Class::Bug),
    ] {
        if let Some(rest) = t.strip_prefix(prefix) {
            let mut h = Headline::new(class, Role::Warn);
            h.function = rest
                .split_once(" in ")
                .map(|(_, f)| f.split(" / ").next().unwrap_or(f).trim().to_owned());
            return Some(h);
        }
    }
    if let Some(rest) = t.strip_prefix("UBSAN: ") {
        let mut h = Headline::new(Class::Ubsan, Role::Warn);
        h.location = rest
            .split_once(" in ")
            .map(|(_, l)| l.trim().to_owned())
            .filter(|l| is_location(l));
        return Some(h);
    }
    if has(t, &SOFT_LOCKUP) {
        return Some(Headline::new(Class::SoftLockup, Role::Watchdog));
    }
    // SLUB's consistency checks: `BUG kmalloc-64 (Not tainted): Poison overwritten`,
    // `BUG kmalloc-8 (Tainted: G B): Object already free`.
    const SLUB_FINDINGS: [&str; 8] = [
        "Poison overwritten",
        "Redzone overwritten",
        "Padding overwritten",
        "Object already free",
        "Invalid object pointer",
        "Freepointer corrupt",
        "Wrong object count",
        "Objects remaining",
    ];
    if let Some(rest) = t.strip_prefix("BUG ")
        && let Some((cache, _)) = rest.split_once(" (")
        && !cache.is_empty()
        && !cache.contains(' ')
        && let Some((_, finding)) = rest.split_once("): ")
        && SLUB_FINDINGS.iter().any(|f| finding.contains(f))
    {
        return Some(Headline::new(Class::Bug, Role::Warn));
    }
    if t.starts_with("BUG: ") {
        // `scheduling while atomic`, `sleeping function called from invalid context`,
        // `Bad page state`: reported with a trace, not fatal by themselves.
        return Some(Headline::new(Class::Bug, Role::Warn));
    }
    None
}

/// The text after `WARNING: `: `CPU: 0 PID: 1 at f.c:12 func+0x1/0x2`, the old `at f.c:12
/// func()`, the layout of new kernels `[cond] f.c:12 at func+0x1/0x2, CPU#0: comm/1`, and a
/// few other kernel reports (`kernel stack regs at ... has bad 'bp' value`). Any other printk
/// that starts with `WARNING:` (sshd, mount options, Spectre notices) is no crash.
fn warning(rest: &str) -> Option<Headline> {
    let mut h = Headline::new(Class::Warning, Role::Warn);
    let at = if rest.starts_with("CPU: ") {
        rest.find(" at ").map(|i| &rest[i + 4..])
    } else if let Some(at) = rest.strip_prefix("at ") {
        Some(at)
    } else {
        // `[!ptr] drivers/x.c:12 at func+0x1/0x2, CPU#0: comm/1`; the condition is optional.
        let body = match rest.strip_prefix('[') {
            Some(r) => r.split_once("] ").map_or(r, |(_, after)| after),
            None => rest,
        };
        let (loc, func) = body.split_once(" at ")?;
        if !is_location(loc) {
            return rest.starts_with("kernel stack ").then_some(h);
        }
        h.location = Some(loc.to_owned());
        let func = func.split(", CPU#").next().unwrap_or(func).trim();
        h.function = (!func.is_empty()).then(|| func.to_owned());
        return Some(h);
    };
    let at = at?;
    let first = at.split_whitespace().next().unwrap_or_default();
    if is_location(first) {
        h.location = Some(first.to_owned());
        let after = at.trim_start()[first.len()..].trim();
        h.function = (!after.is_empty()).then(|| after.to_owned());
    } else {
        h.function = Some(at.trim().to_owned());
    }
    Some(h)
}

/// lockdep's reports (and RCU-lockdep's), in today's `WARNING: ...` and the old bracketed
/// `[ INFO: ... ]` / `[ BUG: ... ]` spellings.
fn lockdep_headline(t: &str) -> bool {
    const REPORTS: [&str; 17] = [
        "possible circular locking dependency detected",
        "possible recursive locking detected",
        "inconsistent lock state",
        "possible irq lock inversion dependency detected",
        "SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected",
        "HARDIRQ-safe -> HARDIRQ-unsafe lock order detected",
        "SOFTIRQ-READ-safe -> SOFTIRQ-READ-unsafe lock order detected",
        "HARDIRQ-READ-safe -> HARDIRQ-READ-unsafe lock order detected",
        "bad unlock balance detected",
        "held lock freed",
        "lock held when returning to user space",
        "suspicious RCU usage",
        "trying to register non-static key",
        "nested lock was not taken",
        "lock held at task exit time",
        "possible deadlock",
        "Invalid wait context",
    ];
    let t = t.strip_prefix("[ ").unwrap_or(t);
    let Some(rest) = ["WARNING: ", "INFO: ", "BUG: "]
        .iter()
        .find_map(|p| t.strip_prefix(p))
    else {
        return false;
    };
    REPORTS.iter().any(|r| rest.starts_with(r)) || rest.contains(" still has locks held!")
}

fn watchdog_or_other(t: &str) -> Option<Headline> {
    if has(t, &HARD_LOCKUP) {
        return Some(Headline::new(Class::HardLockup, Role::Watchdog));
    }
    // The cheap prefix test first: this runs on every line of a log.
    if (t.starts_with("rcu: ") || t.starts_with("INFO: rcu"))
        && (t.contains("self-detected stall on CPU")
            || t.contains("detected stalls on CPUs/tasks")
            || t.contains("detected expedited stalls on CPUs/tasks")
            || t.contains("detected stalls on tasks")
            || t.contains("detected stall on CPU"))
    {
        return Some(Headline::new(Class::RcuStall, Role::Watchdog));
    }
    // `blocked for more than N seconds`, 6.x's `blocked in I/O wait for more than`, and
    // `can't die for more than` (a task with a fatal signal pending that does not exit).
    if let Some(rest) = t.strip_prefix("INFO: task ")
        && [
            " blocked for more than ",
            " blocked in I/O wait for more than ",
            " can't die for more than ",
        ]
        .iter()
        .any(|w| rest.contains(w))
    {
        return Some(Headline::new(Class::HungTask, Role::Watchdog));
    }
    // warn_alloc(): `chrome: page allocation failure: order:5, mode:0x24040c0(GFP_KERNEL)`,
    // `syz: vmalloc: allocation failure: 34359738352 bytes`.
    if has(t, &PAGE_ALLOCATION_FAILURE) || has(t, &VMALLOC_FAILURE) {
        return Some(Headline::new(Class::AllocationFailure, Role::Warn));
    }
    if has(t, &OOM_KILLER) {
        return Some(Headline::new(Class::OutOfMemory, Role::Watchdog));
    }
    if t.starts_with("sysrq: Trigger a crash") || t.starts_with("SysRq : Trigger a crash") {
        return Some(Headline::new(Class::Sysrq, Role::Intro));
    }
    if t.starts_with("list_del corruption")
        || t.starts_with("list_add corruption")
        || t.starts_with("list_add double add")
    {
        return Some(Headline::new(Class::ListCorruption, Role::Intro));
    }
    if t.starts_with("usercopy: Kernel memory ") {
        return Some(Headline::new(Class::Usercopy, Role::Intro));
    }
    // arm64's asynchronous external abort, its RAS error: `SError Interrupt on CPU0, code
    // 0x00000000be000011 -- SError`.
    if t.starts_with("SError Interrupt on CPU") {
        return Some(Headline::new(Class::MachineCheck, Role::Die));
    }
    if t.starts_with("mce: [Hardware Error]: ")
        || t.starts_with("[Hardware Error]: ")
        || t.starts_with("Machine check: ")
    {
        return Some(Headline::new(Class::MachineCheck, Role::Intro));
    }
    None
}

/// `path/file.c:123` (or `:123:45` for UBSAN).
fn is_location(s: &str) -> bool {
    match s.split_once(':') {
        Some((file, line)) => {
            !file.is_empty()
                && file.contains('.')
                && line
                    .split(':')
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        }
        None => false,
    }
}

/// What the panic message says about the crash that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PanicCause {
    /// The crash is the first oops (`Fatal exception`, `Fatal exception in interrupt`).
    Oops,
    /// panic_on_warn: the first WARNING-like report.
    Warn,
    /// The report of this class (a watchdog, OOM, MCE, ...).
    Class(Class),
    /// The panic itself is the crash (`panic()` called directly, `Attempted to kill init!`),
    /// unless an oops preceded it and led to it.
    Explicit,
}

/// Maps a panic message to the report that led to it.
pub(crate) fn panic_cause(message: &str) -> PanicCause {
    let m = message.trim();
    if m.contains("sysrq triggered crash") {
        PanicCause::Class(Class::Sysrq)
    } else if m.starts_with("stack-protector:") {
        PanicCause::Class(Class::StackProtector)
    } else if m.contains("panic_on_warn set") {
        PanicCause::Warn
    } else if m.starts_with("softlockup:") {
        PanicCause::Class(Class::SoftLockup)
    } else if m.starts_with("hung_task:") {
        PanicCause::Class(Class::HungTask)
    } else if m.starts_with("Hard LOCKUP") || m.starts_with("hardlockup:") {
        PanicCause::Class(Class::HardLockup)
    } else if m.starts_with("RCU Stall") {
        PanicCause::Class(Class::RcuStall)
    } else if m.starts_with("Out of memory") || m.starts_with("System is deadlocked on memory") {
        PanicCause::Class(Class::OutOfMemory)
    } else if m.contains("achine check")
        || m.starts_with("MCE")
        || m.contains("Not all CPUs entered broadcast exception handler")
    {
        PanicCause::Class(Class::MachineCheck)
    } else if m.starts_with("Received a stack overflow")
        || m.starts_with("corrupted stack end detected")
        || m.starts_with("kernel stack overflow")
    {
        PanicCause::Class(Class::StackOverflow)
    } else if m.contains("Fatal exception") {
        PanicCause::Oops
    } else {
        PanicCause::Explicit
    }
}

/// Whole messages of the panics `panic_cause` tells apart, for a panic line cut off mid-message.
const CAUSE_MESSAGES: [&str; 15] = [
    "Fatal exception",
    "Fatal exception in interrupt",
    "sysrq triggered crash",
    "stack-protector: Kernel stack is corrupted in: ",
    "kernel: panic_on_warn set ...",
    "panic_on_warn set ...",
    "softlockup: hung tasks",
    "hung_task: blocked tasks",
    "Hard LOCKUP",
    "hardlockup: hung tasks",
    "RCU Stall",
    "Out of memory and no killable processes...",
    "Out of memory: system-wide panic_on_oom is enabled",
    "System is deadlocked on memory",
    "Machine check",
];

/// The causes a panic message cut off at the end of a text may have had, most likely first:
/// those of the whole messages it begins; when it begins none, what it says itself.
pub(crate) fn cut_panic_causes(message: &str) -> Vec<PanicCause> {
    let m = message.trim();
    let mut causes: Vec<PanicCause> = Vec::new();
    for whole in CAUSE_MESSAGES.iter().filter(|w| w.starts_with(m)) {
        let c = panic_cause(whole);
        if !causes.contains(&c) {
            causes.push(c);
        }
    }
    if causes.is_empty() {
        causes.push(panic_cause(m));
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_panic_messages() {
        assert_eq!(cut_panic_causes("kernel: pa"), [PanicCause::Warn]);
        assert_eq!(cut_panic_causes("Fatal exc"), [PanicCause::Oops]);
        assert_eq!(
            cut_panic_causes("h"),
            [
                PanicCause::Class(Class::HungTask),
                PanicCause::Class(Class::HardLockup)
            ]
        );
        assert_eq!(
            cut_panic_causes("Attempted to kill init!"),
            [PanicCause::Explicit]
        );
        assert_eq!(cut_panic_causes("").len(), 10);
    }

    fn class_of(s: &str) -> Option<Class> {
        classify_line(s).map(|h| h.class)
    }

    #[test]
    fn fault_headlines() {
        let h = classify_line("BUG: kernel NULL pointer dereference, address: 0000000000000010")
            .unwrap();
        assert_eq!(h.class, Class::NullPointerDereference);
        assert_eq!(h.address.as_deref(), Some("0000000000000010"));
        assert_eq!(
            class_of("BUG: unable to handle page fault for address: ffffc90007ff0000"),
            Some(Class::PageFault)
        );
        assert_eq!(
            class_of(
                "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000010"
            ),
            Some(Class::NullPointerDereference)
        );
    }

    #[test]
    fn die_lines() {
        let h = classify_line("Oops: 0002 [#1] PREEMPT SMP PTI").unwrap();
        assert_eq!((h.class, h.die_number), (Class::Oops, Some(1)));
        assert_eq!(
            class_of(
                "general protection fault, probably for non-canonical address 0xdead000000000000: 0000 [#1] PREEMPT SMP NOPTI"
            ),
            Some(Class::GeneralProtectionFault)
        );
        assert_eq!(
            class_of(
                "Oops: general protection fault, probably for non-canonical address 0xdead000000000000: 0000 [#1] SMP"
            ),
            Some(Class::GeneralProtectionFault)
        );
        assert_eq!(
            class_of("divide error: 0000 [#1] PREEMPT SMP NOPTI"),
            Some(Class::DivideError)
        );
        assert_eq!(
            class_of("Oops: divide error: 0000 [#2] SMP"),
            Some(Class::DivideError)
        );
        assert_eq!(
            class_of("invalid opcode: 0000 [#1] PREEMPT SMP NOPTI"),
            Some(Class::Bug)
        );
        assert_eq!(
            class_of("Internal error: Oops - BUG: 00000000f2000800 [#1] PREEMPT SMP"),
            Some(Class::Bug)
        );
        assert_eq!(
            class_of("Internal error: Oops: 0000000096000045 [#1] PREEMPT SMP"),
            Some(Class::Oops)
        );
        assert_eq!(class_of("something [#1] else"), None);
        assert_eq!(class_of("Oops[#1]:"), Some(Class::Oops));
        assert_eq!(class_of("Oops [#1]"), Some(Class::Oops));
        assert_eq!(class_of("Oops - BUG [#1]"), Some(Class::Bug));
        assert_eq!(
            class_of(
                "CPU 0 Unable to handle kernel paging request at virtual address 00000000, epc == 804010f0"
            ),
            Some(Class::PageFault)
        );
        assert_eq!(
            class_of(
                "kasan: GPF could be caused by NULL-ptr deref or user memory accessgeneral protection fault: 0000 [#1] PREEMPT SMP KASAN"
            ),
            Some(Class::GeneralProtectionFault)
        );
        assert_eq!(
            class_of("divide_error: 0000 [#1] PREEMPT SMP KASAN"),
            Some(Class::DivideError)
        );
        assert_eq!(
            class_of("PANIC: double fault, error_code: 0x0"),
            Some(Class::DoubleFault)
        );
        assert_eq!(
            class_of(
                "syzkaller login: Unable to handle kernel paging request at virtual address fc14ef08"
            ),
            Some(Class::PageFault)
        );
    }

    #[test]
    fn bug_and_warning() {
        let h = classify_line("kernel BUG at mm/usercopy.c:99!").unwrap();
        assert_eq!(h.location.as_deref(), Some("mm/usercopy.c:99"));
        let h = classify_line(
            "WARNING: CPU: 0 PID: 1 at drivers/foo/bar.c:123 foo_probe+0x45/0x100 [foo]",
        )
        .unwrap();
        assert_eq!(h.class, Class::Warning);
        assert_eq!(h.location.as_deref(), Some("drivers/foo/bar.c:123"));
        assert_eq!(h.function.as_deref(), Some("foo_probe+0x45/0x100 [foo]"));
        let h = classify_line("WARNING: CPU: 2 PID: 7 at foo_probe+0x45/0x100").unwrap();
        assert_eq!(h.location, None);
        assert_eq!(h.function.as_deref(), Some("foo_probe+0x45/0x100"));
        let h = classify_line("WARNING: at kernel/foo.c:10 bar()").unwrap();
        assert_eq!(h.function.as_deref(), Some("bar()"));
        assert_eq!(
            class_of("WARNING: possible circular locking dependency detected"),
            Some(Class::Lockdep)
        );
        let h = classify_line("UBSAN: array-index-out-of-bounds in drivers/x.c:12:5").unwrap();
        assert_eq!(h.location.as_deref(), Some("drivers/x.c:12:5"));
    }

    #[test]
    fn watchdogs() {
        assert_eq!(
            class_of("watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [sh:85]"),
            Some(Class::SoftLockup)
        );
        assert_eq!(
            class_of("NMI watchdog: Watchdog detected hard LOCKUP on cpu 1"),
            Some(Class::HardLockup)
        );
        assert_eq!(
            class_of("rcu: INFO: rcu_preempt self-detected stall on CPU"),
            Some(Class::RcuStall)
        );
        assert_eq!(
            class_of("INFO: task sh:85 blocked for more than 3 seconds."),
            Some(Class::HungTask)
        );
        assert_eq!(
            class_of("sh invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"),
            Some(Class::OutOfMemory)
        );
    }

    #[test]
    fn panic_line_and_end_marker() {
        let h = classify_line("Kernel panic - not syncing: Fatal exception").unwrap();
        assert_eq!(h.message.as_deref(), Some("Fatal exception"));
        assert_eq!(
            class_of("---[ end Kernel panic - not syncing: Fatal exception ]---"),
            None
        );
    }

    #[test]
    fn panic_causes() {
        assert_eq!(
            panic_cause("Fatal exception in interrupt"),
            PanicCause::Oops
        );
        assert_eq!(
            panic_cause("kernel: panic_on_warn set ..."),
            PanicCause::Warn
        );
        assert_eq!(
            panic_cause("softlockup: hung tasks"),
            PanicCause::Class(Class::SoftLockup)
        );
        assert_eq!(
            panic_cause("sysrq triggered crash"),
            PanicCause::Class(Class::Sysrq)
        );
        assert_eq!(
            panic_cause("Out of memory: compulsory panic_on_oom is enabled"),
            PanicCause::Class(Class::OutOfMemory)
        );
        assert_eq!(panic_cause("RCU Stall"), PanicCause::Class(Class::RcuStall));
        assert_eq!(panic_cause("boom"), PanicCause::Explicit);
        assert_eq!(
            panic_cause("Attempted to kill init! exitcode=0x0000000b"),
            PanicCause::Explicit
        );
    }
}
