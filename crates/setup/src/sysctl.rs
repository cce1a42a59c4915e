//! The sysctl drop-in: what the kernel does when it oopses, locks up or panics, so that a crash
//! ends in a panic that pstore or kdump records, with useful context, and then a reboot. Pure.

use std::collections::BTreeMap;
use std::fmt::Write;

pub const DROPIN: &str = "/etc/sysctl.d/90-lastgasp.conf";

/// `kernel.panic_print` bits (Documentation/admin-guide/sysctl/kernel.rst, kernel/panic.c).
pub const PANIC_PRINT_BITS: [(u32, &str); 8] = [
    (
        0x01,
        "all tasks' state and stacks (show_state): long on a busy machine",
    ),
    (0x02, "memory info (show_mem)"),
    (0x04, "timer info"),
    (0x08, "locks held, with CONFIG_LOCKDEP only"),
    (
        0x10,
        "the ftrace buffer: can be megabytes and delay the reboot",
    ),
    (
        0x20,
        "replay every printk message to the consoles at the end (slow on a serial console)",
    ),
    (0x40, "backtraces of all CPUs"),
    (0x80, "only the blocked (D-state) tasks"),
];

/// Named `panic_print` values.
pub const PRESETS: [(&str, u32, &str); 4] = [
    ("none", 0, "nothing beyond the panic itself"),
    (
        "kdumpst",
        0x42,
        "kdumpst's choice: memory info and all CPUs' backtraces, short enough to keep the oops \
         in a pstore record",
    ),
    (
        "steamos",
        0x47,
        "SteamOS' choice: all tasks, memory, timers and all CPUs' backtraces",
    ),
    (
        "verbose",
        0x4f,
        "tasks, memory, timers, locks and all CPUs' backtraces: for kdump, where the whole log \
         is in the vmcore; in a pstore record it can push the oops out",
    ),
];

/// A `panic_print` preset's value.
pub fn preset(name: &str) -> Option<u32> {
    PRESETS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|&(_, v, _)| v)
}

/// What the drop-in sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctls {
    pub panic_on_oops: bool,
    /// Seconds before the reboot after a panic; 0 hangs, negative reboots at once.
    pub panic_timeout: i64,
    pub panic_print: u32,
    /// The preset `panic_print` came from, for the comment.
    pub panic_print_preset: Option<String>,
    pub softlockup_panic: bool,
    pub hardlockup_panic: bool,
    pub hung_task_panic: bool,
    pub rcu_stall_panic: bool,
}

impl Sysctls {
    /// Name to value, as setup.json records them.
    pub fn values(&self) -> BTreeMap<String, String> {
        let flag = |b: bool| if b { "1" } else { "0" }.to_string();
        BTreeMap::from([
            ("kernel.panic_on_oops".into(), flag(self.panic_on_oops)),
            ("kernel.panic".into(), self.panic_timeout.to_string()),
            ("kernel.panic_print".into(), self.panic_print.to_string()),
            (
                "kernel.softlockup_panic".into(),
                flag(self.softlockup_panic),
            ),
            (
                "kernel.hardlockup_panic".into(),
                flag(self.hardlockup_panic),
            ),
            ("kernel.hung_task_panic".into(), flag(self.hung_task_panic)),
            (
                "kernel.panic_on_rcu_stall".into(),
                flag(self.rcu_stall_panic),
            ),
        ])
    }

    /// The file's text, every setting with why and what it costs.
    pub fn dropin(&self) -> String {
        let mut text = String::from(
            "# Written by `lastgasp setup` from [setup] in lastgasp.toml; `lastgasp unsetup`\n\
             # removes it. Change the settings there and run setup again (docs/setup.md).\n\
             # A leading '-' lets a kernel without that knob skip the line.\n\n",
        );
        let values = self.values();
        let mut line = |comment: &str, key: &str, optional: bool| {
            let _ = writeln!(text, "{comment}");
            let dash = if optional { "-" } else { "" };
            let _ = writeln!(text, "{dash}{key} = {}\n", values[key]);
        };
        line(
            "# 1: every oops becomes a panic, so it is recorded and the machine reboots clean;\n\
             # 0: the machine limps on after an oops, in a state nobody can trust.",
            "kernel.panic_on_oops",
            false,
        );
        line(
            "# Seconds from a panic to the reboot (0 hangs, which keeps a ramoops record but\n\
             # needs a hand on the power button; negative reboots at once).",
            "kernel.panic",
            false,
        );
        let mut print = String::from("# Printed at a panic, before pstore records the log:\n");
        let preset = self
            .panic_print_preset
            .as_deref()
            .and_then(|name| PRESETS.iter().find(|(n, ..)| *n == name));
        if let Some((name, value, why)) = preset {
            print += &wrap_comment(&format!("preset {name} ({value}): {why}"));
        }
        for (bit, what) in PANIC_PRINT_BITS {
            let mark = if self.panic_print & bit != 0 {
                "x"
            } else {
                " "
            };
            let _ = writeln!(print, "#  [{mark}] {bit:#04x} {what}");
        }
        print.push_str(
            "# More text means more context, and a longer tail that a small pstore record may\n\
             # cut the oops itself from.",
        );
        line(&print, "kernel.panic_print", false);
        line(
            "# 1: a soft lockup (a CPU stuck in the kernel for 20 s) panics. Off by default, as in\n\
             # kdumpst: short soft lockups can pass on their own on a loaded machine.",
            "kernel.softlockup_panic",
            false,
        );
        line(
            "# 1: a hard lockup (a CPU deaf to interrupts) panics: it never recovers.",
            "kernel.hardlockup_panic",
            true,
        );
        line(
            "# 1: a task blocked for kernel.hung_task_timeout_secs panics. Off by default: a stuck\n\
             # NFS server or a slow disk would reboot the machine.",
            "kernel.hung_task_panic",
            true,
        );
        line(
            "# 1: an RCU stall panics. Off by default: kdumpst saw small, harmless stalls panic\n\
             # machines.",
            "kernel.panic_on_rcu_stall",
            true,
        );
        text.truncate(text.trim_end().len());
        text.push('\n');
        text
    }
}

/// `text` as `# ` comment lines of at most 96 characters.
fn wrap_comment(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 96 && line.len() > 1 {
            out += &line;
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out + &line + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_the_documented_numbers() {
        assert_eq!(preset("kdumpst"), Some(66));
        assert_eq!(preset("steamos"), Some(71));
        assert_eq!(preset("verbose"), Some(79));
        assert_eq!(preset("none"), Some(0));
        assert_eq!(preset("loud"), None);
    }

    #[test]
    fn the_dropin_marks_the_chosen_bits() {
        let s = Sysctls {
            panic_on_oops: true,
            panic_timeout: 10,
            panic_print: 66,
            panic_print_preset: Some("kdumpst".into()),
            softlockup_panic: false,
            hardlockup_panic: true,
            hung_task_panic: false,
            rcu_stall_panic: false,
        };
        let text = s.dropin();
        assert!(text.contains("#  [x] 0x02 memory info"), "{text}");
        assert!(
            text.contains("# preset kdumpst (66): kdumpst's choice"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.len() <= 96), "{text}");
        assert!(text.contains("#  [ ] 0x01 all tasks"), "{text}");
        assert!(text.contains("\nkernel.panic_print = 66\n"));
        assert!(text.contains("\n-kernel.hardlockup_panic = 1\n"));
        assert!(text.contains("\nkernel.panic = 10\n"));
        assert_eq!(s.values()["kernel.panic_on_rcu_stall"], "0");
    }
}
