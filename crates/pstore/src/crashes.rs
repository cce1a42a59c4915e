//! Joining dumps into crashes: an Oops dump and the Panic dump that followed it on the same boot
//! are one crash. Each ramoops record is the whole log so far, so the later one repeats the
//! earlier text (or its tail); the texts are merged by line overlap, never by dump count.

use crate::dumps::BuiltDump;
use crate::lines::{Merge, append_chunk, merge_overlapping, time_span};

/// Dumps of one crash, merged.
#[derive(Debug, Clone)]
pub(crate) struct BuiltCrash {
    pub backend: String,
    pub dumps: Vec<BuiltDump>,
    pub text: Vec<u8>,
    pub gaps: Vec<String>,
}

/// Two dumps without common lines are still one boot when the second follows the first this
/// closely, counts up, and its printk time does not go back.
const SAME_BOOT_SECONDS: i64 = 3600;

/// Joins dumps (sorted oldest first) into crashes.
pub(crate) fn join_dumps(dumps: Vec<BuiltDump>) -> Vec<BuiltCrash> {
    let mut crashes: Vec<BuiltCrash> = Vec::new();
    for dump in dumps {
        let target = crashes.iter_mut().rev().find(|c| c.backend == dump.backend);
        if let Some(crash) = target
            && let Some(text) = joined_text(crash, &dump)
        {
            crash.text = text;
            crash.gaps.extend(dump.gaps.iter().cloned());
            crash.dumps.push(dump);
            continue;
        }
        crashes.push(BuiltCrash {
            backend: dump.backend.clone(),
            text: dump.text.clone(),
            gaps: dump.gaps.clone(),
            dumps: vec![dump],
        });
    }
    crashes
}

/// The crash's log with `dump` added, when `dump` belongs to the crash.
fn joined_text(crash: &mut BuiltCrash, dump: &BuiltDump) -> Option<Vec<u8>> {
    let last = crash.dumps.last()?;
    if !crash.text.is_empty()
        && !dump.text.is_empty()
        && let Merge::Overlapping(merged) = merge_overlapping(&crash.text, &dump.text)
    {
        return Some(merged);
    }
    if !same_boot(last, &crash.text, dump) {
        return None;
    }
    if !crash.text.is_empty() && !dump.text.is_empty() {
        crash.gaps.push(format!(
            "{}#{} and {}#{} share no log lines: text logged between them may be missing",
            last.dump.reason, last.dump.count, dump.dump.reason, dump.dump.count
        ));
    }
    let mut text = crash.text.clone();
    append_chunk(&mut text, &dump.text);
    Some(text)
}

fn same_boot(last: &BuiltDump, crash_text: &[u8], dump: &BuiltDump) -> bool {
    let close = match (last.time, dump.time) {
        (Some(a), Some(b)) => (0..=SAME_BOOT_SECONDS).contains(&(b.saturating_sub(a))),
        _ => false,
    };
    let monotonic = match (time_span(crash_text), time_span(&dump.text)) {
        (Some((_, end)), Some((start, _))) => start >= end,
        _ => true,
    };
    dump.dump.count > last.dump.count && close && monotonic
}
