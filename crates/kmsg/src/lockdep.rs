//! lockdep's reports name the function to blame on their `at:` lines (`is trying to acquire
//! lock: ... at: func+0x1/0x2`), not in their call trace, which starts inside lockdep.

use std::ops::Range;

use crate::block::skip_addresses;
use crate::frame::parse_symbol;
use crate::line::Line;
use crate::model::Frame;

/// The lines after which the `at:` line names the culprit, by report kind.
const TRIGGERS: [&str; 8] = [
    "is trying to acquire",
    "is trying to lock",
    "is trying to release lock",
    "just changed the state of lock",
    " takes:",
    "leaving the kernel with locks still held",
    "held lock freed",
    "still has locks held",
];

/// How many `at:` functions are kept: the lock being taken, then the one already held.
const MAX_AT: usize = 2;

/// The functions of the `at:` lines of a lockdep report, from its first trigger line on (from
/// its headline when it has none), at most two. An `at:` that ends its line names the function
/// on the next line (`bad unlock balance` of newer kernels).
pub(crate) fn at_frames(lines: &[Line<'_>], range: Range<usize>) -> Vec<Frame> {
    let block = lines.get(range).unwrap_or_default();
    // Without a trigger line the `at:` lines only list locks held (suspicious RCU usage), which
    // name no culprit.
    let Some(start) = block
        .iter()
        .position(|l| TRIGGERS.iter().any(|t| l.text.contains(t)))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut pending = false;
    // The second `at:` counts only for the lock a circular or recursive report says the task
    // already holds, not for the list of held locks.
    let mut holding = false;
    for line in &block[start..] {
        let t = line.trimmed();
        if t.starts_with("stack backtrace:") || t.starts_with("Call Trace:") {
            break;
        }
        holding |= t.contains("already holding lock");
        let text = if pending {
            pending = false;
            Some(t)
        } else {
            t.find("at:").map(|at| t[at + 3..].trim())
        };
        let Some(text) = text else { continue };
        if !out.is_empty() && !holding {
            break;
        }
        if text.is_empty() {
            pending = true;
            continue;
        }
        if let Some(frame) = parse_symbol(skip_addresses(text)) {
            out.push(frame);
            if out.len() == MAX_AT {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::split_lines;

    fn names(log: &str) -> Vec<String> {
        let lines = split_lines(log);
        at_frames(&lines, 0..lines.len())
            .into_iter()
            .map(|f| f.function)
            .collect()
    }

    #[test]
    fn circular_dependency_of_today() {
        let log = "WARNING: possible circular locking dependency detected\n\
                   6.1.0 #1 Not tainted\n\
                   ------------------------------------------------------\n\
                   syz-executor/3166 is trying to acquire lock:\n\
                   ffff8880 (&sdp->lock){+.+.}-{3:3}, at: sg_remove_request+0x2c/0x110\n\
                   \n\
                   but task is already holding lock:\n\
                   ffff8881 (&q->lock){....}-{2:2}, at: blk_trace_ioctl+0x35/0x200\n\
                   stack backtrace:\n\
                   CPU: 0 PID: 3166 Comm: syz-executor Not tainted 6.1.0 #1\n";
        assert_eq!(names(log), ["sg_remove_request", "blk_trace_ioctl"]);
    }

    #[test]
    fn bracketed_report_of_old_kernels() {
        let log = "[ INFO: possible circular locking dependency detected ]\n\
                   4.9.0+ #1 Not tainted\n\
                   syz/123 is trying to acquire lock:\n \
                   (&pipe->mutex/1){+.+.+.}, at: [<ffffffff81a1d2e5>] pipe_lock+0x55/0x70\n";
        assert_eq!(names(log), ["pipe_lock"]);
    }

    #[test]
    fn held_locks_name_no_culprit() {
        let log = "[ BUG: Invalid wait context ]\n\
                   syz/4448 is trying to lock:\n\
                   ffff00004a747498 (&mm->mmap_lock){++++}-{3:3}, at: __might_fault+0x108/0x1b0\n\
                   other info that might help us debug this:\n\
                   1 lock held by syz/4448:\n \
                   #0: ffffa00019769560 (rcu_read_lock){....}-{1:2}, at: count_memcg_event_mm+0x24/0x2f0\n";
        assert_eq!(names(log), ["__might_fault"]);
        let log = "WARNING: suspicious RCU usage\n\
                   2 locks held by syz/1:\n \
                   #0: ffff (&ctx->mutex){+.+.}, at: perf_event_ctx_lock_nested+0x1/0x2\n";
        assert!(names(log).is_empty());
    }

    #[test]
    fn at_on_its_own_line() {
        let log = "WARNING: bad unlock balance detected!\n\
                   syz/1 is trying to release lock (rtnl_mutex) at:\n\
                   [<ffffffff8123>] rtnl_unlock+0x9/0x10\n\
                   but there are no more locks to release!\n";
        assert_eq!(names(log), ["rtnl_unlock"]);
    }
}
