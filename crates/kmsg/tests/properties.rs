//! Properties: analyze never panics (also on edited real logs), and the signature ignores
//! everything volatile (timestamps, PIDs, CPUs, comm, register values, KASLR offset, symbol
//! offsets, `? ` frames) while it follows the crash site.

use std::sync::OnceLock;

use kmsg::analyze;
use proptest::prelude::*;

/// What varies between two boots hitting the same bug.
#[derive(Debug, Clone)]
struct Volatile {
    base_ts: f64,
    pid: u32,
    cpu: u32,
    comm: String,
    regs: Vec<u64>,
    kaslr: u32,
    offsets: Vec<u16>,
    /// Where to put an unreliable frame, and its name.
    noise: Vec<(usize, String)>,
}

fn volatile() -> impl Strategy<Value = Volatile> {
    (
        0.0..100_000.0f64,
        1u32..4_000_000,
        0u32..512,
        "[a-z][a-z0-9_/:-]{0,14}",
        prop::collection::vec(any::<u64>(), 6),
        any::<u32>(),
        prop::collection::vec(1u16..0xfff, 8),
        prop::collection::vec((0usize..8, "[a-z_]{1,20}"), 0..4),
    )
        .prop_map(
            |(base_ts, pid, cpu, comm, regs, kaslr, offsets, noise)| Volatile {
                base_ts,
                pid,
                cpu,
                comm,
                regs,
                kaslr,
                offsets,
                noise,
            },
        )
}

/// A NULL-pointer oops in `site`, called from `caller`, as a pstore record.
fn oops(v: &Volatile, site: &str, caller: &str) -> String {
    let mut lines = vec![
        "BUG: kernel NULL pointer dereference, address: 0000000000000010".to_owned(),
        "#PF: supervisor write access in kernel mode".to_owned(),
        "Oops: 0002 [#1] PREEMPT SMP NOPTI".to_owned(),
        format!(
            "CPU: {} PID: {} Comm: {} Tainted: G           O       6.1.0-56-amd64 #1  Debian 6.1.192-2",
            v.cpu, v.pid, v.comm
        ),
        format!(
            "RIP: 0010:{site}+0x{:x}/0x{:x} [crashmod]",
            v.offsets[0],
            v.offsets[0] + 16
        ),
        format!("RSP: 0018:{:016x} EFLAGS: 00010246", v.regs[0]),
        format!(
            "RAX: {:016x} RBX: {:016x} RCX: {:016x}",
            v.regs[1], v.regs[2], v.regs[3]
        ),
        format!(
            "CR2: 0000000000000010 CR3: {:016x} CR4: {:016x}",
            v.regs[4], v.regs[5]
        ),
        "Call Trace:".to_owned(),
        " <TASK>".to_owned(),
    ];
    let mut frames = vec![
        " ? __die_body.cold+0x1a/0x1f".to_owned(),
        " ? page_fault_oops+0xd2/0x2b0".to_owned(),
        format!(" {caller}+0x{:x}/0x1a0 [crashmod]", v.offsets[1]),
        format!(" param_attr_store+0x{:x}/0x100", v.offsets[2]),
        format!(" vfs_write+0x{:x}/0x3f0", v.offsets[3]),
        format!(" ksys_write+0x{:x}/0xf0", v.offsets[4]),
        format!(" do_syscall_64+0x{:x}/0xb0", v.offsets[5]),
        format!(" entry_SYSCALL_64_after_hwframe+0x{:x}/0xd8", v.offsets[6]),
    ];
    for (at, name) in v.noise.iter().rev() {
        let at = (*at).min(frames.len());
        frames.insert(at, format!(" ? {name}+0x{:x}/0x100", v.offsets[7]));
    }
    lines.extend(frames);
    lines.push(" </TASK>".to_owned());
    lines.push("---[ end trace 0000000000000000 ]---".to_owned());
    lines.push("Kernel panic - not syncing: Fatal exception".to_owned());
    lines.push(format!(
        "Kernel Offset: 0x{:x} from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)",
        v.kaslr
    ));
    let mut out = String::from("Panic#1 Part1\n");
    for (i, l) in lines.iter().enumerate() {
        let ts = v.base_ts + i as f64 * 0.000_021;
        out.push_str(&format!("<4>[{ts:>12.6}] {l}\n"));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn signature_ignores_volatile_data(a in volatile(), b in volatile()) {
        let one = analyze(&oops(&a, "site_fn", "caller_fn"));
        let two = analyze(&oops(&b, "site_fn", "caller_fn"));
        prop_assert_eq!(&one.class, "null-pointer-dereference");
        prop_assert_eq!(&one.signature, &two.signature);
        prop_assert_eq!(one.function.as_deref(), Some("site_fn"));
        prop_assert_eq!(one.pid, Some(a.pid));
    }

    #[test]
    fn signature_follows_the_crash_site(
        v in volatile(),
        site in "[a-z_][a-z0-9_]{2,20}",
        other in "[a-z_][a-z0-9_]{2,20}",
    ) {
        prop_assume!(site != other);
        let one = analyze(&oops(&v, &site, "caller_fn"));
        let two = analyze(&oops(&v, &other, "caller_fn"));
        prop_assert_ne!(&one.signature, &two.signature);
        let three = analyze(&oops(&v, &site, &other));
        prop_assert_ne!(&one.signature, &three.signature);
    }

    #[test]
    fn never_panics_on_arbitrary_text(s in ".{0,2000}") {
        let a = analyze(&s);
        prop_assert!(!a.class.is_empty());
        prop_assert!(!a.signature.is_empty());
    }

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4000)) {
        let _ = analyze(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn never_panics_on_shuffled_kernel_fragments(
        picks in prop::collection::vec((0usize..FRAGMENTS.len(), 0usize..4), 0..120),
    ) {
        let text: String = picks
            .iter()
            .map(|(i, p)| format!("{}{}\n", PREFIXES[*p], FRAGMENTS[*i]))
            .collect();
        let a = analyze(&text);
        // Round trip through JSON, as the report manifest does.
        let json = serde_json::to_string(&a).unwrap();
        let back: kmsg::Analysis = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&a, &back);
        let _ = back.render_text();
    }
}

/// The fuzz seeds (real records, console captures, synthetic edge cases) as lines.
fn seeds() -> &'static [Vec<String>] {
    static SEEDS: OnceLock<Vec<Vec<String>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        fuzz_corpus::seeds("kmsg_analyze")
            .iter()
            .map(|(_, bytes)| {
                String::from_utf8_lossy(bytes)
                    .lines()
                    .map(str::to_owned)
                    .collect()
            })
            .collect()
    })
}

/// One edit of a real log: what a torn record, a lost console line or a repeated printk does.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize),
    Duplicate(usize, usize),
    Swap(usize, usize),
    Cut(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Duplicate(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Swap(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Cut(a, b)),
    ]
}

fn apply(lines: &mut Vec<String>, edit: &Edit) {
    if lines.is_empty() {
        return;
    }
    let n = lines.len();
    match *edit {
        Edit::Delete(a) => {
            lines.remove(a % n);
        }
        Edit::Duplicate(a, b) => {
            let line = lines[a % n].clone();
            lines.insert(b % (n + 1), line);
        }
        Edit::Swap(a, b) => lines.swap(a % n, b % n),
        Edit::Cut(a, b) => {
            let line = &mut lines[a % n];
            let mut at = b % (line.len() + 1);
            while !line.is_char_boundary(at) {
                at -= 1;
            }
            line.truncate(at);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn edited_real_logs_keep_the_invariants(
        pick in any::<usize>(),
        edits in prop::collection::vec(edit(), 0..24),
    ) {
        let all = seeds();
        let mut lines = all[pick % all.len()].clone();
        for e in &edits {
            apply(&mut lines, e);
        }
        kmsg::fuzzing::check_analyze(lines.join("\n").as_bytes());
    }
}

const PREFIXES: [&str; 4] = [
    "",
    "<4>[   12.000001] ",
    "[ 3.5][  T12] ",
    "Nov 26 03:12:01 h kernel: ",
];

/// Pieces of real oops text, recombined in any order to reach deep parser states.
const FRAGMENTS: &[&str] = &[
    "BUG: kernel NULL pointer dereference, address: 0000000000000010",
    "Oops: 0002 [#1] PREEMPT SMP NOPTI",
    "Oops: 0002 [#",
    "general protection fault, probably for non-canonical address 0xdead000000000000: 0000 [#2]",
    "kernel BUG at mm/x.c:1!",
    "kernel BUG at ",
    "WARNING: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2 [m]",
    "WARNING: CPU: 0 PID: 1 at ",
    "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [sh:1]",
    "INFO: task sh:1 blocked for more than 3 seconds.",
    "rcu: INFO: rcu_preempt self-detected stall on CPU",
    "sh invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0",
    "sysrq: Trigger a crash",
    "list_del corruption, a->prev is b",
    "usercopy: Kernel memory exposure attempt",
    "Kernel panic - not syncing: Fatal exception",
    "Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: ",
    "Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: f+0x1/0x2 [m]",
    "Kernel panic - not syncing: ",
    "---[ end trace 0000000000000000 ]---",
    "---[ end Kernel panic - not syncing: x ]---",
    "CPU: 0 PID: 1 Comm: sh Tainted: G O 6.1.0 #1",
    "CPU: 0 UID: 0 PID: 1 Comm: ",
    "CPU: ",
    "      Tainted: G           O       6.1.0 #1",
    "Hardware name: QEMU",
    "RIP: 0010:f+0x1/0x2 [m]",
    "RIP: 0010:",
    "RIP: 0033:0x7f00",
    "pc : f+0x1/0x2",
    "lr : ",
    "Call Trace:",
    "Call trace:",
    " <TASK>",
    " </TASK>",
    " <IRQ>",
    " </IRQ>",
    " ? g+0x1/0x2",
    " h+0x1/0x2 [m]",
    " h+0x/0x",
    " [<ffffffff8105b6f0>] ? w+0x1/0x2",
    " [<ffffffff",
    "Modules linked in: a(OE) b [last unloaded: c]",
    "Modules linked in: a( [last unloaded: ",
    "Kernel Offset: 0x1000 from 0xffffffff81000000",
    "Linux version 6.1.0 (x) #1",
    "UBSAN: array-index-out-of-bounds in a.c:1:2",
    "BUG: KASAN: slab-out-of-bounds in f+0x1/0x2",
    "==================================================================",
    "Panic#1 Part1",
    "\u{0}\u{7f}\u{fffd}[<>]",
];
