//! The exact identifiers of this machine that scrubbing must remove wherever they appear: its
//! host name, machine id, boot id and the DMI serial numbers and UUID, all read under `--root`,
//! and the host name the journal tail of a report names.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use setup::root::under_root;

use crate::scrub::{Identifiers, Kind};

/// Files holding one identifier each, and what it is.
const SOURCES: [(&str, Kind); 10] = [
    ("/etc/hostname", Kind::Hostname),
    ("/proc/sys/kernel/hostname", Kind::Hostname),
    ("/etc/machine-id", Kind::MachineId),
    ("/var/lib/dbus/machine-id", Kind::MachineId),
    ("/proc/sys/kernel/random/boot_id", Kind::BootId),
    ("/sys/class/dmi/id/product_uuid", Kind::Uuid),
    ("/sys/class/dmi/id/product_serial", Kind::Serial),
    ("/sys/class/dmi/id/board_serial", Kind::Serial),
    ("/sys/class/dmi/id/chassis_serial", Kind::Serial),
    ("/sys/class/dmi/id/chassis_asset_tag", Kind::Serial),
];

/// Values firmware writes when it has no real one; replacing them would only blank out words.
fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    lower.len() < 4
        || lower.chars().all(|c| c == '0' || c == '-' || c == ' ')
        || [
            "none",
            "not specified",
            "default string",
            "to be filled by o.e.m.",
            "system serial number",
            "chassis serial number",
            "not applicable",
            "unknown",
        ]
        .contains(&lower.as_str())
}

/// What this machine's files under `root` say; unreadable files are simply not there (a DMI
/// serial is readable by root only, and `submit` runs as root).
pub fn collect(root: &Path) -> Identifiers {
    let mut ids = Identifiers::default();
    for (path, kind) in SOURCES {
        let Ok(text) = fs::read_to_string(under_root(root, Path::new(path))) else {
            continue;
        };
        let value = text.trim();
        if value.is_empty() {
            continue;
        }
        match kind {
            Kind::Hostname => {
                ids.hostnames.insert(value.to_string());
            }
            _ if is_placeholder(value) => {}
            _ => ids.secrets.push((value.to_string(), kind)),
        }
    }
    ids
}

/// The host name a journal tail (`journalctl -o short-monotonic`, `short`, `short-iso`) prints
/// on its lines: the word before `unit[pid]:` or `kernel:`, taken when most lines agree.
pub fn journal_hostname(text: &str) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut lines = 0;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        // The identifier is the first word ending in ':' after the time; the host precedes it.
        let Some(at) = words.iter().position(|w| w.ends_with(':') && w.len() > 1) else {
            continue;
        };
        if at < 2 || line.starts_with("--") {
            continue;
        }
        lines += 1;
        *counts.entry(words[at - 1]).or_default() += 1;
    }
    let (host, count) = counts.into_iter().max_by_key(|(_, n)| *n)?;
    (count * 2 > lines).then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_machine_under_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for (path, text) in [
            ("etc/hostname", "pluto\n"),
            ("etc/machine-id", "6d2f1e0c9b8a47f3a1b2c3d4e5f60718\n"),
            (
                "proc/sys/kernel/random/boot_id",
                "0a1b2c3d-4e5f-6789-abcd-ef0123456789\n",
            ),
            ("sys/class/dmi/id/product_serial", "PF3XYZ12\n"),
            ("sys/class/dmi/id/board_serial", "Default string\n"),
        ] {
            let full = root.join(path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(full, text).unwrap();
        }
        let ids = collect(root);
        assert_eq!(ids.hostnames.iter().collect::<Vec<_>>(), ["pluto"]);
        assert_eq!(
            ids.secrets,
            [
                (
                    "6d2f1e0c9b8a47f3a1b2c3d4e5f60718".to_string(),
                    Kind::MachineId
                ),
                (
                    "0a1b2c3d-4e5f-6789-abcd-ef0123456789".to_string(),
                    Kind::BootId
                ),
                ("PF3XYZ12".to_string(), Kind::Serial),
            ]
        );
        assert_eq!(collect(&root.join("nothing")), Identifiers::default());
    }

    #[test]
    fn the_journal_names_its_host() {
        let tail = "\
-- Boot 0123456789abcdef0123456789abcdef --
[    5.100000] pluto systemd[1]: Started foo.service.
[    5.200000] pluto kernel: sysrq: Trigger a crash
[    5.300000] pluto sshd[412]: Accepted publickey for joe
";
        assert_eq!(journal_hostname(tail).as_deref(), Some("pluto"));
        assert_eq!(journal_hostname("no journal here"), None);
    }
}
