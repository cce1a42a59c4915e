//! The human summary that `lastgasp analyze` and `lastgasp show` print.

use std::fmt::Write as _;

use crate::model::{Analysis, Frame};

/// How many reliable frames the summary lists.
const SHOWN_FRAMES: usize = 12;

impl Analysis {
    /// A few aligned lines: what crashed, where, on which kernel, and the top of the trace.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let mut field = |name: &str, value: &str| {
            let _ = writeln!(out, "{:<12}{}", format!("{name}:"), value);
        };
        field("Crash", &self.title);
        field("Class", &self.class);
        field("Signature", &self.signature);
        if let Some(f) = &self.function {
            field("Function", f);
        }
        if let Some(f) = &self.fault_frame {
            field("Faulting", &frame_text(f));
        }
        if let Some(loc) = &self.bug_location {
            field("Location", loc);
        }
        if let Some(m) = &self.panic_message {
            field("Panic", m);
        }
        if let Some(r) = &self.kernel_release {
            let build = self.kernel_build.as_deref().unwrap_or_default();
            field("Kernel", format!("{r} {build}").trim_end());
        }
        if let Some(comm) = &self.comm {
            let mut task = comm.clone();
            if let Some(pid) = self.pid {
                let _ = write!(task, " (pid {pid})");
            }
            if let Some(cpu) = self.cpu {
                let _ = write!(task, " on CPU {cpu}");
            }
            field("Task", &task);
        }
        if let Some(t) = &self.taint {
            let value = if t.flags.is_empty() {
                "not tainted".to_owned()
            } else {
                format!("{} ({})", t.raw, t.flags.join(", "))
            };
            field("Taint", &value);
        }
        if let Some(hw) = &self.hardware {
            field("Hardware", hw);
        }
        if let Some(ts) = self.crash_time {
            field("Time", &format!("{ts:.6} s after boot"));
        }
        if self.oops_count > 1 {
            field("Oopses", &self.oops_count.to_string());
        }
        let reliable: Vec<&Frame> = self.frames.iter().filter(|f| f.reliable).collect();
        if !reliable.is_empty() {
            out.push_str("Call trace:\n");
            for f in reliable.iter().take(SHOWN_FRAMES) {
                let _ = writeln!(out, "  {}", frame_text(f));
            }
            if reliable.len() > SHOWN_FRAMES {
                let _ = writeln!(out, "  ... {} more", reliable.len() - SHOWN_FRAMES);
            }
        }
        out
    }
}

/// `func+0x12/0x40 [mod]`.
fn frame_text(f: &Frame) -> String {
    let mut s = f.function.clone();
    if let Some(off) = f.offset {
        let _ = write!(s, "+{off:#x}");
        if let Some(size) = f.size {
            let _ = write!(s, "/{size:#x}");
        }
    }
    if let Some(m) = &f.module {
        let _ = write!(s, " [{m}]");
    }
    s
}
