//! `lastgasp load --kdump` / `--unload` against a fake root: what it would load (--dry-run),
//! and the one-line explanations of every check made before the syscall. The syscall itself
//! runs only in the QEMU lab: a load under --root is refused by design.

mod common;

use std::fs;

use common::{FakeRoot, stderr_of, stdout_of};

const RELEASE: &str = "6.1.0-99-test";
const CMDLINE: &str = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-99-test root=UUID=0d5c ro quiet \
                       crashkernel=256M console=ttyS0,115200";

/// The first bytes of a kernel image this host's kexec takes.
fn kernel_image() -> Vec<u8> {
    let mut image = vec![0u8; 64 << 10];
    image[0..2].copy_from_slice(b"MZ");
    if cfg!(target_arch = "aarch64") {
        image[0x38..0x3c].copy_from_slice(b"ARM\x64");
    } else {
        image[0x1fe..0x200].copy_from_slice(&[0x55, 0xaa]);
        image[0x202..0x206].copy_from_slice(b"HdrS");
        // Boot protocol 2.15 and Debian's command line limit.
        image[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        image[0x238..0x23c].copy_from_slice(&2047u32.to_le_bytes());
    }
    image
}

/// A machine with a 256 MiB reservation, nothing loaded, kexec enabled, a kernel in
/// /usr/lib/modules and lastgasp's initramfs.
fn ready_root() -> FakeRoot {
    let root = FakeRoot::new();
    root.file("proc/cmdline", &format!("{CMDLINE}\n"));
    root.file("proc/sys/kernel/osrelease", &format!("{RELEASE}\n"));
    root.file("proc/sys/kernel/kexec_load_disabled", "0\n");
    root.file("sys/kernel/kexec_crash_size", "268435456\n");
    root.file("sys/kernel/kexec_crash_loaded", "0\n");
    root.file(
        "sys/kernel/security/lockdown",
        "[none] integrity confidentiality\n",
    );
    let kernel = root
        .path()
        .join(format!("usr/lib/modules/{RELEASE}/vmlinuz"));
    fs::create_dir_all(kernel.parent().unwrap()).unwrap();
    fs::write(&kernel, kernel_image()).unwrap();
    let initramfs = root
        .path()
        .join(format!("var/lib/lastgasp/initramfs-{RELEASE}.img"));
    fs::create_dir_all(initramfs.parent().unwrap()).unwrap();
    let mut archive = b"070701".to_vec();
    archive.resize(3 << 20, 0);
    fs::write(&initramfs, archive).unwrap();
    root
}

fn run(root: &FakeRoot, args: &[&str]) -> std::process::Output {
    root.cmd().arg("load").args(args).output().unwrap()
}

/// Fails with exactly one line on stderr, which holds every one of `needles`.
fn assert_one_line_error(out: &std::process::Output, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(out));
    let stderr = stderr_of(out);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{needle:?} not in {stderr}");
    }
}

fn expected_cmdline() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "root=UUID=0d5c ro console=ttyS0,115200 irqpoll nr_cpus=1 reset_devices panic=10 \
         cgroup_disable=memory mce=off numa=off"
    } else {
        "root=UUID=0d5c ro console=ttyS0,115200 nr_cpus=1 reset_devices panic=10 \
         cgroup_disable=memory"
    }
}

#[test]
fn dry_run_shows_kernel_initramfs_and_command_line() {
    let root = ready_root();
    let out = run(&root, &["--kdump", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .trim()
            .to_string()
    };
    let kernel = root
        .path()
        .join(format!("usr/lib/modules/{RELEASE}/vmlinuz"));
    assert!(
        field("kernel").starts_with(&format!("{} (", kernel.display())),
        "{stdout}"
    );
    assert!(field("kernel").ends_with(", 1 MiB)"), "{stdout}");
    assert!(field("initramfs").ends_with(&format!("initramfs-{RELEASE}.img (cpio, 3 MiB)")));
    assert_eq!(field("cmdline"), expected_cmdline());
    assert_eq!(field("reservation"), "256 MiB");
    assert_eq!(field("loaded now"), "no");
}

#[test]
fn dry_run_json_has_the_plan() {
    let root = ready_root();
    let out = run(&root, &["--kdump", "--dry-run", "--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["action"], "dry-run");
    assert_eq!(json["release"], RELEASE);
    assert_eq!(json["cmdline"], expected_cmdline());
    assert_eq!(json["initramfs-bytes"], 3 << 20);
    assert_eq!(json["kernel-bytes"], 64 << 10);
    assert_eq!(json["crash-reservation-bytes"], 256 << 20);
    assert_eq!(json["crash-loaded"], false);
}

#[test]
fn the_kernel_falls_back_to_boot() {
    let root = ready_root();
    fs::remove_dir_all(root.path().join("usr/lib/modules")).unwrap();
    root.file(&format!("boot/vmlinuz-{RELEASE}"), "");
    fs::write(
        root.path().join(format!("boot/vmlinuz-{RELEASE}")),
        kernel_image(),
    )
    .unwrap();
    let out = run(&root, &["--kdump", "--dry-run", "--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kernel = json["kernel"].as_str().unwrap();
    assert!(
        kernel.ends_with(&format!("/boot/vmlinuz-{RELEASE}")),
        "{kernel}"
    );
}

#[test]
fn no_kernel_anywhere_names_both_places() {
    let root = ready_root();
    fs::remove_dir_all(root.path().join("usr/lib/modules")).unwrap();
    let out = run(&root, &["--kdump", "--dry-run"]);
    assert_one_line_error(
        &out,
        &[
            &format!("usr/lib/modules/{RELEASE}/vmlinuz"),
            &format!("boot/vmlinuz-{RELEASE}"),
            "[kdump] kernel",
        ],
    );
}

#[test]
fn configured_kernel_initramfs_and_extras_are_used() {
    let root = ready_root();
    fs::write(root.path().join("custom-vmlinuz"), kernel_image()).unwrap();
    fs::write(root.path().join("custom.img"), [0x1f, 0x8b, 8, 0]).unwrap();
    root.file(
        "etc/lastgasp/lastgasp.toml",
        "[kdump]\nkernel = \"/custom-vmlinuz\"\ninitrd = \"/custom.img\"\n\
         cmdline_append = 'panic=30 acpi_osi=\"!Windows 2020\"'\n",
    );
    let out = run(&root, &["--kdump", "--dry-run", "--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["kernel"].as_str().unwrap(),
        root.path().join("custom-vmlinuz").to_str().unwrap()
    );
    assert_eq!(json["initramfs-bytes"], 4);
    let cmdline = json["cmdline"].as_str().unwrap();
    assert!(
        cmdline.ends_with(r#" panic=30 acpi_osi="!Windows 2020""#),
        "{cmdline}"
    );
    assert!(!cmdline.contains("panic=10"), "{cmdline}");
}

#[test]
fn a_missing_initramfs_says_to_run_lastgasp_initramfs() {
    let root = ready_root();
    fs::remove_dir_all(root.path().join("var/lib/lastgasp")).unwrap();
    let out = run(&root, &["--kdump"]);
    assert_one_line_error(
        &out,
        &[
            &format!("initramfs-{RELEASE}.img"),
            "run `lastgasp initramfs` first",
        ],
    );
}

#[test]
fn an_initramfs_that_is_no_archive_is_refused() {
    let root = ready_root();
    root.file(
        &format!("var/lib/lastgasp/initramfs-{RELEASE}.img"),
        "<html>404</html>",
    );
    let out = run(&root, &["--kdump", "--dry-run"]);
    assert_one_line_error(
        &out,
        &[
            &format!("initramfs-{RELEASE}.img is not an initramfs"),
            "lastgasp initramfs",
        ],
    );
}

#[test]
fn in_a_capture_kernel_it_says_so_first() {
    let root = ready_root();
    // As in a capture kernel: no reservation, no initramfs of its own.
    root.file(
        "proc/cmdline",
        "elfcorehdr=0x2e000000 console=ttyS0 irqpoll nr_cpus=1 reset_devices\n",
    );
    root.file("sys/kernel/kexec_crash_size", "0\n");
    fs::remove_dir_all(root.path().join("var/lib/lastgasp")).unwrap();
    let out = run(&root, &["--kdump", "--dry-run"]);
    assert_one_line_error(&out, &["this is a capture kernel"]);
}

#[test]
fn no_reservation_says_to_add_crashkernel() {
    let root = ready_root();
    root.file("sys/kernel/kexec_crash_size", "0\n");
    root.file("proc/cmdline", "root=/dev/vda ro\n");
    let out = run(&root, &["--kdump"]);
    assert_one_line_error(
        &out,
        &[
            "cannot load the capture kernel: no memory is reserved",
            "add crashkernel=256M",
        ],
    );
}

#[test]
fn a_reservation_the_kernel_did_not_make_is_explained() {
    let root = ready_root();
    root.file("sys/kernel/kexec_crash_size", "0\n");
    let out = run(&root, &["--kdump"]);
    assert_one_line_error(
        &out,
        &["crashkernel=256M is on the kernel command line but nothing was reserved"],
    );
}

#[test]
fn dry_run_prints_the_plan_and_fails_when_a_load_would() {
    let root = ready_root();
    root.file("sys/kernel/kexec_crash_size", "0\n");
    let out = run(&root, &["--kdump", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout_of(&out).contains("reservation  0 MiB"));
    assert!(stderr_of(&out).contains("a load would fail: crashkernel=256M is on"));
}

#[test]
fn disabled_kexec_is_explained() {
    let root = ready_root();
    root.file("proc/sys/kernel/kexec_load_disabled", "1\n");
    for args in [&["--kdump"][..], &["--unload"][..]] {
        let out = run(&root, args);
        assert_one_line_error(
            &out,
            &["kernel.kexec_load_disabled = 1", "until the next boot"],
        );
    }
}

#[test]
fn a_kernel_without_crash_support_is_explained() {
    let root = ready_root();
    fs::remove_file(root.path().join("sys/kernel/kexec_crash_size")).unwrap();
    let out = run(&root, &["--kdump"]);
    assert_one_line_error(&out, &["no crash kernel support", "CONFIG_CRASH_DUMP"]);
}

#[test]
fn a_file_that_is_no_kernel_is_refused_before_the_call() {
    let root = ready_root();
    root.file(
        &format!("usr/lib/modules/{RELEASE}/vmlinuz"),
        "#!/bin/sh\necho not a kernel\n",
    );
    let out = run(&root, &["--kdump"]);
    assert_one_line_error(
        &out,
        &["vmlinuz is not a kernel kexec can load", "unknown format"],
    );
}

#[test]
fn images_bigger_than_the_reservation_are_refused() {
    let root = ready_root();
    root.file("sys/kernel/kexec_crash_size", "2097152\n");
    let out = run(&root, &["--kdump"]);
    assert_one_line_error(
        &out,
        &[
            "the crash reservation (2 MiB) is smaller than the kernel (1 MiB) and initramfs (3 MiB)",
            "crashkernel=64M",
        ],
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn a_command_line_longer_than_the_kernel_takes_is_refused() {
    let root = ready_root();
    let long = format!("dyndbg=\"{}\"", "x".repeat(2000));
    root.file(
        "etc/lastgasp/lastgasp.toml",
        &format!("[kdump]\ncmdline_append = '{long}'\n"),
    );
    let out = run(&root, &["--kdump"]);
    assert_one_line_error(
        &out,
        &[
            "the capture command line is",
            "this kernel takes at most 2016 for a capture kernel",
            "[kdump] cmdline_append",
        ],
    );
    // The dry run shows the line, and fails the same way.
    let out = run(&root, &["--kdump", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout_of(&out).contains(&long));
}

#[test]
fn a_real_load_under_a_fake_root_is_refused() {
    let root = ready_root();
    for args in [&["--kdump"][..], &["--unload"][..]] {
        let out = run(&root, args);
        assert_one_line_error(&out, &["works only with --dry-run"]);
    }
}

#[test]
fn unload_dry_run_says_what_it_would_do() {
    let root = ready_root();
    let out = run(&root, &["--unload", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        stdout_of(&out),
        "no capture kernel is loaded; nothing to unload\n"
    );
    root.file("sys/kernel/kexec_crash_loaded", "1\n");
    let out = run(&root, &["--unload", "--dry-run", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["action"], "dry-run");
    assert_eq!(json["was-loaded"], true);
}

#[test]
fn load_needs_kdump_or_unload_but_not_both() {
    let root = ready_root();
    assert_eq!(run(&root, &[]).status.code(), Some(2));
    assert_eq!(run(&root, &["--kdump", "--unload"]).status.code(), Some(2));
}

#[test]
fn garbage_in_a_kernel_state_file_names_the_file() {
    let root = ready_root();
    root.file("sys/kernel/kexec_crash_loaded", "yes\n");
    let out = run(&root, &["--kdump", "--dry-run"]);
    assert_one_line_error(&out, &["sys/kernel/kexec_crash_loaded", "\"yes\""]);
}

#[test]
fn help_explains_and_shows_examples() {
    let out = FakeRoot::new()
        .cmd()
        .args(["load", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = stdout_of(&out);
    for needle in [
        "kexec_file_load",
        "crashkernel=",
        "/var/lib/lastgasp/initramfs-<release>.img",
        "Examples:\n  lastgasp load --kdump ",
        "lastgasp load --unload",
        "--dry-run",
    ] {
        assert!(help.contains(needle), "{needle:?} not in\n{help}");
    }
}
