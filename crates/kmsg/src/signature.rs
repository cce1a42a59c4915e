//! The stable crash signature `<class>-<function>-<8 hex>` (algorithm in docs/signature.md).
//!
//! Only names go into the hash: no addresses, offsets, timestamps, PIDs, CPU numbers or
//! register values, so KASLR and a reboot do not change it.

use sha2::{Digest, Sha256};

use crate::class::Class;
use crate::frame::base_name;
use crate::guilty::{self, Candidate, Rules};
use crate::model::Frame;

/// How many names are hashed.
pub(crate) const SIGNATURE_FRAMES: usize = 6;
/// Version tag hashed first, so a future algorithm change cannot collide with this one.
const TAG: &str = "lastgasp-signature-v1";

/// What the signature is computed from.
pub(crate) struct Input<'a> {
    pub class: Class,
    /// The faulting instruction (RIP/pc).
    pub fault: Option<&'a Frame>,
    pub frames: &'a [Frame],
    /// Functions the report names outright, in order (stack-protector's victim, WARNING's and
    /// the sanitizers' `%pS`, lockdep's `at:` lines).
    pub named: &'a [Frame],
    /// How the guilty frame is found among the candidates.
    pub rules: Rules,
    /// `file:line` of BUG/WARNING/UBSAN.
    pub location: Option<&'a str>,
    pub panic_message: Option<&'a str>,
}

/// The signature and what went into it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Signature {
    pub text: String,
    pub function: Option<String>,
    pub names: Vec<String>,
}

pub(crate) fn compute(input: &Input<'_>) -> Signature {
    let names = significant_names(input);
    let mut hasher = Sha256::new();
    let mut feed = |key: &str, value: &str| {
        hasher.update(key.as_bytes());
        hasher.update(b"=");
        hasher.update(value.as_bytes());
        hasher.update(b"\n");
    };
    feed("tag", TAG);
    feed("class", input.class.name());
    if let Some(loc) = hashed_location(input.class, input.location) {
        feed("location", loc);
    }
    let message = input.panic_message.map(normalize_message);
    if let Some(m) = &message
        && (names.is_empty() || input.class == Class::Panic)
    {
        feed("message", m);
    }
    for name in &names {
        feed("frame", name);
    }
    let digest = hasher.finalize();
    let short = hex::encode(&digest[..4]);
    let function = names
        .first()
        .map(|n| n.rsplit(':').next().unwrap_or(n).to_owned());
    let shown = match (&function, &message) {
        (Some(f), _) => sanitize(f),
        (None, Some(m)) => slug(m),
        (None, None) => "unknown".to_owned(),
    };
    Signature {
        text: format!("{}-{}-{}", input.class.name(), shown, short),
        function,
        names,
    }
}

/// The `module:function` names hashed: from the guilty frame on, the named functions, the
/// faulting function, then the reliable frames, without the crash-reporting machinery,
/// compiler suffixes and repeats; the first six.
fn significant_names(input: &Input<'_>) -> Vec<String> {
    let class = input.class;
    let mut candidates: Vec<(&str, Option<&str>)> = Vec::new();
    for named in input.named {
        candidates.push((&named.function, named.module.as_deref()));
    }
    if let Some(f) = input.fault {
        candidates.push((&f.function, f.module.as_deref()));
    }
    let lockup = matches!(
        class,
        Class::SoftLockup | Class::HardLockup | Class::RcuStall
    );
    let outside_interrupt =
        |f: &Frame| !matches!(f.context.as_deref(), Some("irq" | "softirq" | "nmi"));
    // A watchdog's own interrupt frames say who noticed, not who hung: skip them when the
    // interrupted task's frames are there.
    let drop_interrupt = lockup
        && input
            .frames
            .iter()
            .any(|f| f.reliable && outside_interrupt(f));
    // What the timer interrupt interrupted starts after its (first) entry frame, even where
    // that is softirq work on the interrupt stack.
    let after_timer = if lockup {
        input
            .frames
            .iter()
            .position(|f| f.reliable && f.function.contains("apic_timer_interrupt"))
            .map(|at| at + 1)
    } else {
        None
    };
    let drop_interrupt = drop_interrupt && after_timer.is_none();
    for (i, f) in input.frames.iter().enumerate() {
        if after_timer.is_some_and(|start| i < start) {
            continue;
        }
        // A return address always lies after a call instruction, so one at offset 0 is the end
        // of the real caller (a noreturn call was its last instruction) and names the next
        // function in memory instead; arm64 prints such addresses unadjusted. Only the first
        // frame, the interrupted pc, can really be at offset 0.
        let past_noreturn_call = i > 0 && f.offset == Some(0);
        if f.reliable && !past_noreturn_call && (!drop_interrupt || outside_interrupt(f)) {
            candidates.push((&f.function, f.module.as_deref()));
        }
    }
    // Helpers and reporting code before the guilty frame are left out; from it on, only the
    // machinery lists apply, so a crash whose first frame was already guilty keeps its names.
    let bases: Vec<Candidate<'_>> = candidates
        .iter()
        .map(|(f, m)| Candidate {
            // An address the kernel could not name (`0x27f8000`, WARNING's `at 0x0`) is no
            // function to blame.
            name: Some(base_name(f)).filter(|n| !is_address(n)).unwrap_or(""),
            in_module: m.is_some(),
        })
        .collect();
    let start = guilty::choose(&bases, input.rules, |n| is_machinery(class, n)).unwrap_or(0);
    let mut names: Vec<String> = Vec::new();
    for &(function, module) in &candidates[start..] {
        let base = base_name(function);
        if base.is_empty() || is_address(base) || is_machinery(class, base) {
            continue;
        }
        let name = match module {
            Some(m) => format!("{m}:{base}"),
            None => base.to_owned(),
        };
        // The faulting function often reappears as the first frame; recursion repeats one.
        if names.last().is_some_and(|last| same_function(last, &name)) {
            continue;
        }
        names.push(name);
        if names.len() == SIGNATURE_FRAMES {
            break;
        }
    }
    names
}

/// `0x27f8000`, `ffffffff8343632e`: what the kernel prints for an address without a symbol.
fn is_address(name: &str) -> bool {
    let hex = |h: &str| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit());
    match name.strip_prefix("0x") {
        Some(h) => hex(h),
        None => name.len() >= 8 && hex(name),
    }
}

/// `mod:f` and `f` name the same function when one of them lacks the module.
fn same_function(a: &str, b: &str) -> bool {
    let fa = a.rsplit(':').next().unwrap_or(a);
    let fb = b.rsplit(':').next().unwrap_or(b);
    fa == fb
}

/// BUG hashes `file:line`; WARNING and UBSAN hash only the file, whose line moves with
/// every unrelated edit while the same WARN_ON keeps firing.
/// An absolute path is an out-of-tree module's build directory, which differs between the
/// machines that built the same module: only its file name is kept.
fn hashed_location(class: Class, location: Option<&str>) -> Option<&str> {
    let loc = location?;
    let loc = if loc.starts_with('/') {
        loc.rsplit('/').next().unwrap_or(loc)
    } else {
        loc
    };
    match class {
        Class::Bug => Some(loc),
        Class::Warning | Class::Ubsan => loc.split(':').next(),
        _ => None,
    }
}

/// Frames that belong to reporting the crash, not to causing it. The list is documented in
/// docs/signature.md; keep both in sync.
pub(crate) fn is_machinery(class: Class, name: &str) -> bool {
    const PREFIXES: [&str; 8] = [
        "asm_exc_",
        "asm_sysvec_",
        "asm_common_interrupt",
        "__asan_",
        "__kasan_",
        "kasan_",
        "__ubsan_handle_",
        "warn_slowpath",
    ];
    if PREFIXES.iter().any(|p| name.starts_with(p)) {
        return true;
    }
    if GENERIC.contains(&name) {
        return true;
    }
    let extra: &[&str] = match class {
        Class::SoftLockup | Class::HardLockup | Class::RcuStall => LOCKUP,
        Class::HungTask => SLEEP,
        Class::OutOfMemory | Class::AllocationFailure => ALLOCATOR,
        Class::Usercopy => USERCOPY,
        Class::ListCorruption => LIST_DEBUG,
        _ => &[],
    };
    // Memory allocation profiling (6.10+) renames the allocators' entry points with a
    // `_noprof` suffix (`__alloc_pages_noprof`); they are the same machinery.
    let unprofiled = name.strip_suffix("_noprof").unwrap_or(name);
    extra.contains(&name) || extra.contains(&unprofiled)
}

/// Oops, WARN, BUG and panic reporting, exception entry (x86_64 and arm64).
const GENERIC: &[&str] = &[
    "dump_stack",
    "dump_stack_lvl",
    "show_stack",
    "show_regs",
    "__show_regs",
    "show_trace_log_lvl",
    "dump_backtrace",
    "__warn",
    "report_bug",
    "handle_bug",
    "exc_invalid_op",
    "do_error_trap",
    "do_trap",
    "do_invalid_op",
    "invalid_op",
    "die",
    "__die",
    "__die_body",
    "die_body",
    "die_addr",
    "oops_end",
    "page_fault_oops",
    "no_context",
    "__bad_area_nosemaphore",
    "bad_area_nosemaphore",
    "bad_area",
    "kernelmode_fixup_or_oops",
    "do_user_addr_fault",
    "do_kern_addr_fault",
    "handle_page_fault",
    "exc_page_fault",
    "do_page_fault",
    "page_fault",
    "exc_general_protection",
    "do_general_protection",
    "general_protection",
    "exc_divide_error",
    "do_divide_error",
    "divide_error",
    "exc_double_fault",
    "exc_stack_segment",
    "handle_stack_overflow",
    "fixup_exception",
    "panic",
    "vpanic",
    "nmi_panic",
    "check_panic_on_warn",
    "__stack_chk_fail",
    "make_task_dead",
    "rewind_stack_and_make_dead",
    "rewind_stack_do_exit",
    // arm64
    "panic_bad_stack",
    "handle_bad_stack",
    "__bad_stack",
    "arm64_notify_die",
    "do_mem_abort",
    "el1_abort",
    "el1_da",
    "el1h_64_sync_handler",
    "el1h_64_sync",
    "el1_sync_handler",
    "el1_sync",
    "el1_dbg",
    "el1_undef",
    "do_el1_undef",
    "do_translation_fault",
    "__do_kernel_fault",
    "die_kernel_fault",
    "do_bad_area",
    "bug_handler",
    "bug_brk_handler",
    "call_break_hook",
    "call_el1_break_hook",
    "brk_handler",
    "do_debug_exception",
    "do_el1_brk64",
    "el1_brk64",
    "do_el1_bti",
    // KASAN/UBSAN reporting
    "print_report",
    "print_address_description",
    "ubsan_epilogue",
];

/// The watchdog interrupt that noticed the lockup.
const LOCKUP: &[&str] = &[
    "watchdog_timer_fn",
    "watchdog_overflow_callback",
    "__perf_event_overflow",
    "perf_event_overflow",
    "handle_pmi_common",
    "intel_pmu_handle_irq",
    "perf_event_nmi_handler",
    "nmi_handle",
    "default_do_nmi",
    "exc_nmi",
    "end_repeat_nmi",
    "nmi_cpu_backtrace",
    "nmi_trigger_cpumask_backtrace",
    "arch_trigger_cpumask_backtrace",
    "trigger_single_cpu_backtrace",
    "dump_cpu_task",
    "rcu_dump_cpu_stacks",
    "print_cpu_stall",
    "check_cpu_stall",
    "rcu_pending",
    "rcu_sched_clock_irq",
    "update_process_times",
    "tick_sched_handle",
    "tick_sched_timer",
    "tick_nohz_handler",
    "tick_nohz_highres_handler",
    "__hrtimer_run_queues",
    "hrtimer_interrupt",
    "__sysvec_apic_timer_interrupt",
    "sysvec_apic_timer_interrupt",
    "irq_exit_rcu",
    "__irq_exit_rcu",
];

/// Where a blocked task sleeps; its caller is the interesting frame.
const SLEEP: &[&str] = &[
    "__switch_to",
    "__switch_to_asm",
    "__schedule",
    "schedule",
    "schedule_timeout",
    "schedule_timeout_uninterruptible",
    "schedule_preempt_disabled",
    "schedule_hrtimeout_range_clock",
    "schedule_hrtimeout_range",
    "io_schedule",
    "io_schedule_timeout",
    "__wait_for_common",
    "wait_for_common",
    "wait_for_completion",
    "wait_for_completion_timeout",
    "wait_for_completion_killable",
    "__mutex_lock",
    "__mutex_lock_slowpath",
    "mutex_lock",
    "rwsem_down_read_slowpath",
    "rwsem_down_write_slowpath",
    "down_read",
    "down_write",
    "__down",
    "__down_common",
    "down",
];

/// The page and slab allocators and the OOM killer; the allocating caller is the interesting
/// frame.
const ALLOCATOR: &[&str] = &[
    "dump_header",
    "check_panic_on_oom",
    "oom_kill_process",
    "out_of_memory",
    "__alloc_pages_may_oom",
    "__alloc_pages_slowpath",
    "__alloc_pages",
    "__alloc_pages_nodemask",
    "alloc_pages",
    "alloc_pages_current",
    "alloc_pages_vma",
    "alloc_pages_mpol",
    "__folio_alloc",
    "folio_alloc",
    "vma_alloc_folio",
    "__get_free_pages",
    "get_zeroed_page",
    "new_slab",
    "allocate_slab",
    "___slab_alloc",
    "__slab_alloc",
    "slab_alloc_node",
    "kmem_cache_alloc",
    "kmem_cache_alloc_lru",
    "kmem_cache_alloc_node",
    "__kmem_cache_alloc_node",
    "kmalloc_trace",
    "kmalloc_node_trace",
    "__kmalloc",
    "__kmalloc_node",
    "__kmalloc_node_track_caller",
    "kmalloc_large",
    "kmalloc_large_node",
    "kmalloc_order",
    "kmalloc_order_trace",
    "xas_nomem",
];

/// The hardened-usercopy checkers.
const USERCOPY: &[&str] = &[
    "usercopy_abort",
    "__check_heap_object",
    "check_heap_object",
    "__check_object_size",
    "check_object_size",
    "check_kernel_text_object",
    "check_stack_object",
    "_copy_to_user",
    "_copy_from_user",
];

/// CONFIG_DEBUG_LIST's checkers.
const LIST_DEBUG: &[&str] = &[
    "__list_add_valid",
    "__list_del_entry_valid",
    "__list_add_valid_or_report",
    "__list_del_entry_valid_or_report",
];

/// One of CONFIG_DEBUG_LIST's checkers.
pub(crate) fn is_list_checker(name: &str) -> bool {
    LIST_DEBUG.contains(&name)
}

/// A panic message without volatile parts: symbol offsets and long hex numbers (addresses).
pub(crate) fn normalize_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for word in message.split_whitespace() {
        let word = match word.find("+0x") {
            Some(at) if word[at..].contains('/') => &word[..at],
            _ => word,
        };
        let digits = word.trim_start_matches("0x");
        let hexlike = digits.len() >= 9 && digits.bytes().all(|b| b.is_ascii_hexdigit());
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(if hexlike { "<hex>" } else { word });
    }
    out
}

/// `Attempted to kill init! exitcode=0x00000009` gives `attempted-to-kill-init-exitcode-0x00000009`.
fn slug(message: &str) -> String {
    let mut out = String::new();
    for c in message.chars() {
        if out.len() >= 40 {
            break;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() {
        "unknown".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// A function name safe to put in a signature.
fn sanitize(function: &str) -> String {
    function
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, module: Option<&str>, reliable: bool) -> Frame {
        Frame {
            function: function.into(),
            offset: Some(1),
            size: Some(2),
            module: module.map(str::to_owned),
            reliable,
            context: None,
        }
    }

    fn input<'a>(class: Class, fault: Option<&'a Frame>, frames: &'a [Frame]) -> Input<'a> {
        Input {
            class,
            fault,
            frames,
            named: &[],
            rules: Rules::PLAIN,
            location: None,
            panic_message: None,
        }
    }

    #[test]
    fn machinery_unreliable_and_suffixes_are_dropped() {
        let fault = frame("my_func", Some("mymod"), true);
        let frames = [
            frame("__die", None, false),
            frame("page_fault_oops", None, false),
            frame("my_func", Some("mymod"), false),
            frame("my_caller.isra.0", Some("mymod"), true),
            frame("vfs_write", None, true),
        ];
        let s = compute(&input(Class::NullPointerDereference, Some(&fault), &frames));
        assert_eq!(s.names, ["mymod:my_func", "mymod:my_caller", "vfs_write"]);
        assert_eq!(s.function.as_deref(), Some("my_func"));
        assert!(s.text.starts_with("null-pointer-dereference-my_func-"));
        assert_eq!(s.text.len(), "null-pointer-dereference-my_func-".len() + 8);
    }

    #[test]
    fn class_and_frames_change_the_hash() {
        let frames = [frame("a", None, true), frame("b", None, true)];
        let one = compute(&input(Class::SoftLockup, None, &frames));
        let two = compute(&input(Class::RcuStall, None, &frames));
        assert_ne!(
            one.text[one.text.len() - 8..],
            two.text[two.text.len() - 8..]
        );
        let other = [frame("a", None, true), frame("c", None, true)];
        let three = compute(&input(Class::SoftLockup, None, &other));
        assert_ne!(one.text, three.text);
    }

    #[test]
    fn return_address_at_offset_zero_is_skipped() {
        let mut after_noreturn = frame("next_function", None, true);
        after_noreturn.offset = Some(0);
        let mut pc_at_entry = frame("entry", None, true);
        pc_at_entry.offset = Some(0);
        let frames = [pc_at_entry, after_noreturn, frame("caller", None, true)];
        let s = compute(&input(Class::Sysrq, None, &frames));
        assert_eq!(s.names, ["entry", "caller"]);
    }

    #[test]
    fn recursion_collapses_and_six_names_at_most() {
        let mut frames: Vec<Frame> = (0..50).map(|_| frame("recurse", Some("m"), true)).collect();
        frames.extend((0..10).map(|i| frame(&format!("f{i}"), None, true)));
        let s = compute(&input(Class::StackOverflow, None, &frames));
        assert_eq!(s.names, ["m:recurse", "f0", "f1", "f2", "f3", "f4"]);
    }

    #[test]
    fn no_trace_uses_message_slug() {
        let mut i = input(Class::Panic, None, &[]);
        i.panic_message = Some("VFS: Unable to mount root fs on unknown-block(0,0)");
        let s = compute(&i);
        assert!(
            s.text
                .starts_with("panic-vfs-unable-to-mount-root-fs-on-unknown-b-"),
            "{}",
            s.text
        );
        assert_eq!(s.function, None);
    }

    #[test]
    fn warning_hashes_file_not_line() {
        let frames = [frame("w", None, true)];
        let mut a = input(Class::Warning, None, &frames);
        a.location = Some("drivers/x.c:10");
        let mut b = input(Class::Warning, None, &frames);
        b.location = Some("drivers/x.c:12");
        assert_eq!(compute(&a).text, compute(&b).text);
        let mut c = input(Class::Bug, None, &frames);
        c.location = Some("drivers/x.c:10");
        let mut d = input(Class::Bug, None, &frames);
        d.location = Some("drivers/x.c:12");
        assert_ne!(compute(&c).text, compute(&d).text);
    }

    #[test]
    fn out_of_tree_build_directory_is_ignored() {
        let frames = [frame("w", Some("m"), true)];
        let mut a = input(Class::Bug, None, &frames);
        a.location = Some("/home/alice/src/m/main.c:10");
        let mut b = input(Class::Bug, None, &frames);
        b.location = Some("/build/m/main.c:10");
        assert_eq!(compute(&a).text, compute(&b).text);
        let mut c = input(Class::Bug, None, &frames);
        c.location = Some("/build/m/other.c:10");
        assert_ne!(compute(&a).text, compute(&c).text);
    }

    #[test]
    fn message_normalization() {
        assert_eq!(
            normalize_message("stack-protector: Kernel stack is corrupted in: f+0x45/0x50 [m]"),
            "stack-protector: Kernel stack is corrupted in: f [m]"
        );
        assert_eq!(normalize_message("at ffff888003a1b2c0 now"), "at <hex> now");
        assert_eq!(
            normalize_message("exitcode=0x00000009"),
            "exitcode=0x00000009"
        );
    }
}
