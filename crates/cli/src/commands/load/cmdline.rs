//! The capture kernel's command line: the running kernel's (`/proc/cmdline`) without what
//! would break or bloat a kernel living in a small reservation, plus the parameters kdump
//! needs, plus what the configuration appends. Pure; docs/kdump.md explains each choice.

use sys::cmdline::{key, split};

/// Parameters of the running kernel the capture kernel must not get, by name. A parameter we
/// append also replaces the running kernel's, so it is not listed here.
pub const REMOVED: &[&str] = &[
    // A capture kernel must not reserve memory for another capture kernel.
    "crashkernel",
    // Bootloader bookkeeping; the image and initramfs are handed over by file descriptor.
    "BOOT_IMAGE",
    "initrd",
    // The capture kernel runs its own initramfs's /init.
    "rdinit",
    // Memory the reservation cannot spare: huge pages, CMA areas, big log buffers, debugging
    // allocators, bounce buffers sized for the whole machine.
    "hugepages",
    "hugepagesz",
    "default_hugepagesz",
    "hugetlb_cma",
    "cma",
    "log_buf_len",
    "swiotlb",
    "slub_debug",
    "kmemleak",
    // Physical memory maps and limits written for the whole machine; the capture kernel's
    // memory is the reservation, which the kernel describes to it itself.
    "memmap",
    "mem",
    // The capture kernel's output is what tells why a capture failed.
    "quiet",
    "splash",
    "rhgb",
    // CPU lists for the full machine: with one CPU they could isolate the only one.
    "isolcpus",
    "nohz_full",
    "rcu_nocbs",
    "irqaffinity",
    // Watchdogs and panic triggers that would kill the capture over a warning or a slow disk.
    "nmi_watchdog",
    "panic_on_warn",
    "panic_on_taint",
    // Never resume a hibernation image from inside a crash capture.
    "resume",
    "resume_offset",
    // The kernel adds its own when it loads the capture kernel.
    "elfcorehdr",
];

/// What `load --kdump` appends for `arch` (`std::env::consts::ARCH`), before the configured
/// extras. Everywhere: one CPU (the others are in whatever state the crash left them), devices
/// reset by their drivers, a reboot 10 s after a panic of the capture kernel itself instead of a
/// hang, and no memory cgroup bookkeeping (it costs memory per page). x86 also polls interrupts
/// (the crashed kernel's interrupt routing may be stale) and turns off machine-check handling
/// and NUMA, as the kernel documentation and Fedora's kdump do.
pub fn defaults(arch: &str) -> Vec<&'static str> {
    match arch {
        "x86_64" => vec![
            "irqpoll",
            "nr_cpus=1",
            "reset_devices",
            "panic=10",
            "cgroup_disable=memory",
            "mce=off",
            "numa=off",
        ],
        _ => vec![
            "nr_cpus=1",
            "reset_devices",
            "panic=10",
            "cgroup_disable=memory",
        ],
    }
}

/// The capture command line from the running one, the arch `defaults` and the configured
/// `extra` (which wins over both). Parameters keep their order and their quotes; arguments
/// for init after `--` are dropped, since the capture initramfs's /init is not that init.
pub fn capture_cmdline(running: &str, defaults: &[&str], extra: &str) -> String {
    let extra = split(extra);
    let replaced: Vec<&str> = defaults
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .map(key)
        .collect();
    let kept = split(running)
        .into_iter()
        .take_while(|param| *param != "--")
        .filter(|param| {
            let name = key(param);
            !REMOVED.contains(&name) && !replaced.contains(&name)
        });
    let extra_keys: Vec<&str> = extra.iter().copied().map(key).collect();
    let defaults = defaults
        .iter()
        .copied()
        .filter(|param| !extra_keys.contains(&key(param)));
    kept.chain(defaults)
        .chain(extra)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEBIAN: &str =
        "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=0d5c1b8e-1f7a ro quiet crashkernel=256M";

    #[test]
    fn a_debian_command_line_becomes_a_capture_one() {
        assert_eq!(
            capture_cmdline(DEBIAN, &defaults("x86_64"), ""),
            "root=UUID=0d5c1b8e-1f7a ro irqpoll nr_cpus=1 reset_devices panic=10 \
             cgroup_disable=memory mce=off numa=off"
        );
    }

    #[test]
    fn arm64_gets_no_x86_parameters() {
        assert_eq!(
            capture_cmdline("console=ttyAMA0 crashkernel=512M", &defaults("aarch64"), ""),
            "console=ttyAMA0 nr_cpus=1 reset_devices panic=10 cgroup_disable=memory"
        );
    }

    #[test]
    fn quoted_values_stay_one_parameter() {
        assert_eq!(
            split(r#"a=1 acpi_osi="!Windows 2020" "b=x y" c"#),
            ["a=1", r#"acpi_osi="!Windows 2020""#, r#""b=x y""#, "c"]
        );
        let capture = capture_cmdline(r#"acpi_osi="!Windows 2020" "quiet""#, &[], "");
        assert_eq!(capture, r#"acpi_osi="!Windows 2020""#);
    }

    #[test]
    fn every_removed_family_goes() {
        let running = "hugepages=16 hugepagesz=1G default_hugepagesz=1G memmap=1M$0x100000 \
                       mem=8G panic=0 nmi_watchdog=panic kmemleak=on splash initrd=\\initrd.img \
                       isolcpus=0-3 resume=/dev/sda2 console=ttyS0,115200";
        assert_eq!(
            capture_cmdline(running, &["panic=10"], ""),
            "console=ttyS0,115200 panic=10"
        );
    }

    #[test]
    fn parameters_we_append_replace_the_running_ones() {
        let capture = capture_cmdline("nr_cpus=4 irqpoll root=/dev/vda", &defaults("x86_64"), "");
        assert_eq!(capture.matches("nr_cpus=").count(), 1);
        assert!(capture.contains("nr_cpus=1"));
        assert_eq!(capture.matches("irqpoll").count(), 1);
        assert!(capture.starts_with("root=/dev/vda "));
    }

    #[test]
    fn configured_extras_come_last_and_win_over_defaults() {
        let capture = capture_cmdline(
            "root=/dev/vda console=tty0",
            &defaults("x86_64"),
            "panic=30 console=ttyS0  loglevel=7",
        );
        assert!(
            capture.ends_with(" panic=30 console=ttyS0 loglevel=7"),
            "{capture}"
        );
        assert!(!capture.contains("panic=10"), "{capture}");
        assert!(!capture.contains("console=tty0"), "{capture}");
    }

    #[test]
    fn init_arguments_are_dropped() {
        assert_eq!(
            capture_cmdline("root=/dev/vda -- single", &["nr_cpus=1"], ""),
            "root=/dev/vda nr_cpus=1"
        );
    }

    #[test]
    fn empty_and_blank_command_lines() {
        assert_eq!(split(""), Vec::<&str>::new());
        assert_eq!(split(" \n\t "), Vec::<&str>::new());
        assert_eq!(capture_cmdline("\n", &["nr_cpus=1"], ""), "nr_cpus=1");
    }

    fn param() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            prop::sample::select(REMOVED).prop_map(str::to_string),
            prop::sample::select(&["root", "ro", "console", "nr_cpus", "loglevel", "foo.bar"][..])
                .prop_map(str::to_string),
            "[a-z_.]{1,8}",
        ];
        let value = prop_oneof![
            Just(String::new()),
            "=[a-zA-Z0-9,/:.-]{0,8}",
            "=\"[a-z !]{0,8}\"",
        ];
        (name, value).prop_map(|(n, v)| format!("{n}{v}"))
    }

    proptest! {
        #[test]
        fn no_removed_key_survives_and_the_rest_keeps_its_order(
            params in prop::collection::vec(param(), 0..24),
            gaps in prop::collection::vec(prop::sample::select(&[" ", "  ", "\t", "\n"][..]), 24),
            x86 in any::<bool>(),
        ) {
            let mut running = String::new();
            for (param, gap) in params.iter().zip(&gaps) {
                running.push_str(param);
                running.push_str(gap);
            }
            let defaults = defaults(if x86 { "x86_64" } else { "aarch64" });
            let capture = capture_cmdline(&running, &defaults, "");
            let out = split(&capture);
            let default_keys: Vec<&str> = defaults.iter().copied().map(key).collect();
            let (from_running, appended) = out.split_at(out.len() - defaults.len());
            prop_assert_eq!(appended, &defaults[..]);
            for param in from_running {
                prop_assert!(!REMOVED.contains(&key(param)), "{} survived", param);
                prop_assert!(!default_keys.contains(&key(param)), "{} not replaced", param);
            }
            let expected: Vec<&str> = params
                .iter()
                .map(String::as_str)
                .filter(|p| !REMOVED.contains(&key(p)) && !default_keys.contains(&key(p)))
                .collect();
            prop_assert_eq!(from_running, &expected[..]);
        }

        #[test]
        fn configured_extras_end_the_line_and_replace_everything_of_their_name(
            params in prop::collection::vec(param(), 0..16),
            extras in prop::collection::vec(param(), 0..6),
        ) {
            let running = params.join(" ");
            let extra = extras.join(" ");
            let defaults = defaults("x86_64");
            let capture = capture_cmdline(&running, &defaults, &extra);
            let out = split(&capture);
            let extras: Vec<&str> = extras.iter().map(String::as_str).collect();
            let (before, tail) = out.split_at(out.len() - extras.len());
            prop_assert_eq!(tail, &extras[..]);
            let extra_keys: Vec<&str> = extras.iter().copied().map(key).collect();
            for param in before {
                prop_assert!(!extra_keys.contains(&key(param)), "{} not replaced", param);
                prop_assert!(!REMOVED.contains(&key(param)), "{} survived", param);
            }
            // Every default the extras do not override is there, once.
            for default in &defaults {
                let expected = usize::from(!extra_keys.contains(&key(default)));
                let count = before.iter().filter(|p| *p == default).count();
                prop_assert_eq!(count, expected, "{}", default);
            }
        }
    }
}
