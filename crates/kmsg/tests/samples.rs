//! Realistic Debian 6.1 crash logs of every kind the lab produces (written from the kernel's
//! print formats, kernel-formats.md §8), checked for class, function, frames and details.

use kmsg::{Analysis, analyze};

fn sample(name: &str) -> Analysis {
    let path = format!(
        "{}/tests/corpus/{name}/boot1.log",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    analyze(&text)
}

fn check(name: &str, class: &str, function: &str, frames: &[&str]) -> Analysis {
    let a = sample(name);
    assert_eq!(a.class, class, "{name}: class\n{}", a.render_text());
    assert_eq!(a.function.as_deref(), Some(function), "{name}: function");
    assert_eq!(a.signature_frames, frames, "{name}: signature frames");
    let expected_prefix = format!("{class}-{function}-");
    assert!(
        a.signature.starts_with(&expected_prefix),
        "{name}: {}",
        a.signature
    );
    let hash = &a.signature[expected_prefix.len()..];
    assert!(
        hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}: {}",
        a.signature
    );
    a
}

const M: &str = "lastgasp_crashtest";

fn m(f: &str) -> String {
    format!("{M}:{f}")
}

#[test]
fn null_pointer_dereference() {
    let a = check(
        "x86_64/null",
        "null-pointer-dereference",
        "lastgasp_null_write",
        &[
            &m("lastgasp_null_write"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "kernfs_fop_write_iter",
            "vfs_write",
        ],
    );
    assert_eq!(a.kernel_release.as_deref(), Some("6.1.0-56-amd64"));
    assert_eq!(a.kernel_build.as_deref(), Some("#1 Debian 6.1.192-2"));
    assert_eq!(
        (a.cpu, a.pid, a.comm.as_deref()),
        (Some(0), Some(85), Some("sh"))
    );
    assert_eq!(a.taint.as_ref().unwrap().flags, ["OOT_MODULE"]);
    assert_eq!(a.panic_message.as_deref(), Some("Fatal exception"));
    assert_eq!(a.kernel_offset.as_deref(), Some("0x2c800000"));
    assert_eq!(a.crash_time, Some(27.123456));
    assert_eq!(a.fault_address.as_deref(), Some("0000000000000010"));
    assert_eq!(a.oops_count, 1);
    assert!(
        a.hardware
            .as_deref()
            .unwrap()
            .starts_with("QEMU Standard PC")
    );
    let fault = a.fault_frame.as_ref().unwrap();
    assert_eq!((fault.offset, fault.size), (Some(5), Some(0x10)));
    assert_eq!(a.modules[0].name, "lastgasp_crashtest");
    assert_eq!(a.modules[0].flags, "O");
    // The trace ends at </TASK>: the user-mode register lines inside it are skipped.
    assert_eq!(a.frames.len(), 14);
    assert_eq!(a.frames.iter().filter(|f| !f.reliable).count(), 6);
    assert!(
        a.frames
            .iter()
            .all(|f| f.context.as_deref() == Some("task"))
    );
    assert_eq!(
        a.title,
        "NULL pointer dereference in lastgasp_null_write [lastgasp_crashtest]"
    );
    assert!(
        a.hashes
            .chromeos
            .as_deref()
            .unwrap()
            .starts_with("kernel-lastgasp_null_write-")
    );
    assert_eq!(a.hashes.abrt.as_ref().unwrap().len(), 40);
}

#[test]
fn warning_with_panic_on_warn() {
    let a = check(
        "x86_64/warn",
        "warning",
        "lastgasp_call_warn",
        &[
            &m("lastgasp_call_warn"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "kernfs_fop_write_iter",
            "vfs_write",
        ],
    );
    assert_eq!(
        a.bug_location.as_deref(),
        Some("/build/lastgasp/lab/module/lastgasp_crashtest.c:62")
    );
    assert_eq!(a.cpu, Some(1));
    assert_eq!(
        a.panic_message.as_deref(),
        Some("kernel: panic_on_warn set ...")
    );
}

#[test]
fn kernel_bug() {
    let a = check(
        "x86_64/bug",
        "bug",
        "lastgasp_call_bug",
        &[
            &m("lastgasp_call_bug"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "kernfs_fop_write_iter",
            "vfs_write",
        ],
    );
    assert_eq!(
        a.bug_location.as_deref(),
        Some("/build/lastgasp/lab/module/lastgasp_crashtest.c:50")
    );
    assert!(a.title.starts_with("Kernel BUG at /build/"), "{}", a.title);
}

#[test]
fn general_protection_fault() {
    check(
        "x86_64/gpf",
        "general-protection-fault",
        "lastgasp_noncanonical_read",
        &[
            &m("lastgasp_noncanonical_read"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "kernfs_fop_write_iter",
            "vfs_write",
        ],
    );
}

#[test]
fn divide_error() {
    check(
        "x86_64/divzero",
        "divide-error",
        "lastgasp_divide",
        &[
            &m("lastgasp_divide"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "kernfs_fop_write_iter",
            "vfs_write",
        ],
    );
}

#[test]
fn page_fault() {
    let a = check(
        "x86_64/pagefault",
        "page-fault",
        "lastgasp_bad_address_write",
        &[
            &m("lastgasp_bad_address_write"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "kernfs_fop_write_iter",
            "vfs_write",
        ],
    );
    assert_eq!(a.fault_address.as_deref(), Some("ffffc9003ff80000"));
}

#[test]
fn sysrq() {
    let a = check(
        "x86_64/sysrq",
        "sysrq",
        "sysrq_handle_crash",
        &[
            "sysrq_handle_crash",
            "__handle_sysrq",
            "write_sysrq_trigger",
            "proc_reg_write",
            "vfs_write",
            "ksys_write",
        ],
    );
    assert_eq!(a.panic_message.as_deref(), Some("sysrq triggered crash"));
    assert_eq!(a.headline.as_deref(), Some("sysrq: Trigger a crash"));
}

#[test]
fn explicit_panic() {
    let a = check(
        "x86_64/panic",
        "panic",
        "lastgasp_call_panic",
        &[
            &m("lastgasp_call_panic"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "kernfs_fop_write_iter",
            "vfs_write",
        ],
    );
    assert_eq!(
        a.title,
        "Kernel panic - not syncing: lastgasp_crashtest: deliberate panic in lastgasp_call_panic [lastgasp_crashtest]"
    );
    assert_eq!(a.kernel_offset.as_deref(), Some("disabled"));
}

#[test]
fn stack_protector() {
    check(
        "x86_64/stackprotector",
        "stack-protector",
        "lastgasp_smash_canary",
        &[
            &m("lastgasp_smash_canary"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "kernfs_fop_write_iter",
            "vfs_write",
        ],
    );
}

#[test]
fn soft_lockup() {
    let a = check(
        "x86_64/softlockup",
        "soft-lockup",
        "lastgasp_spin",
        &[
            &m("lastgasp_spin"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "kernfs_fop_write_iter",
            "vfs_write",
        ],
    );
    assert_eq!(a.panic_message.as_deref(), Some("softlockup: hung tasks"));
    assert!(
        a.hashes
            .chromeos
            .as_deref()
            .unwrap()
            .starts_with("kernel-(SOFTLOCKUP)-lastgasp_spin-")
    );
}

#[test]
fn rcu_stall_skips_the_detecting_interrupt() {
    let a = check(
        "x86_64/rcustall",
        "rcu-stall",
        "lastgasp_spin",
        &[
            &m("lastgasp_spin"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "kernfs_fop_write_iter",
            "vfs_write",
        ],
    );
    assert_eq!(a.frames[0].context.as_deref(), Some("irq"));
}

#[test]
fn hung_task() {
    let a = check(
        "x86_64/hung",
        "hung-task",
        "lastgasp_sleep_uninterruptible",
        &[
            &m("lastgasp_sleep_uninterruptible"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "kernfs_fop_write_iter",
            "vfs_write",
        ],
    );
    // The hung-task report has no CPU line: release and taint come from its own line.
    assert_eq!(a.kernel_release.as_deref(), Some("6.1.0-56-amd64"));
    assert_eq!(a.taint.as_ref().unwrap().raw, "GO");
}

#[test]
fn out_of_memory() {
    check(
        "x86_64/oom",
        "out-of-memory",
        "lastgasp_eat_memory",
        &[
            &m("lastgasp_eat_memory"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "kernfs_fop_write_iter",
            "vfs_write",
        ],
    );
}

#[test]
fn list_corruption() {
    let a = check(
        "x86_64/listcorrupt",
        "list-corruption",
        "lastgasp_corrupt_list",
        &[
            &m("lastgasp_corrupt_list"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "kernfs_fop_write_iter",
            "vfs_write",
        ],
    );
    assert_eq!(a.bug_location.as_deref(), Some("lib/list_debug.c:56"));
}

#[test]
fn usercopy() {
    check(
        "x86_64/usercopy",
        "usercopy",
        "lastgasp_usercopy_read",
        &[
            &m("lastgasp_usercopy_read"),
            "proc_reg_read",
            "vfs_read",
            "ksys_read",
            "do_syscall_64",
            "entry_SYSCALL_64_after_hwframe",
        ],
    );
}

#[test]
fn stack_overflow_collapses_recursion() {
    check(
        "x86_64/stackoverflow",
        "stack-overflow",
        "lastgasp_recurse",
        &[
            &m("lastgasp_recurse"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "kernfs_fop_write_iter",
            "vfs_write",
        ],
    );
}

#[test]
fn arm64_null_pointer_dereference() {
    let a = check(
        "arm64/null",
        "null-pointer-dereference",
        "lastgasp_null_write",
        &[
            &m("lastgasp_null_write"),
            &m("lastgasp_crash"),
            "param_attr_store",
            "module_attr_store",
            "sysfs_kf_write",
            "kernfs_fop_write_iter",
        ],
    );
    assert_eq!(a.link_register.as_ref().unwrap().function, "lastgasp_crash");
    assert_eq!(a.hardware.as_deref(), Some("linux,dummy-virt (DT)"));
    assert_eq!(a.kernel_release.as_deref(), Some("6.1.0-56-arm64"));
    assert_eq!(a.panic_message.as_deref(), Some("Oops: Fatal exception"));
}

#[test]
fn every_kind_has_its_own_signature() {
    let names = [
        "x86_64/null",
        "x86_64/warn",
        "x86_64/bug",
        "x86_64/gpf",
        "x86_64/divzero",
        "x86_64/pagefault",
        "x86_64/sysrq",
        "x86_64/panic",
        "x86_64/stackprotector",
        "x86_64/softlockup",
        "x86_64/rcustall",
        "x86_64/hung",
        "x86_64/oom",
        "x86_64/listcorrupt",
        "x86_64/usercopy",
        "x86_64/stackoverflow",
    ];
    let mut seen = std::collections::HashMap::new();
    for n in names {
        let sig = sample(n).signature;
        if let Some(other) = seen.insert(sig.clone(), n) {
            panic!("{n} and {other} share {sig}");
        }
    }
}

#[test]
fn render_text_names_the_essentials() {
    let text = sample("x86_64/null").render_text();
    for needle in [
        "null-pointer-dereference",
        "lastgasp_null_write+0x5/0x10 [lastgasp_crashtest]",
        "6.1.0-56-amd64 #1 Debian 6.1.192-2",
        "sh (pid 85) on CPU 0",
        "OOT_MODULE",
        "lastgasp_crash+0x2d/0x1a0 [lastgasp_crashtest]",
        "Fatal exception",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn fault_inside_the_list_checker_is_list_corruption() {
    // Debian 6.1's list_del on an entry whose prev is a wild pointer: the checker itself
    // faults reading prev->next, before it can print "list_del corruption".
    let log = "\
<1>[    6.43] BUG: unable to handle page fault for address: 00000000dead4ead
<4>[    6.43] Oops: 0000 [#1] PREEMPT SMP NOPTI
<4>[    6.43] RIP: 0010:__list_del_entry_valid+0x3f/0x70
<4>[    6.46] Call Trace:
<4>[    6.46]  <TASK>
<4>[    6.46]  lastgasp_corrupt_list+0x4d/0x80 [lastgasp_crashtest]
<4>[    6.46]  lastgasp_crash+0x9a/0x1e0 [lastgasp_crashtest]
<4>[    6.46]  </TASK>
<0>[    6.54] Kernel panic - not syncing: Fatal exception
";
    let a = analyze(log);
    assert_eq!(a.class, "list-corruption");
    assert_eq!(a.function.as_deref(), Some("lastgasp_corrupt_list"));
    assert_eq!(a.fault_frame.unwrap().function, "__list_del_entry_valid");
    assert_eq!(a.fault_address.as_deref(), Some("00000000dead4ead"));
    // The same fault elsewhere stays a page fault.
    let elsewhere = log.replace("__list_del_entry_valid", "other_function");
    assert_eq!(analyze(&elsewhere).class, "page-fault");
}

#[test]
fn hard_lockup_from_the_nmi_watchdog() {
    let log = "\
<0>[   40.1] NMI watchdog: Watchdog detected hard LOCKUP on cpu 1
<4>[   40.1] Modules linked in: spinmod(O)
<4>[   40.1] CPU: 1 PID: 77 Comm: sh Tainted: G           O       6.1.0-56-amd64 #1 Debian 6.1.192-2
<4>[   40.1] RIP: 0010:spin_irqs_off+0x12/0x30 [spinmod]
<4>[   40.1] Call Trace:
<4>[   40.1]  <NMI>
<4>[   40.1]  ? watchdog_overflow_callback.cold+0x1e/0x70
<4>[   40.1]  __perf_event_overflow+0x52/0xf0
<4>[   40.1]  perf_event_nmi_handler+0x28/0x50
<4>[   40.1]  nmi_handle+0x5e/0x120
<4>[   40.1]  default_do_nmi+0x40/0x130
<4>[   40.1]  exc_nmi+0x103/0x130
<4>[   40.1]  end_repeat_nmi+0x16/0x67
<4>[   40.1]  </NMI>
<4>[   40.1]  <TASK>
<4>[   40.1]  spin_caller+0x9/0x20 [spinmod]
<4>[   40.1]  vfs_write+0x2ad/0x3f0
<4>[   40.1]  </TASK>
<0>[   40.2] Kernel panic - not syncing: Hard LOCKUP
";
    let a = analyze(log);
    assert_eq!(a.class, "hard-lockup");
    assert_eq!(a.function.as_deref(), Some("spin_irqs_off"));
    assert_eq!(
        a.signature_frames,
        ["spinmod:spin_irqs_off", "spinmod:spin_caller", "vfs_write"]
    );
}

#[test]
fn kasan_report_with_panic_on_warn() {
    let log = "\
[   12.0] ==================================================================
[   12.0] BUG: KASAN: slab-out-of-bounds in overflow_fn+0x3c/0x60 [kasanmod]
[   12.0] Write of size 1 at addr ffff888003a1b2c0 by task sh/90
[   12.0] CPU: 0 PID: 90 Comm: sh Tainted: G           O       6.1.0 #1
[   12.0] Call Trace:
[   12.0]  <TASK>
[   12.0]  dump_stack_lvl+0x44/0x5c
[   12.0]  print_report+0x17f/0x47b
[   12.0]  kasan_report+0xad/0x130
[   12.0]  overflow_fn+0x3c/0x60 [kasanmod]
[   12.0]  overflow_caller+0x11/0x20 [kasanmod]
[   12.0]  </TASK>
[   12.0] ==================================================================
[   12.1] Kernel panic - not syncing: KASAN: panic_on_warn set ...
";
    let a = analyze(log);
    assert_eq!(a.class, "kasan");
    assert_eq!(a.function.as_deref(), Some("overflow_fn"));
    assert_eq!(
        a.signature_frames,
        ["kasanmod:overflow_fn", "kasanmod:overflow_caller"]
    );
}

#[test]
fn machine_check_panic() {
    let log = "\
[  100.0] mce: [Hardware Error]: CPU 2: Machine Check Exception: 5 Bank 4: be00000000800400
[  100.0] mce: [Hardware Error]: RIP !INEXACT! 10:<ffffffff8101c8e1> {intel_idle+0x61/0xb0}
[  100.0] mce: [Hardware Error]: TSC 4c2f6d3b1e4 ADDR 3f4a5c000 MISC 86
[  100.0] Kernel panic - not syncing: Fatal machine check
";
    let a = analyze(log);
    assert_eq!(a.class, "machine-check");
    assert_eq!(a.panic_message.as_deref(), Some("Fatal machine check"));
    assert!(
        a.signature
            .starts_with("machine-check-fatal-machine-check-"),
        "{}",
        a.signature
    );
}
