//! systemd-boot and other Boot Loader Specification set-ups: /etc/kernel/cmdline is what
//! kernel-install gives kernels installed from now on, and each installed kernel's type-1 entry
//! (`loader/entries/*.conf` on the ESP or /boot) carries its own `options` lines, edited in
//! place. Pure.

use crate::params;

pub const KERNEL_CMDLINE: &str = "/etc/kernel/cmdline";
/// Where type-1 entries live: the ESP or XBOOTLDR mounted at one of these.
pub const ENTRY_ROOTS: [&str; 3] = ["/boot", "/efi", "/boot/efi"];

/// /etc/kernel/cmdline as kernel-install would derive it from the running kernel's command
/// line when the file is missing: without the parameters the bootloader adds itself.
pub fn from_proc_cmdline(proc_cmdline: &str) -> String {
    let kept: Vec<&str> = sys::cmdline::split(proc_cmdline)
        .into_iter()
        .filter(|p| {
            let key = sys::cmdline::key(p);
            key != "BOOT_IMAGE" && key != "initrd"
        })
        .collect();
    format!("{}\n", kept.join(" "))
}

/// Whether an entry boots a Linux kernel of this machine (`linux` key; no `machine-id`, or
/// `machine_id`'s).
pub fn is_ours(entry: &str, machine_id: Option<&str>) -> bool {
    let mut linux = false;
    let mut foreign = false;
    for (key, value) in entry.lines().filter_map(key_value) {
        match key {
            "linux" => linux = true,
            "machine-id" => foreign = machine_id.is_some_and(|id| id != value),
            _ => {}
        }
    }
    linux && !foreign
}

fn key_value(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_start();
    if line.starts_with('#') {
        return None;
    }
    let (key, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    Some((key, value.trim()))
}

/// The entry with `params` appended to its last `options` line, or in a new one.
pub fn entry_with(entry: &str, params: &[String]) -> String {
    let lines: Vec<&str> = entry.split_inclusive('\n').collect();
    let last = lines
        .iter()
        .rposition(|l| key_value(l).is_some_and(|(k, _)| k == "options"));
    match last {
        Some(at) => lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                if i == at {
                    params::append(l, params)
                } else {
                    l.to_string()
                }
            })
            .collect(),
        None => {
            let mut out = entry.to_string();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out + &format!("options {}\n", params.join(" "))
        }
    }
}

/// The entry without `params` in its `options` lines; an `options` line left empty goes.
pub fn entry_without(entry: &str, params: &[String]) -> String {
    entry
        .split_inclusive('\n')
        .filter_map(|line| match key_value(line) {
            Some(("options", _)) => {
                let stripped = params::remove(line, params);
                let left = stripped.trim();
                (left != "options").then_some(stripped)
            }
            _ => Some(line.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = "title      Debian GNU/Linux 12 (bookworm)\n\
                         version    6.1.0-57-amd64\n\
                         machine-id 0123456789abcdef0123456789abcdef\n\
                         sort-key   debian\n\
                         options    root=UUID=1b2c ro quiet\n\
                         linux      /0123456789abcdef0123456789abcdef/6.1.0-57-amd64/linux\n\
                         initrd     /0123456789abcdef0123456789abcdef/6.1.0-57-amd64/initrd.img-6.1.0-57-amd64\n";

    fn params() -> Vec<String> {
        vec!["memmap=1M$0x30000000".into(), "crashkernel=256M".into()]
    }

    #[test]
    fn options_gain_and_lose_exactly_our_parameters() {
        let edited = entry_with(ENTRY, &params());
        assert!(edited.contains(
            "options    root=UUID=1b2c ro quiet memmap=1M$0x30000000 crashkernel=256M\n"
        ));
        assert_eq!(entry_with(&edited, &params()), edited);
        assert_eq!(entry_without(&edited, &params()), ENTRY);
    }

    #[test]
    fn an_entry_without_options_gets_a_line_that_goes_again() {
        let bare = "title x\nlinux /vmlinuz\n";
        let edited = entry_with(bare, &params());
        assert_eq!(
            edited,
            "title x\nlinux /vmlinuz\noptions memmap=1M$0x30000000 crashkernel=256M\n"
        );
        assert_eq!(entry_without(&edited, &params()), bare);
    }

    #[test]
    fn other_machines_and_non_linux_entries_are_left_alone() {
        assert!(is_ours(ENTRY, Some("0123456789abcdef0123456789abcdef")));
        assert!(is_ours(ENTRY, None));
        assert!(!is_ours(ENTRY, Some("ffffffffffffffffffffffffffffffff")));
        assert!(!is_ours(
            "title Windows\nefi /EFI/Microsoft/Boot/bootmgfw.efi\n",
            None
        ));
    }

    #[test]
    fn kernel_cmdline_from_proc_drops_what_the_bootloader_adds() {
        assert_eq!(
            from_proc_cmdline(
                "BOOT_IMAGE=/vmlinuz-6.1 root=UUID=1b2c ro initrd=\\initrd.img quiet\n"
            ),
            "root=UUID=1b2c ro quiet\n"
        );
    }
}
