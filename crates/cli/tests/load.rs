//! `lastgasp load` against a fake root: what it would load (--dry-run), and the one-line
//! explanations of every check made before the syscall; what setup.json makes it arm, its
//! fallback from pstore to kdump and the crash-loop guard (`arm_*` tests). The syscalls run
//! only in the QEMU lab: a load under --root is refused by design.

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
fn plain_load_without_setup_says_to_run_setup() {
    let root = ready_root();
    root.file("proc/sys/kernel/random/boot_id", "b0\n");
    let out = run(&root, &["--dry-run"]);
    assert_one_line_error(&out, &["setup has not been run", "`lastgasp setup`"]);
    assert_eq!(run(&root, &["--kdump", "--unload"]).status.code(), Some(2));
    assert_eq!(run(&root, &["--pstore", "--kdump"]).status.code(), Some(2));
    assert_eq!(
        run(&root, &["--shutdown", "--dry-run"]).status.code(),
        Some(2)
    );
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
        "Examples:\n  lastgasp load ",
        "lastgasp load --kdump ",
        "setup.json",
        "boots.json",
        "--boot",
        "--shutdown",
        "lastgasp load --unload",
        "--dry-run",
    ] {
        assert!(help.contains(needle), "{needle:?} not in\n{help}");
    }
}

/// setup.json as `lastgasp setup` writes it (the shared format), for `mode` and `backend`.
fn setup_json(mode: &str, backend: &str) -> String {
    format!(
        r#"{{"version":1,"mode":"{mode}","backend":{backend},"bootloader":"grub",
            "kernel_params":["memmap=1M$0x30000000","crashkernel=256M"],
            "ramoops":{{"placement":"memmap","address":805306368,"size":1048576,
                        "record_size":65536,"mem_name":null}},
            "blk":null,"crashkernel":"256M","sysctl":{{"kernel.panic_on_oops":"1"}},
            "files":[],"pending_commands":[]}}"#
    )
}

/// A machine set up by `lastgasp setup`, booted with id `now`.
fn armed_root(mode: &str, backend: &str) -> FakeRoot {
    let root = ready_root();
    root.file("var/lib/lastgasp/setup.json", &setup_json(mode, backend));
    root.file("proc/sys/kernel/random/boot_id", "now\n");
    root
}

/// boots.json with `unclean` boots that ended without a clean shutdown after a clean one.
fn boots_json(unclean: usize) -> String {
    let boot = |id: String, clean: bool| {
        format!(
            r#"{{"boot_id":"{id}","started":"2026-12-01T08:00:00Z","release":"{RELEASE}",
                "clean_shutdown":{}}}"#,
            if clean {
                "\"2026-12-01T08:10:00Z\""
            } else {
                "null"
            }
        )
    };
    let mut boots = vec![boot("first".into(), true)];
    boots.extend((0..unclean).map(|i| boot(format!("crashed{i}"), false)));
    format!(r#"{{"version":1,"boots":[{}]}}"#, boots.join(","))
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout_of(out), stderr_of(out)))
}

#[test]
fn arm_ramoops_with_setups_region() {
    let root = armed_root("pstore", "\"ramoops\"");
    let out = run(&root, &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(
        stdout.contains(
            "pstore: would load ramoops with mem_address=0x30000000 mem_size=0x100000 \
             record_size=0x10000 ecc=0"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("kdump: skipped: setup's mode is pstore"),
        "{stdout}"
    );
    let json = json_of(&run(&root, &["--dry-run", "--json"]));
    assert_eq!(json["mode"], "pstore");
    assert_eq!(json["pstore"]["module"], "ramoops");
    assert_eq!(json["pstore"]["action"], "dry-run");
    assert_eq!(json["guard"]["active"], false);
    // A dry run records nothing.
    assert!(!root.path().join("var/lib/lastgasp/boots.json").exists());
}

#[test]
fn arm_falls_back_to_kdump_when_pstore_cannot_be_armed() {
    // efi chosen, but this machine did not boot through UEFI.
    let root = armed_root("pstore", "\"efi\"");
    let out = run(&root, &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.contains("pstore: efi not armed: this machine did not boot through UEFI"));
    assert!(stdout.contains("kdump: fallback to kdump: "), "{stdout}");
    let json = json_of(&run(&root, &["--dry-run", "--json"]));
    assert_eq!(json["kdump"]["action"], "dry-run");
    assert_eq!(json["kdump"]["release"], RELEASE);

    // At boot the early unit leaves the fallback to the kdump unit, when that is enabled.
    let out = run(&root, &["--boot", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains(
            "the kdump fallback needs lastgasp-kdump.service, which loads the capture kernel at \
             boot, is not enabled: systemctl enable lastgasp-kdump.service"
        ),
        "{}",
        stderr_of(&out)
    );
    let wants = root
        .path()
        .join("etc/systemd/system/multi-user.target.wants");
    fs::create_dir_all(&wants).unwrap();
    std::os::unix::fs::symlink(
        "/usr/lib/systemd/system/lastgasp-kdump.service",
        wants.join("lastgasp-kdump.service"),
    )
    .unwrap();
    let out = run(&root, &["--boot", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).contains(
            "kdump: the fallback, since pstore could not be armed: left to \
             lastgasp-kdump.service"
        ),
        "{}",
        stdout_of(&out)
    );

    // No reservation: nothing can be armed, and it says why.
    root.file("sys/kernel/kexec_crash_size", "0\n");
    let out = run(&root, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("no crash reservation for the kdump fallback"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn arm_says_which_backend_holds_pstore() {
    let root = armed_root("pstore", "\"ramoops\"");
    root.file("sys/module/pstore/parameters/backend", "erst\n");
    let json = json_of(&run(&root, &["--dry-run", "--json", "--pstore"]));
    let why = json["pstore"]["why"].as_str().unwrap();
    assert!(why.starts_with("pstore is held by erst"), "{why}");
    assert!(json["kdump"].is_null(), "--pstore leaves kdump alone");
    root.file("sys/module/pstore/parameters/backend", "ramoops\n");
    let out = run(&root, &["--dry-run", "--pstore"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("pstore: ramoops armed already"));
}

#[test]
fn arm_the_crash_loop_guard_holds_kdump_back() {
    let root = armed_root("both", "\"ramoops\"");
    root.file("var/lib/lastgasp/boots.json", &boots_json(3));
    let out = run(&root, &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(
        stdout.starts_with("crash-loop guard: the last 3 boots ended without a clean shutdown"),
        "{stdout}"
    );
    assert!(stdout.contains("pstore: would load ramoops"), "{stdout}");
    assert!(
        stdout.contains("kdump: skipped: held back by the crash-loop guard"),
        "{stdout}"
    );
    // Two unclean boots are not a loop yet; a configured limit of 2 makes them one.
    root.file("var/lib/lastgasp/boots.json", &boots_json(2));
    let json = json_of(&run(&root, &["--dry-run", "--json"]));
    assert_eq!(json["guard"]["unclean-in-a-row"], 2);
    assert_eq!(json["kdump"]["action"], "dry-run");
    root.file(
        "etc/lastgasp/lastgasp.toml",
        "[load]\ncrash_loop_boots = 2\n",
    );
    let json = json_of(&run(&root, &["--dry-run", "--json"]));
    assert_eq!(json["guard"]["active"], true);
    assert_eq!(json["kdump"]["action"], "skipped");
}

#[test]
fn arm_shutdown_records_a_clean_end() {
    let root = armed_root("pstore", "\"ramoops\"");
    let mut boots: serde_json::Value = serde_json::from_str(&boots_json(1)).unwrap();
    boots["boots"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "boot_id": "now", "started": "2026-12-01T09:00:00Z", "release": RELEASE,
            "clean_shutdown": null, "guarded": false, "armed": ["pstore ramoops"],
            "pstore_failed": false
        }));
    root.file("var/lib/lastgasp/boots.json", &boots.to_string());
    let out = run(&root, &["--shutdown"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "boot now recorded as ended cleanly\n");
    let after: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(root.path().join("var/lib/lastgasp/boots.json")).unwrap(),
    )
    .unwrap();
    let now = &after["boots"][2];
    assert_eq!(now["boot_id"], "now");
    assert!(now["clean_shutdown"].is_string(), "{after}");
    assert!(after["boots"][1]["clean_shutdown"].is_null());
    // The clean end resets the guard's count for the next boot.
    root.file("proc/sys/kernel/random/boot_id", "next\n");
    let json = json_of(&run(&root, &["--dry-run", "--json"]));
    assert_eq!(json["guard"]["unclean-in-a-row"], 0);
}

#[test]
fn arm_for_real_under_a_fake_root_is_refused() {
    let root = armed_root("pstore", "\"ramoops\"");
    let out = run(&root, &["--boot"]);
    assert_one_line_error(&out, &["works only with --dry-run"]);
    assert!(!root.path().join("var/lib/lastgasp/boots.json").exists());
}

#[test]
fn arm_a_damaged_setup_json_names_the_file() {
    let root = armed_root("pstore", "\"ramoops\"");
    root.file("var/lib/lastgasp/setup.json", "{\"version\":1,");
    let out = run(&root, &["--dry-run"]);
    assert_one_line_error(&out, &["setup.json", "run `lastgasp setup` again"]);
}
