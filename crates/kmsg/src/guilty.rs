//! The guilty frame: which function of a crash report is to blame, as a kernel engineer (and
//! syzkaller's report parser, pkg/report/linux.go) reads it. Reporting machinery (lockdep,
//! sanitizers, WARN/BUG plumbing), generic helpers (locking, allocation, string, list, copy,
//! refcount, workqueue and device-model helpers) and compiler instrumentation are skipped, so the
//! caller that misused them is named. Stalls name a representative frame deeper in the stack and
//! hung tasks the first frame that is not waiting. docs/signature.md §3 lists the rules.

use crate::class::Class;

/// How the guilty frame is picked among the candidates that survive the skip patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extractor {
    /// The first frame.
    First,
    /// soft lockups and RCU stalls: the frame just above the first dispatch point (syscall
    /// entry, workqueue, softirq, ...), because the stall interrupts a loop at a random place.
    Stall,
    /// hung tasks: the first frame that is not part of waiting (scheduler, locks, completions).
    Hang,
}

/// The rules of one report kind: extra patterns to skip and how to pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rules {
    pub extra_skip: &'static [&'static str],
    pub extractor: Extractor,
}

impl Rules {
    pub const PLAIN: Rules = Rules {
        extra_skip: &[],
        extractor: Extractor::First,
    };
}

/// One name the guilty frame may be: its base name and whether it was printed with a module.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate<'a> {
    pub name: &'a str,
    pub in_module: bool,
}

/// The index of the guilty candidate, or `None` when every candidate is skipped. `skipped`
/// says which candidates are crash machinery by the older, narrower rules; those are never
/// guilty either.
pub(crate) fn choose(
    candidates: &[Candidate<'_>],
    rules: Rules,
    skipped: impl Fn(&str) -> bool,
) -> Option<usize> {
    let kept: Vec<usize> = (0..candidates.len())
        .filter(|&i| {
            let name = candidates[i].name;
            !name.is_empty() && !skipped(name) && !is_helper(name, rules.extra_skip)
        })
        .collect();
    let first = *kept.first()?;
    match rules.extractor {
        Extractor::First => Some(first),
        // A module's loop is the module's bug: name it rather than the syscall that entered it.
        Extractor::Stall if candidates[first].in_module => Some(first),
        Extractor::Stall => {
            let mut prev = first;
            for &i in &kept {
                let name = strip_syscall_prefix(candidates[i].name);
                if STALL_ANCHORS.iter().any(|a| matches(name, a)) {
                    return Some(prev);
                }
                prev = i;
            }
            Some(first)
        }
        Extractor::Hang => kept
            .iter()
            .copied()
            .find(|&i| HANG_ANCHORS.iter().any(|a| candidates[i].name.contains(a)))
            .or_else(|| {
                kept.iter()
                    .copied()
                    .find(|&i| !HANG_WAITING.iter().any(|w| candidates[i].name.contains(w)))
            })
            .or(Some(first)),
    }
}

/// The rules for a report of `class` whose headline reads `headline` and whose WARNING or BUG
/// location is `location`.
pub(crate) fn rules_for(class: Class, headline: &str, location: Option<&str>) -> Rules {
    let extractor = match class {
        Class::SoftLockup | Class::RcuStall => Extractor::Stall,
        Class::HungTask => Extractor::Hang,
        // The scheduler found the stack's end overwritten: where the task was interrupted is
        // as random as in a stall.
        _ if headline.contains("corrupted stack end") => Extractor::Stall,
        _ => Extractor::First,
    };
    let file = location.map(|l| l.split(':').next().unwrap_or(l));
    let by_file = file.and_then(|file| {
        WARNING_SKIPS
            .iter()
            .find(|(f, _)| file.ends_with(f))
            .map(|(_, s)| *s)
            .or_else(|| {
                (file.starts_with("mm/") && headline.contains("alloc"))
                    .then_some(ALLOC_WARNING_SKIP)
            })
    });
    let extra_skip: &'static [&'static str] = by_file
        .or_else(|| {
            HEADLINE_SKIPS
                .iter()
                .find(|(h, _)| headline.contains(h))
                .map(|(_, s)| *s)
        })
        .unwrap_or(&[]);
    let extra_skip = if class == Class::RcuStall {
        RCU_STALL_SKIP
    } else if headline.contains("usb_submit_urb") {
        USB_SKIP
    } else {
        extra_skip
    };
    Rules {
        extra_skip,
        extractor,
    }
}

/// Whether `name` is a helper or reporting function that is never to blame: syzkaller's skip
/// patterns (a plain pattern matches anywhere in the name, `^` anchors the start, `$` the end)
/// plus the report kind's own.
pub(crate) fn is_helper(name: &str, extra: &[&str]) -> bool {
    skip_set().matches(name) || extra.iter().any(|p| matches(name, p)) || is_atomic_or_crc(name)
}

/// `SKIP`, indexed once: `matches` against each of its ~290 patterns in turn built a substring
/// searcher per pattern for every frame of every report, most of the analysis's time.
fn skip_set() -> &'static PatternSet {
    static SET: std::sync::OnceLock<PatternSet> = std::sync::OnceLock::new();
    SET.get_or_init(|| PatternSet::new(SKIP))
}

/// Patterns in `matches`'s syntax, answering whether any matches a name. Exact names go in a
/// set; the plain (substring) patterns are filed by their first byte, so a name is compared
/// only with those that begin with one of its bytes.
struct PatternSet {
    exact: std::collections::HashSet<&'static str>,
    prefixes: Vec<&'static str>,
    suffixes: Vec<&'static str>,
    by_first_byte: Vec<Vec<&'static [u8]>>,
}

impl PatternSet {
    fn new(patterns: &[&'static str]) -> Self {
        let mut set = PatternSet {
            exact: Default::default(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            by_first_byte: vec![Vec::new(); 256],
        };
        for &pattern in patterns {
            match Pattern::parse(pattern) {
                Pattern::Exact(name) => {
                    set.exact.insert(name);
                }
                Pattern::Prefix(p) => set.prefixes.push(p),
                Pattern::Suffix(p) => set.suffixes.push(p),
                // Every substring pattern has a first byte (an empty one is never written).
                Pattern::Substring(p) => {
                    set.by_first_byte[usize::from(p.as_bytes()[0])].push(p.as_bytes())
                }
            }
        }
        set
    }

    fn matches(&self, name: &str) -> bool {
        let bytes = name.as_bytes();
        self.exact.contains(name)
            || self.prefixes.iter().any(|p| name.starts_with(p))
            || self.suffixes.iter().any(|p| name.ends_with(p))
            || (0..bytes.len()).any(|at| {
                let rest = &bytes[at..];
                self.by_first_byte[usize::from(rest[0])]
                    .iter()
                    .any(|p| rest.starts_with(p))
            })
    }
}

fn matches(name: &str, pattern: &str) -> bool {
    Pattern::parse(pattern).matches(name)
}

/// One pattern of `matches`'s syntax, its anchors read.
enum Pattern<'a> {
    /// `^name$`.
    Exact(&'a str),
    /// `^start`.
    Prefix(&'a str),
    /// `end$`.
    Suffix(&'a str),
    /// Anywhere in the name.
    Substring(&'a str),
}

impl<'a> Pattern<'a> {
    fn parse(pattern: &'a str) -> Self {
        match (pattern.strip_prefix('^'), pattern.strip_suffix('$')) {
            (Some(_), Some(_)) => Pattern::Exact(&pattern[1..pattern.len() - 1]),
            (Some(p), None) => Pattern::Prefix(p),
            (None, Some(p)) => Pattern::Suffix(p),
            (None, None) => Pattern::Substring(pattern),
        }
    }

    fn matches(&self, name: &str) -> bool {
        match *self {
            Pattern::Exact(p) => name == p,
            Pattern::Prefix(p) => name.starts_with(p),
            Pattern::Suffix(p) => name.ends_with(p),
            Pattern::Substring(p) => name.contains(p),
        }
    }
}

/// `atomic_inc`, `atomic64_fetch_add`, ... and `crc32`, `crc16_...`: families that patterns
/// with alternatives describe in syzkaller.
fn is_atomic_or_crc(name: &str) -> bool {
    const OPS: [&str; 13] = [
        "dec", "inc", "read", "set", "or", "xor", "and", "add", "sub", "fetch", "xchg", "cmpxchg",
        "try",
    ];
    let atomic = ["atomic_", "atomic64_"].iter().any(|p| {
        name.match_indices(p)
            .any(|(at, _)| OPS.iter().any(|op| name[at + p.len()..].starts_with(op)))
    });
    let crc = name
        .strip_prefix("crc")
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
    let once = ["read_once_", "write_once_"].iter().any(|p| {
        name.find(p)
            .is_some_and(|at| name[at..].contains("nocheck"))
    });
    atomic || crc || once
}

/// `__x64_sys_ioctl` gives `ioctl`: the shortest name left after one syscall-wrapper prefix.
pub(crate) fn strip_syscall_prefix(name: &str) -> &str {
    const PREFIXES: [&str; 15] = [
        "SYSC_",
        "SyS_",
        "sys_",
        "__x64_",
        "__ia32_",
        "__arm64_",
        "____sys_",
        "___sys_",
        "__sys_",
        "__se_",
        "__se_sys_",
        "__do_sys_",
        "compat_SYSC_",
        "compat_SyS_",
        "ksys_",
    ];
    PREFIXES
        .iter()
        .filter_map(|p| name.strip_prefix(p).filter(|r| !r.is_empty()))
        .min_by_key(|r| r.len())
        .unwrap_or(name)
}

/// Never the guilty frame (syzkaller's linuxStackParams.skipPatterns, as of 2025).
const SKIP: &[&str] = &[
    // sanitizer and coverage instrumentation
    "__sanitizer",
    "__asan",
    "kasan",
    "hwasan",
    "__msan",
    "kmsan",
    "kcsan_setup_watchpoint",
    "check_memory_region",
    "check_heap_object",
    "check_object",
    "read_word_at_a_time",
    "_indirect_thunk_",
    // crash reporting
    "print_address_description",
    // the kernel's panic functions (syzkaller matches `panic` anywhere, which would also skip
    // a driver's own `foo_call_panic`)
    "^panic",
    "^__panic$",
    "vpanic",
    "nmi_panic",
    "check_panic_on",
    "skb_panic",
    // Rust's panic path and the C helpers that wrap macros for it
    "^rust_helper_",
    "rust_begin_unwind",
    "skb_over_panic",
    "skb_under_panic",
    "fortify_panic",
    "reiserfs_panic",
    "invalid_op",
    "report_bug",
    "fixup_bug",
    "print_report",
    "print_usage_bug",
    "do_error",
    "_trap$",
    "do_trap",
    "show_stack",
    "dump_stack",
    "walk_stack",
    "dump_backtrace",
    "warn_slowpath",
    "warn_alloc",
    "warn_bogus",
    "__warn",
    "print_tainted",
    "print_unlock",
    "imbalance_bug",
    "hex_dump_to_buffer",
    "print_hex_dump",
    "stack_trace_consume_entry",
    "arch_stack_walk",
    "stack_trace_save",
    "__fortify_report",
    "assertfail",
    "^get_taint$",
    // functions that print a report for their caller (lockdep, preemption and spinlock
    // debugging, page and scheduler checks, sanitizer runtimes, hardened usercopy)
    "print_circular_bug",
    "print_deadlock_bug",
    "print_bad_irq_dependency",
    "print_irq_inversion_bug",
    "print_lock_nested_lock_not_held",
    "print_held_locks_bug",
    "print_freed_lock_bug",
    "check_noncircular",
    "check_prev_add",
    "check_prevs_add",
    "validate_chain",
    "check_irq_usage",
    "debug_check_no_locks_freed",
    "check_preemption_disabled",
    "debug_smp_processor_id",
    "debug_print_object",
    "debug_check_no_obj_freed",
    "spin_dump",
    "spin_bug",
    "rwlock_bug",
    "__schedule_bug",
    "^bad_page$",
    "print_bad_pte",
    "kcsan_report",
    "kfence_report_error",
    "usercopy_warn",
    "usercopy_abort",
    // allocation
    "alloc_page",
    "malloc",
    "zalloc",
    "calloc",
    "krealloc",
    "kmem_cache",
    "allocate_slab",
    "__alloc_frozen_pages_noprof",
    "folio_alloc",
    "folio_unlock",
    "filemap_alloc_folio",
    "__filemap_get_folio",
    "find_or_create_page",
    "do_read_cache_folio",
    "read_cache_page",
    "pagecache_get_page",
    "grab_cache_page_write_begin",
    "slab_",
    "^kfree$",
    "^kvfree$",
    "kfree_skb",
    "memdup",
    "ida_free",
    // debug objects
    "debug_object",
    "timer_is_static_object",
    "work_is_static_object",
    // locking and lockdep
    "lockdep",
    "bh_enable",
    "bh_disable",
    "perf_trace",
    "lock_acquire",
    "lock_release",
    "lock_class",
    "mark_lock",
    "reacquire_held_locks",
    "mark_held_locks",
    "raw_spin_rq",
    "spin_lock",
    "spin_trylock",
    "spin_unlock",
    "read_lock",
    "read_trylock",
    "write_lock",
    "write_trylock",
    "read_unlock",
    "write_unlock",
    "^down$",
    "down_read",
    "down_write",
    "down_trylock",
    "up_read",
    "up_write",
    "^mutex_",
    "^__mutex_",
    "^rt_mutex_",
    "owner_on_cpu",
    "osq_lock",
    "osq_unlock",
    "trace_hardirq",
    "trace_softirq",
    "^lock_page",
    "^unlock_page",
    "lock_timer_base",
    "seqprop_assert",
    // bit, refcount and wait helpers
    "set_bit",
    "clear_bit",
    "change_bit",
    "test_bit",
    "__wake_up",
    "^refcount_",
    "^kref_",
    "ref_tracker",
    "^complete$",
    "wait_for_completion",
    "finish_wait",
    "__might_fault",
    "might_fault",
    "might_sleep",
    "__might_resched",
    // memory, string and user-copy helpers
    "memcpy",
    "memcmp",
    "memset",
    "memchr",
    "memmove",
    "strcmp",
    "strncmp",
    "strcpy",
    "strlcpy",
    "strncpy",
    "strscpy",
    "strlen",
    "strstr",
    "strnstr",
    "strnlen",
    "strchr",
    "strdup",
    "strndup",
    "copy_to_user",
    "copy_from_user",
    "copy_to_iter",
    "copy_from_iter",
    "copy_page_to_iter",
    "copy_page_from_iter",
    "copy_folio_to_iter",
    "^copyin$",
    "^copyout$",
    "put_user",
    "get_user",
    "extract_user_to_sg",
    "extract_iter_to_sg",
    "__phys_addr",
    // data structures
    "list_add",
    "list_del",
    "list_replace",
    "list_move",
    "list_splice",
    "^rb_",
    "^__rb_",
    "^klist_",
    "xas_start",
    "xas_load",
    "xas_find",
    "find_lock_entries",
    "rhashtable_lookup",
    "^crc_itu_t",
    // printing
    "string",
    "pointer",
    "snprintf",
    "scnprintf",
    "kasprintf",
    "kvasprintf",
    "printk",
    "va_format",
    "dev_info",
    "dev_notice",
    "dev_warn",
    "dev_err",
    "dev_alert",
    "dev_crit",
    "dev_emerg",
    // timers and workqueues
    "del_timer",
    "__timer_delete_sync",
    "sk_stop_timer_sync",
    "__mod_timer",
    "flush_work",
    "__cancel_work_timer",
    "cancel_work_sync",
    "try_to_grab_pending",
    "flush_workqueue",
    "drain_workqueue",
    "destroy_workqueue",
    "queue_work",
    "insert_work",
    "__queue_delayed_work",
    "queue_delayed_work_on",
    "kthread_stop",
    "cleanup_srcu_struct",
    // device model and teardown helpers
    "kobject_",
    "add_uevent_var",
    "get_device_parent",
    "device_add",
    "device_del",
    "device_unregister",
    "device_destroy",
    "device_release",
    "devres_release_all",
    "hwrng_unregister",
    "i2c_del_adapter",
    "__unregister_client",
    "device_for_each_child",
    "rollback_registered",
    "unregister_netdev",
    "sysfs_remove",
    "device_remove_file",
    "tty_unregister_device",
    "^put_device$",
    "dummy_urb_enqueue",
    "usb_kill_urb",
    "usb_kill_anchored_urbs",
    "usb_control_msg",
    "usb_hcd_submit_urb",
    "usb_submit_urb",
    // MMIO accessors
    "readb$",
    "readw$",
    "readl$",
    "readq$",
    "writeb$",
    "writew$",
    "writel$",
    "writeq$",
    "logic_in",
    "logic_out",
    // inode and dentry references
    "^iput$",
    "^iput_final$",
    "^ihold$",
    "drop_nlink",
    "fast_dput",
    "dput",
    "mark_buffer_dirty",
    "truncate_inode_pages_range",
    // exception entry (powerpc, arm64)
    "program_check_exception",
    "program_check_common",
    "do_kernel_fault",
    "do_translation_fault",
    "do_mem_abort",
    "el1_abort",
    "el1h_64_sync",
];

/// An RCU stall's own detector and the RCU core it runs in.
const RCU_STALL_SKIP: &[&str] = &["apic_timer_interrupt", "rcu"];

/// WARNINGs raised by a generic checker on behalf of its caller, by the checker's file.
const WARNING_SKIPS: &[(&str, &[&str])] = &[
    (
        "lib/debugobjects.c",
        &[
            "debug_",
            "rcu",
            "hrtimer_",
            "timer_",
            "work_",
            "percpu_",
            "kmem_",
            "slab_",
            "kfree",
            "vunmap",
            "vfree",
            "__free_",
            "debug_check",
            "kobject_",
        ],
    ),
    ("mm/usercopy.c", &["^usercopy_", "__check_"]),
    ("lib/kobject.c", &["kobject_"]),
    ("fs/proc/generic.c", &["proc_"]),
    ("lib/refcount.c", &["refcount", "kobject_"]),
    ("kernel/locking/lockdep.c", &["lock_sock", "release_sock"]),
];

/// A WARNING in the allocators about a bad allocation request names the allocating caller.
const ALLOC_WARNING_SKIP: &[&str] = &[
    "kmalloc", "kcalloc", "kzalloc", "krealloc", "vmalloc", "slab", "kmem",
];

const USB_SKIP: &[&str] = &[
    "usb_submit_urb",
    "usb_start_wait_urb",
    "usb_bulk_msg",
    "usb_interrupt_msg",
    "usb_control_msg",
];

/// Reports whose own machinery has names the generic patterns miss, by headline text.
const HEADLINE_SKIPS: &[(&str, &[&str])] = &[
    (
        "suspicious RCU usage",
        &[
            "rcu", "kmem", "slab", "kmalloc", "vmalloc", "kcalloc", "kzalloc",
        ],
    ),
    ("non-static key", &["stack", "lock", "IRQ"]),
    ("double-free", &["slab_", "kfree", "vunmap", "vfree"]),
    ("invalid-free", &["slab_", "kfree", "vunmap", "vfree"]),
    ("BUG: spinlock", &["spin_", "_lock", "_unlock"]),
    ("BUG: rwlock", &["spin_", "_lock", "_unlock"]),
    ("scheduling while atomic", &["schedule"]),
    ("in preemptible", &["dump_stack", "preemption", "preempt"]),
    ("corrupted stack end", &["schedule", "retint_kernel"]),
    ("stack-protector", &["stack_chk"]),
    (
        "BUG: KASAN: ",
        &["kernel_fault", "tag_check", "mem_abort", "^el1_", "^el1h_"],
    ),
    ("UBSAN: ", &["ubsan", "^handle_overflow"]),
    (
        "BUG: KMSAN: kernel-usb-infoleak",
        &[
            "alloc_skb",
            "usb_submit_urb",
            "usb_start_wait_urb",
            "usb_bulk_msg",
            "usb_interrupt_msg",
            "usb_control_msg",
        ],
    ),
    // Encryption routines are where KMSAN sees the uninitialised bytes, not where they came from.
    (
        "BUG: KMSAN: ",
        &[
            "alloc_skb",
            "netlink_ack",
            "netlink_rcv_skb",
            "_encrypt$",
            "^crypto_",
            "^cipher_",
            "^drbg_",
            "^rng_",
        ],
    ),
    (
        "memory leak",
        &[
            "kmemleak",
            "kmalloc",
            "kcalloc",
            "kzalloc",
            "vmalloc",
            "mmap",
            "kmem",
            "slab",
            "alloc",
            "create_object",
            "idr_get",
            "list_lru_init",
            "kasprintf",
            "kvasprintf",
            "pcpu_create",
            "strdup",
            "strndup",
            "memdup",
        ],
    ),
];

/// Where work is dispatched: a stall's representative frame is the one called from here
/// (syzkaller's linuxStallAnchorFrames), matched after stripping syscall prefixes.
const STALL_ANCHORS: &[&str] = &[
    "process_one_work",
    "do_syscall_",
    "do_fast_syscall_",
    "sysenter_dispatch",
    "tracesys_phase2",
    "el0_svc_handler",
    "invoke_syscall",
    "ret_fast_syscall",
    "netif_receive_skb",
    "do_softirq",
    "call_timer_fn",
    "_run_timers",
    "run_timer_softirq",
    "hrtimer_run",
    "run_ksoftirqd",
    "smpboot_thread_fn",
    "^kthread$",
    "start_secondary",
    "cpu_startup_entry",
    "ret_from_fork",
    "vfs_write",
    "vfs_read",
    "vfs_iter_read",
    "vfs_iter_write",
    "do_iter_read",
    "do_iter_write",
    "call_read_iter",
    "call_write_iter",
    "new_sync_read",
    "new_sync_write",
    "vfs_ioctl",
    "ksys_ioctl",
    "compat_ioctl",
    "compat_sys_ioctl",
    "blkdev_driver_ioctl",
    "blkdev_ioctl",
    "do_iter_readv_writev",
    "^call_mmap",
    "mmap_region",
    "do_mmap",
    "do_dentry_open",
    "vfs_open",
    "^sock_sendmsg",
    "^sock_recvmsg",
    "^sock_release",
    "^__sock_release",
    "^setsockopt$",
    "kernel_setsockopt",
    "sock_common_setsockopt",
    "^listen$",
    "kernel_listen",
    "sk_common_release",
    "^sock_mmap",
    "^accept$",
    "kernel_accept",
    "^sock_do_ioctl",
    "^sock_ioctl",
    "^compat_sock_ioctl",
    "^nfnetlink_rcv_msg",
    "^rtnetlink_rcv_msg",
    "^netlink_dump",
    "^socketpair",
    "^connect",
    "^ioctl",
    "^sys_socketpair",
    "^sys_connect",
    "^sys_ioctl",
    "__do_fault",
    "do_page_fault",
    "^page_fault$",
    "__fput",
    "task_work_run",
    "exit_to_usermode",
    "smp_call_function",
    "tasklet_action",
    "tasklet_hi_action",
];

/// A hung task blocked here is one of a family; the family's entry names it.
const HANG_ANCHORS: &[&str] = &[
    "rtnl_lock",
    "synchronize_rcu",
    "synchronize_srcu",
    "synchronize_net",
    "synchronize_sched",
];

/// Frames of a hung task that only wait.
const HANG_WAITING: &[&str] = &[
    "sched",
    "_lock",
    "_slowlock",
    "down",
    "rwsem",
    "completion",
    "kthread",
    "wait",
    "synchronize",
    "context_switch",
    "__switch_to",
    "cancel_delayed_work",
    "rcu_barrier",
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Names made of pieces of the patterns themselves, so matches are frequent and fall at the
    /// start, the end and the middle of a name.
    fn name_from_pieces() -> impl Strategy<Value = String> {
        let pieces: Vec<String> = SKIP
            .iter()
            .map(|p| p.trim_start_matches('^').trim_end_matches('$').to_owned())
            .chain(["_".into(), "x".into(), "do_".into(), "ab".into()])
            .collect();
        proptest::collection::vec(
            (proptest::sample::select(pieces), 0usize..4, 0usize..4),
            0..4,
        )
        .prop_map(|parts| {
            parts
                .into_iter()
                .map(|(piece, cut_front, cut_back)| {
                    let end = piece
                        .len()
                        .saturating_sub(cut_back)
                        .max(cut_front.min(piece.len()));
                    piece[cut_front.min(end)..end].to_owned()
                })
                .collect()
        })
    }

    proptest! {
        /// The indexed set answers exactly as matching each pattern in turn.
        #[test]
        fn pattern_set_agrees_with_each_pattern(name in name_from_pieces()) {
            prop_assert_eq!(
                skip_set().matches(&name),
                SKIP.iter().any(|p| matches(&name, p)),
                "{}", name
            );
        }
    }

    fn pick<'a>(names: &[&'a str], rules: Rules) -> Option<&'a str> {
        let c: Vec<Candidate<'_>> = names
            .iter()
            .map(|n| Candidate {
                name: n,
                in_module: false,
            })
            .collect();
        choose(&c, rules, |n| n == "dump_stack_lvl").map(|i| names[i])
    }

    #[test]
    fn helpers_and_reporters_are_skipped() {
        let trace = [
            "dump_stack_lvl",
            "print_circular_bug",
            "__lock_acquire",
            "lock_acquire",
            "_raw_spin_lock_irqsave",
            "__sanitizer_cov_trace_pc",
            "sg_remove_request",
            "sg_ioctl",
        ];
        assert_eq!(pick(&trace, Rules::PLAIN), Some("sg_remove_request"));
        assert!(is_helper("atomic64_fetch_add_unless", &[]));
        assert!(is_helper("crc32_le", &[]));
        assert!(is_helper("kzalloc", &[]));
        assert!(!is_helper("lastgasp_null_write", &[]));
        assert!(!is_helper("sysrq_handle_crash", &[]));
        assert!(!is_helper("crcfoo", &[]));
    }

    #[test]
    fn stall_names_the_frame_above_the_dispatch_point() {
        let rules = Rules {
            extra_skip: &[],
            extractor: Extractor::Stall,
        };
        let trace = [
            "__sanitizer_cov_trace_pc",
            "ip6_input",
            "ipv6_rcv",
            "__netif_receive_skb_core",
            "process_backlog",
        ];
        assert_eq!(pick(&trace, rules), Some("ipv6_rcv"));
        let syscall = ["spin_on_x", "my_ioctl", "__x64_sys_ioctl", "do_syscall_64"];
        assert_eq!(pick(&syscall, rules), Some("my_ioctl"));
        // Without a dispatch point the top frame stays.
        assert_eq!(pick(&["a", "b"], rules), Some("a"));
        // A module's loop is named even above a dispatch point.
        let c = [
            Candidate {
                name: "mod_spin",
                in_module: true,
            },
            Candidate {
                name: "vfs_write",
                in_module: false,
            },
        ];
        assert_eq!(choose(&c, rules, |_| false), Some(0));
    }

    #[test]
    fn hang_skips_waiting_and_groups_families() {
        let rules = Rules {
            extra_skip: &[],
            extractor: Extractor::Hang,
        };
        let trace = [
            "__schedule",
            "schedule",
            "schedule_preempt_disabled",
            "__mutex_lock",
            "tty_ldisc_hangup",
            "__tty_hangup",
        ];
        assert_eq!(pick(&trace, rules), Some("tty_ldisc_hangup"));
        let rtnl = ["__schedule", "rtnl_lock", "dev_ioctl"];
        assert_eq!(pick(&rtnl, rules), Some("rtnl_lock"));
    }

    #[test]
    fn warning_rules_by_file() {
        let r = rules_for(
            Class::Warning,
            "WARNING: CPU: 0 PID: 1 at lib/refcount.c:28 refcount_warn_saturate+0x1/0x2",
            Some("lib/refcount.c:28"),
        );
        assert!(is_helper("refcount_warn_saturate", r.extra_skip));
        assert_eq!(r.extractor, Extractor::First);
        assert_eq!(strip_syscall_prefix("__se_sys_mremap"), "mremap");
        assert_eq!(strip_syscall_prefix("vfs_write"), "vfs_write");
    }
}
