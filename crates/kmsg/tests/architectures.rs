//! Every architecture's oops, as its kernel prints it: the class, the guilty function, and a
//! signature that stays the same when the same crash is captured again with other timestamps,
//! addresses, PIDs and CPUs (`{T}` is a timestamp, `{A}` an address, `{P}` a PID, `{C}` a CPU
//! in the templates).

/// The template with its placeholders filled from `seed`.
fn render(template: &str, seed: u64) -> String {
    let mut out = String::new();
    let mut n = 0u64;
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let kind = rest[at + 1..].chars().next().unwrap_or('?');
        n += 1;
        let v = seed.wrapping_mul(7919).wrapping_add(n * 104_729);
        match kind {
            'T' => out.push_str(&format!("{:5}.{:06}", 10 + seed * 100 + n, v % 1_000_000)),
            'A' => out.push_str(&format!("{:08x}", 0x8000_0000 | (v & 0x7fff_ffff))),
            'P' => out.push_str(&(100 + v % 30_000).to_string()),
            'C' => out.push_str(&(v % 8).to_string()),
            other => panic!("unknown placeholder {other}"),
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    out
}

/// Analyses two captures of `template`; both must give `class` and `function`, and one
/// signature.
fn check(template: &str, class: &str, function: &str) {
    let one = kmsg::analyze(&render(template, 1));
    let two = kmsg::analyze(&render(template, 2));
    assert_eq!(one.class, class, "{}", render(template, 1));
    assert_eq!(
        one.function.as_deref(),
        Some(function),
        "{}",
        render(template, 1)
    );
    assert_eq!(one.signature, two.signature, "{}", render(template, 2));
    assert_ne!(render(template, 1), render(template, 2));
}

#[test]
fn i386_eip_after_the_trace() {
    check(
        "\
<1>[{T}] BUG: unable to handle kernel NULL pointer dereference at 00000010
<1>[{T}] IP: [<{A}>] radeon_cp_init_ring_buffer+0x90/0x302 [radeon]
<0>[{T}] Oops: 0000 [#1] SMP
<4>[{T}] Pid: {P}, comm: Xorg Not tainted 2.6.32 #1
<4>[{T}] EIP: 0060:[<{A}>] EFLAGS: 00213246 CPU: {C}
<4>[{T}] EIP is at radeon_cp_init_ring_buffer+0x90/0x302 [radeon]
<4>[{T}] Call Trace:
<4>[{T}]  [<{A}>] ? radeon_cp_resume+0x7d/0xbc [radeon]
<4>[{T}]  [<{A}>] radeon_cp_resume+0x7d/0xbc [radeon]
<4>[{T}]  [<{A}>] drm_ioctl+0x1b0/0x225 [drm]
<4>[{T}]  [<{A}>] vfs_ioctl+0x2c/0x96
<0>[{T}] EIP: [<{A}>] radeon_cp_init_ring_buffer+0x90/0x302 [radeon] SS:ESP 0068:{A}
<4>[{T}] ---[ end trace 5ed8a4a3a5ee6e3d ]---
",
        "null-pointer-dereference",
        "radeon_cp_init_ring_buffer",
    );
}

#[test]
fn x86_64_pre_4_15_with_irq_marker_on_the_frame_line() {
    check(
        "\
[{T}] BUG: unable to handle kernel paging request at ffff88003a5c0000
[{T}] IP: [<ffffffff{A}>] ip_idents_reserve+0x84/0x90
[{T}] Oops: 0002 [#1] SMP KASAN
[{T}] CPU: {C} PID: {P} Comm: syz-executor Not tainted 4.9.0 #1
[{T}] RIP: 0010:[<ffffffff{A}>]  [<ffffffff{A}>] ip_idents_reserve+0x84/0x90
[{T}] Call Trace:
[{T}]  <IRQ>  [<ffffffff{A}>] __ip_select_ident+0xd9/0x170
[{T}]  [<ffffffff{A}>] ip_output+0x1b6/0x2a0
[{T}]  <EOI>  [<ffffffff{A}>] ? do_softirq+0x1/0x2
[{T}] Code: 00 00 48 89 ef e8 00 00 00 00 <f0> 0f c1 03
",
        "page-fault",
        "ip_idents_reserve",
    );
}

#[test]
fn arm64_with_unwind_source_markers() {
    check(
        "\
[{T}] Unable to handle kernel NULL pointer dereference at virtual address 0000000000000010
[{T}] Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP
[{T}] CPU: {C} UID: 0 PID: {P} Comm: sh Not tainted 6.14.0 #1
[{T}] pc : my_driver_poll+0x14/0x40 [mydrv]
[{T}] lr : my_driver_read+0x2c/0x80 [mydrv]
[{T}] Call trace:
[{T}]  my_driver_poll+0x14/0x40 [mydrv] (P)
[{T}]  my_driver_read+0x2c/0x80 [mydrv] (L)
[{T}]  vfs_read+0xb4/0x1a0 (C)
[{T}]  ksys_read+0x70/0x108
",
        "null-pointer-dereference",
        "my_driver_poll",
    );
}

#[test]
fn arm32_three_layouts() {
    for trace in [
        "Backtrace:\n\
         [<{A}>] (write_breakme+0xd0/0x1b4) from [<{A}>] (proc_reg_write+0x88/0x9c)\n\
         [<{A}>] (proc_reg_write+0x88/0x9c) from [<{A}>] (vfs_write+0xb4/0x15c)\n",
        "Backtrace:\n\
         [<{A}>] (write_breakme) from [<{A}>] (proc_reg_write+0x88/0x9c)\n\
         [<{A}>] (proc_reg_write) from [<{A}>] (vfs_write+0xb4/0x15c)\n",
        "Call trace:\n \
         write_breakme+0xd0/0x1b4 from proc_reg_write+0x88/0x9c\n \
         proc_reg_write+0x88/0x9c from vfs_write+0xb4/0x15c\n",
    ] {
        let template = format!(
            "Unable to handle kernel NULL pointer dereference at virtual address 00000000\n\
             Internal error: Oops: 817 [#1] PREEMPT SMP ARM\n\
             CPU: {{C}} PID: {{P}} Comm: bash Not tainted 5.10.0 #1\n\
             PC is at write_breakme+0xd0/0x1b4\n\
             LR is at proc_reg_write+0x88/0x9c\n\
             {trace}"
        );
        check(&template, "null-pointer-dereference", "write_breakme");
    }
}

#[test]
fn ppc64_nip_and_dot_symbols() {
    check(
        "\
[{T}] Unable to handle kernel paging request for data at address 0x000012e0
[{T}] Oops: Kernel access of bad area, sig: 11 [#1]
[{T}] CPU: {C} PID: {P} Comm: eehd Tainted: G        W 3.10.0 #1
[{T}] NIP: c0000000{A} LR: c0000000{A} CTR: c0000000{A}
[{T}] NIP [c0000000{A}] .eeh_report_error+0x4c/0x100
[{T}] LR [c0000000{A}] .eeh_report_error+0x48/0x100
[{T}] Call Trace:
[{T}] [c0000000{A}] [c0000000{A}] .eeh_report_error+0x48/0x100 (unreliable)
[{T}] [c0000000{A}] [c0000000{A}] .eeh_pe_dev_traverse+0x98/0x170
[{T}] [c0000000{A}] [c0000000{A}] .eeh_handle_event+0x1a4/0x340
",
        "page-fault",
        "eeh_report_error",
    );
}

#[test]
fn s390_krnl_psw() {
    check(
        "\
[{T}] kernel BUG at drivers/scsi/scsi_lib.c:660!
[{T}] illegal operation: 0001 [#1] SMP
[{T}] CPU: {C} PID: {P} Comm: systemd-udevd Not tainted 3.10.0 #1
[{T}] Krnl PSW : 0404c00180000000 00000000{A} (scsi_alloc_sgtable+0x62/0x7c)
[{T}] Call Trace:
[{T}] ([<00000000{A}>] 0x27f8000)
[{T}]  [<00000000{A}>] scsi_init_io+0xdc/0x184
[{T}]  [<000003ff{A}>] sd_prep_fn+0xfa/0xd1c [sd_mod]
[{T}] Last Breaking-Event-Address:
[{T}]  [<00000000{A}>] scsi_init_io+0xd6/0x184
",
        "bug",
        "scsi_alloc_sgtable",
    );
}

#[test]
fn riscv_epc_without_a_call_trace_header() {
    check(
        "\
[{T}] Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000
[{T}] Oops [#1]
[{T}] CPU: {C} PID: {P} Comm: sh Not tainted 6.1.0 #1
[{T}] epc : lkdtm_do_action+0x1a/0x24
[{T}]  ra : direct_entry+0xe8/0x104
[{T}] epc : ffffffff{A} ra : ffffffff{A} sp : ff2000000{A}
[{T}] status: 0000000200000120 badaddr: 0000000000000000 cause: 000000000000000f
[{T}] [<ffffffff{A}>] lkdtm_do_action+0x1a/0x24
[{T}] [<ffffffff{A}>] direct_entry+0xe8/0x104
",
        "null-pointer-dereference",
        "lkdtm_do_action",
    );
}

#[test]
fn mips_epc() {
    check(
        "\
<1>[{T}] CPU {C} Unable to handle kernel paging request at virtual address 00000000, epc == 804010f0
<4>[{T}] Oops[#1]:
<4>[{T}] epc   : 804010f0 lkdtm_do_action+0x68/0x3f8
<4>[{T}] ra    : 80401264 direct_entry+0xc0/0x108
<4>[{T}] Call Trace:
<4>[{T}] [<804010f0>] lkdtm_do_action+0x68/0x3f8
<4>[{T}] [<80401264>] direct_entry+0xc0/0x108
",
        "page-fault",
        "lkdtm_do_action",
    );
}

#[test]
fn decoded_trace_of_a_bug_report() {
    check(
        "\
[{T}] BUG: kernel NULL pointer dereference, address: 0000000000000008
[{T}] Oops: 0000 [#1] PREEMPT SMP NOPTI
[{T}] CPU: {C} PID: {P} Comm: kworker/0:1 Not tainted 6.6.0 #1
[{T}] RIP: 0010:nvme_poll_cq (drivers/nvme/host/pci.c:1080) nvme
[{T}] Call Trace:
[{T}]  <TASK>
[{T}]  ? __die (arch/x86/kernel/dumpstack.c:421)
[{T}]  nvme_poll_cq+0x1a/0x2b (drivers/nvme/host/pci.c:1080)
[{T}]  nvme_irq (drivers/nvme/host/pci.c:1100) nvme
[{T}]  __handle_irq_event_percpu+0x1/0x2 (kernel/irq/handle.c:158)
",
        "null-pointer-dereference",
        "nvme_poll_cq",
    );
}
