//! Report wordings old and new, and the guilty frame they name: each case is a log as the
//! kernel prints it (trimmed to the lines that matter), with the class and the function a
//! kernel engineer would file it under.

fn check(log: &str, class: &str, function: Option<&str>) -> kmsg::Analysis {
    let a = kmsg::analyze(log);
    assert_eq!(a.class, class, "{log}");
    assert_eq!(a.function.as_deref(), function, "{log}");
    a
}

#[test]
fn lockdep_circular_dependency_names_the_acquiring_caller() {
    let log = "\
[  120.412345] ======================================================
[  120.412350] WARNING: possible circular locking dependency detected
[  120.412355] 6.1.0-syzkaller #0 Not tainted
[  120.412360] ------------------------------------------------------
[  120.412365] syz-executor.3/5120 is trying to acquire lock:
[  120.412370] ffff88801d2a4e28 (&sdp->lock){+.+.}-{3:3}, at: sg_remove_request+0x2c/0x110
[  120.412375] 
[  120.412380] but task is already holding lock:
[  120.412385] ffff88801e6f0f40 (&q->debugfs_mutex){+.+.}-{3:3}, at: blk_trace_ioctl+0x35/0x200
[  120.412390] stack backtrace:
[  120.412395] CPU: 1 PID: 5120 Comm: syz-executor.3 Not tainted 6.1.0-syzkaller #0
[  120.412400] Call Trace:
[  120.412405]  <TASK>
[  120.412410]  dump_stack_lvl+0xd1/0x138
[  120.412415]  check_noncircular+0x25f/0x2e0
[  120.412420]  __lock_acquire+0x2a65/0x5d00
[  120.412425]  lock_acquire+0x1a4/0x4a0
[  120.412430]  __mutex_lock+0x14f/0x1400
[  120.412435]  sg_remove_request+0x2c/0x110
[  120.412440]  sg_ioctl+0x8d2/0x2560
[  120.412445]  </TASK>
";
    let a = check(log, "lockdep", Some("sg_remove_request"));
    assert_eq!(a.faulting_function.as_deref(), Some("dump_stack_lvl"));
}

#[test]
fn lockdep_bracketed_report_of_old_kernels() {
    let log = "\
[ 8683.927442] =======================================================
[ 8683.927555] [ INFO: possible circular locking dependency detected ]
[ 8683.927672] 3.4.1-build-0061 #14 Not tainted
[ 8683.927895] swapper/0/0 is trying to acquire lock:
[ 8683.928007]  (slock-AF_INET){+.-...}, at: [<e0fc73ec>] l2tp_xmit_skb+0x173/0x47e [l2tp_core]
[ 8683.928121] but task is already holding lock:
[ 8683.928121]  (_xmit_ETHER#2){+.-...}, at: [<c02f062d>] sch_direct_xmit+0x36/0x119
";
    check(log, "lockdep", Some("l2tp_xmit_skb"));
}

#[test]
fn suspicious_rcu_usage_is_lockdep_and_skips_rcu_helpers() {
    let log = "\
[   44.001] =============================
[   44.002] WARNING: suspicious RCU usage
[   44.003] 5.10.0 #1 Not tainted
[   44.004] -----------------------------
[   44.005] include/linux/rcupdate.h:632 rcu_read_lock() used illegally while idle!
[   44.006] stack backtrace:
[   44.007] CPU: 0 PID: 0 Comm: swapper/0 Not tainted 5.10.0 #1
[   44.008] Call Trace:
[   44.009]  dump_stack+0x107/0x163
[   44.010]  lockdep_rcu_suspicious+0xd5/0xdf
[   44.011]  rcu_read_lock_held_common+0x3a/0x60
[   44.012]  trace_hardirqs_on+0x5e/0x180
[   44.013]  default_idle_call+0x55/0x1c0
[   44.014]  do_idle+0x31f/0x3f0
";
    check(log, "lockdep", Some("default_idle_call"));
}

#[test]
fn warning_of_new_kernels_with_condition_and_cpu_suffix() {
    let log = "\
[   12.000000] ------------[ cut here ]------------
[   12.000001] WARNING: [!ptr] drivers/gpu/drm/drm_vblank.c:1234 at drm_wait_one_vblank+0x1c0/0x1d0, CPU#2: kworker/2:1/85
[   12.000002] Call Trace:
[   12.000003]  <TASK>
[   12.000004]  drm_wait_one_vblank+0x1c0/0x1d0
[   12.000005]  intel_crtc_disable+0x20/0x40
[   12.000006]  </TASK>
[   12.000007] ---[ end trace 0000000000000000 ]---
";
    let a = check(log, "warning", Some("drm_wait_one_vblank"));
    assert_eq!(
        a.bug_location.as_deref(),
        Some("drivers/gpu/drm/drm_vblank.c:1234")
    );
}

#[test]
fn printk_lines_that_merely_start_with_warning_are_no_crash() {
    for line in [
        "WARNING: /etc/ssh/moduli does not exist, using fixed modulus",
        "WARNING: The mand mount option has been deprecated and",
        "WARNING: fbcon: Driver 'vkmsdrmfb' missed to adjust virtual screen size (0x0 vs. 128x16)",
        "WARNING: Spectre v2 mitigation leaves CPU vulnerable to RETBleed attacks, data leaks possible!",
    ] {
        check(&format!("[    3.100000] {line}\n"), "unknown", None);
    }
}

#[test]
fn refcount_warning_names_the_caller() {
    let log = "\
[   70.1] refcount_t: underflow; use-after-free.
[   70.1] WARNING: CPU: 0 PID: 3605 at lib/refcount.c:28 refcount_warn_saturate+0x1d2/0x2a0
[   70.1] Modules linked in:
[   70.1] RIP: 0010:refcount_warn_saturate+0x1d2/0x2a0
[   70.1] Call Trace:
[   70.1]  <TASK>
[   70.1]  __refcount_sub_and_test+0x1/0x2
[   70.1]  nfc_llcp_local_put+0x1a/0x80
[   70.1]  nfc_llcp_unregister_device+0x1c/0x30
[   70.1]  </TASK>
";
    let a = check(log, "warning", Some("nfc_llcp_local_put"));
    assert_eq!(
        a.faulting_function.as_deref(),
        Some("refcount_warn_saturate")
    );
}

#[test]
fn kasan_in_a_string_helper_names_its_caller() {
    let log = "\
[   30.1] ==================================================================
[   30.1] BUG: KASAN: slab-out-of-bounds in memcmp+0x16f/0x1c0
[   30.1] Read of size 1 at addr ffff8801c9f0a8a0 by task syz-executor/4321
[   30.1] Call Trace:
[   30.1]  dump_stack+0x194/0x257
[   30.1]  print_address_description+0x73/0x250
[   30.1]  kasan_report+0x23b/0x360
[   30.1]  memcmp+0x16f/0x1c0
[   30.1]  xfrm_selector_match+0x12d/0x1e0
[   30.1]  xfrm_policy_match+0x64/0x90
[   30.1] ==================================================================
";
    check(log, "kasan", Some("xfrm_selector_match"));
}

#[test]
fn kcsan_names_the_first_racing_function() {
    let log = "\
[  100.1] ==================================================================
[  100.1] BUG: KCSAN: data-race in tick_nohz_next_event / tick_nohz_stop_tick
[  100.1] 
[  100.1] write to 0xffffffff8a400000 of 8 bytes by interrupt on cpu 1:
[  100.1]  tick_nohz_stop_tick+0x1a/0x2b0
[  100.1] 
[  100.1] read to 0xffffffff8a400000 of 8 bytes by task 0 on cpu 0:
[  100.1]  tick_nohz_next_event+0x3a/0x2b0
";
    check(log, "bug", Some("tick_nohz_next_event"));
}

#[test]
fn hung_task_wordings_of_6x() {
    for headline in [
        "INFO: task udevd:5612 blocked in I/O wait for more than 143 seconds.",
        "INFO: task kworker/u4:2:41 blocked for more than 122 seconds.",
        "INFO: task syz-executor.4:21128 can't die for more than 143 seconds.",
    ] {
        let log = format!(
            "[  584.1] {headline}\n\
             [  584.1]       Not tainted 6.8.0 #1\n\
             [  584.1] Call Trace:\n\
             [  584.1]  <TASK>\n\
             [  584.1]  __schedule+0xa1/0x2b0\n\
             [  584.1]  schedule+0x1/0x2\n\
             [  584.1]  io_schedule+0x1/0x2\n\
             [  584.1]  folio_wait_bit_common+0x1/0x2\n\
             [  584.1]  read_cache_folio+0x1/0x2\n\
             [  584.1]  </TASK>\n"
        );
        check(&log, "hung-task", Some("read_cache_folio"));
    }
}

#[test]
fn rcu_stall_names_the_frame_above_the_dispatch_point() {
    let log = "\
[  150.1] rcu: INFO: rcu_preempt self-detected stall on CPU
[  150.1] rcu: \t0-....: (10500 ticks this GP) idle=b3e/1/0x4000000000000002
[  150.1] CPU: 0 PID: 5600 Comm: syz-executor Not tainted 6.1.0 #1
[  150.1] RIP: 0010:__sanitizer_cov_trace_pc+0x4/0x60
[  150.1] Call Trace:
[  150.1]  <TASK>
[  150.1]  ip6_input_finish+0x1/0x2
[  150.1]  ipv6_rcv+0x1/0x2
[  150.1]  __netif_receive_skb_one_core+0x1/0x2
[  150.1]  process_backlog+0x1/0x2
[  150.1]  </TASK>
";
    check(log, "rcu-stall", Some("ipv6_rcv"));
}

#[test]
fn scheduling_while_atomic_panic_is_the_bug_report() {
    let log = "\
[ 1181.712781] BUG: scheduling while atomic: syz-executor.4/21395/0x00000201
[ 1181.720000] CPU: 0 PID: 21395 Comm: syz-executor.4 Not tainted 5.4.0 #1
[ 1181.727989] Kernel panic - not syncing: scheduling while atomic
[ 1181.727990] Call Trace:
[ 1181.727991]  dump_stack+0x1/0x2
[ 1181.727992]  panic+0x1/0x2
[ 1181.727993]  __schedule_bug+0x1/0x2
[ 1181.727994]  __schedule+0x1/0x2
[ 1181.727995]  schedule+0x1/0x2
[ 1181.727996]  exit_to_usermode_loop+0x1/0x2
";
    check(log, "bug", Some("exit_to_usermode_loop"));
}

#[test]
fn old_die_spellings_and_joined_lines() {
    let log = "\
[   63.550339][    C1] divide_error: 0000 [#1] PREEMPT SMP KASAN
[   63.575262][    C1] RIP: 0010:tabledist.part.0+0x22a/0x2a0
";
    check(log, "divide-error", Some("tabledist"));
    let log = "\
[   44.870467] kasan: GPF could be caused by NULL-ptr deref or user memory accessgeneral protection fault: 0000 [#1] PREEMPT SMP KASAN
[   44.870500] RIP: 0010:xfrm_state_walk_done+0x1/0x2
";
    check(
        log,
        "general-protection-fault",
        Some("xfrm_state_walk_done"),
    );
    let log = "\
[ 4031.436692] PANIC: double fault, error_code: 0x0
[ 4031.441897] RIP: 0010:kvm_async_pf_task_wait+0x19d/0x250
";
    check(log, "double-fault", Some("kvm_async_pf_task_wait"));
}

#[test]
fn rust_panic_names_the_rust_function() {
    let log = "\
[   23.717039][  T298] rust_kernel: panicked at drivers/android/binder/node.rs:877:13:
[   23.771620][  T298] kernel BUG at rust/helpers/bug.c:7!
[   23.772028][  T298] Oops: invalid opcode: 0000 [#1] PREEMPT SMP KASAN PTI
[   23.829979][  T298] RIP: 0010:rust_helper_BUG+0x8/0x10
[   24.057562][  T298] Call Trace:
[   24.060834][  T298]  <TASK>
[   24.063751][  T298]  _RNvCscSpY9Juk0HT_7___rustc17rust_begin_unwind+0x15b/0x160
[   24.128451][  T298]  _RNvNtCs9jEwPDbx20M_4core9panicking9panic_fmt+0x84/0x90
[   24.163987][  T298]  _RNvMs3_NtCshgDM7dBCdno_11rust_binder7processNtB5_7Process10update_ref+0x17e5/0x1860
[   24.204041][  T298]  _RNvMs2_NtCshgDM7dBCdno_11rust_binder6threadNtB5_6Thread10write_read+0x27cf/0x96a0
[   24.210000][  T298]  </TASK>
";
    let a = check(log, "bug", Some("update_ref"));
    assert_eq!(a.faulting_function.as_deref(), Some("rust_helper_BUG"));
}

#[test]
fn warning_at_an_unnamed_address_names_the_trace() {
    let log = "\
[ 1448.582480][    C1] ODEBUG: free active (active state 0) object: ffff88807b3c4490 object type: timer_list hint: rose_t0timer_expiry+0x0/0x10
[ 1448.582538][    C1] WARNING: lib/debugobjects.c:615 at 0x0, CPU#1: kworker/1:3/17677
[ 1448.582706][    C1] RIP: 0010:debug_check_no_obj_freed+0x44a/0x550
[ 1448.582914][    C1] Call Trace:
[ 1448.582923][    C1]  <IRQ>
[ 1448.582985][    C1]  kfree+0x13b/0x660
[ 1448.583020][    C1]  rose_timer_expiry+0x4cb/0x600
[ 1448.583046][    C1]  call_timer_fn+0x16e/0x590
[ 1448.583050][    C1]  __run_timer_base+0x1/0x2
[ 1448.583060][    C1]  handle_softirqs+0x1/0x2
[ 1448.583070][    C1]  </IRQ>
";
    check(log, "warning", Some("handle_softirqs"));
}

#[test]
fn slub_consistency_reports_are_bugs() {
    for headline in [
        "BUG kmalloc-64 (Not tainted): Poison overwritten",
        "BUG kmalloc-8 (Tainted: G    B         ): Object already free",
    ] {
        let log = format!(
            "[  367.1] =============================================================================\n\
             [  367.1] {headline}\n\
             [  367.1] -----------------------------------------------------------------------------\n\
             [  367.1] CPU: 1 PID: 4521 Comm: syz-executor Not tainted 4.14.0 #1\n\
             [  367.1] Call Trace:\n\
             [  367.1]  dump_stack+0x1/0x2\n\
             [  367.1]  print_trailer+0x1/0x2\n\
             [  367.1]  free_debug_processing+0x1/0x2\n\
             [  367.1]  kfree+0x1/0x2\n\
             [  367.1]  sctp_free_addr_wq+0x1/0x2\n"
        );
        let a = kmsg::analyze(&log);
        assert_eq!(a.class, "bug", "{headline}");
    }
}

#[test]
fn arm64_serror_is_a_machine_check() {
    let log = "\
[  100.1] SError Interrupt on CPU2, code 0x00000000be000011 -- SError
[  100.1] CPU: 2 PID: 0 Comm: swapper/2 Not tainted 6.1.0 #1
[  100.1] pc : cpuidle_enter_state+0x1/0x2
[  100.1] Call trace:
[  100.1]  dump_backtrace+0x1/0x2
[  100.1]  show_stack+0x1/0x2
[  100.1]  arm64_serror_panic+0x1/0x2
[  100.1]  do_serror+0x1/0x2
[  100.1] Kernel panic - not syncing: Asynchronous SError Interrupt
";
    let a = kmsg::analyze(log);
    assert_eq!(a.class, "machine-check");
}

#[test]
fn oom_panic_names_the_allocating_caller() {
    let log = "\
[   50.1] sh invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
[   50.1] CPU: 0 PID: 85 Comm: sh Not tainted 6.1.0 #1
[   50.1] Call Trace:
[   50.1]  <TASK>
[   50.1]  dump_stack_lvl+0x1/0x2
[   50.1]  dump_header+0x1/0x2
[   50.1]  check_panic_on_oom+0x1/0x2
[   50.1]  out_of_memory+0x1/0x2
[   50.1]  __alloc_pages_slowpath+0x1/0x2
[   50.1]  __alloc_pages+0x1/0x2
[   50.1]  my_cache_grow+0x1/0x2 [mymod]
[   50.1]  </TASK>
[   50.2] Kernel panic - not syncing: Out of memory: compulsory panic_on_oom is enabled
";
    check(log, "out-of-memory", Some("my_cache_grow"));
}
