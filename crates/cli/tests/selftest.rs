//! `lastgasp selftest` on fake roots, across a simulated reboot (a new boot id): the canary is
//! written where the backend keeps it, `lastgasp save` at the next boot makes no report of it,
//! removes it and marks the selftest passed; without it the selftest fails with the reason.

mod common;

use std::fs;

use common::{FakeRoot, stderr_of, stdout_of};

const EFI_GUID: &str = "cfc8fc79-be2e-4ddc-97f0-9f98bfe298a0";

fn setup_json(backend: &str) -> String {
    let ramoops = if backend == "ramoops" {
        serde_json::json!({"placement":"memmap","address":1056964608u64,"size":1048576,
                           "record_size":65536,"mem_name":null})
    } else {
        serde_json::Value::Null
    };
    serde_json::json!({
        "version": 1, "mode": "pstore", "backend": backend, "bootloader": "grub",
        "kernel_params": [], "ramoops": ramoops, "blk": null, "crashkernel": null,
        "sysctl": {}, "files": [], "pending_commands": [],
    })
    .to_string()
}

fn machine(backend: &str, kernel_name: &str) -> FakeRoot {
    let root = FakeRoot::new();
    root.file("var/lib/lastgasp/setup.json", &setup_json(backend));
    root.file(
        "sys/module/pstore/parameters/backend",
        &format!("{kernel_name}\n"),
    );
    root.file("proc/sys/kernel/random/boot_id", "boot-1\n");
    root.file("dev/kmsg", "");
    root
}

fn ramoops_at(root: &FakeRoot, address: u64) {
    for (name, value) in [
        ("mem_address", address.to_string()),
        ("mem_size", "1048576".into()),
        ("record_size", "65536".into()),
        ("max_reason", "2".into()),
    ] {
        root.file(
            &format!("sys/module/ramoops/parameters/{name}"),
            &format!("{value}\n"),
        );
    }
}

fn state(root: &FakeRoot) -> serde_json::Value {
    let text = fs::read_to_string(root.path().join("var/lib/lastgasp/selftest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn efi_canary_survives_the_reboot_and_makes_no_report() {
    let root = machine("efi", "efi_pstore");
    fs::create_dir_all(root.path().join("sys/firmware/efi/efivars")).unwrap();
    let output = root.cmd().args(["selftest", "--json"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let started: serde_json::Value = serde_json::from_str(&stdout_of(&output)).unwrap();
    assert_eq!(started["action"], "started");
    let pending = state(&root);
    assert_eq!(pending["outcome"], "pending");
    assert_eq!(pending["method"], "efi-variable");
    assert_eq!(pending["boot-id"], "boot-1");
    let id = pending["id"].as_str().unwrap().to_string();

    // The variable, as efivarfs holds it: efi-pstore's name and the attributes first.
    let vars: Vec<_> = fs::read_dir(root.path().join("sys/firmware/efi/efivars"))
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(vars.len(), 1);
    let name = vars[0].file_name().into_string().unwrap();
    assert!(name.starts_with("dump-type0-1-1-"), "{name}");
    assert!(name.ends_with(&format!("-D-{EFI_GUID}")), "{name}");
    let bytes = fs::read(vars[0].path()).unwrap();
    assert_eq!(&bytes[..4], &[7, 0, 0, 0]);
    let data = &bytes[4..];
    assert!(String::from_utf8_lossy(data).contains(&format!("lastgasp-selftest-canary {id}")));

    // Before the reboot, selftest says it waits.
    let output = root.cmd().arg("selftest").output().unwrap();
    assert!(output.status.success());
    assert!(
        stdout_of(&output).contains("pending, waiting for the reboot"),
        "{}",
        stdout_of(&output)
    );

    // The next boot: efi-pstore shows the variable as a dmesg record.
    root.file("proc/sys/kernel/random/boot_id", "boot-2\n");
    root.record("dmesg-efi_pstore-176457600001001", data, None);
    let output = root.cmd().args(["save", "--json"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let saved: serde_json::Value = serde_json::from_str(&stdout_of(&output)).unwrap();
    assert_eq!(saved["reports"], serde_json::json!([]));
    assert!(root.pstore_files().is_empty());
    assert!(root.report_ids().is_empty());
    let passed = state(&root);
    assert_eq!(passed["outcome"], "passed");
    assert!(
        passed["detail"]
            .as_str()
            .unwrap()
            .starts_with("survives a reboot")
    );

    let output = root.cmd().arg("selftest").output().unwrap();
    assert!(output.status.success());
    let text = stdout_of(&output);
    assert!(text.contains(&format!("selftest {id} (efi")), "{text}");
    assert!(text.contains("passed: survives a reboot"), "{text}");
}

#[test]
fn a_moved_ramoops_region_fails_with_the_reason() {
    let root = machine("ramoops", "ramoops");
    ramoops_at(&root, 0x3f00_0000);
    let output = root.cmd().arg("selftest").output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let text = stdout_of(&output);
    // Under --root the module reload is named, not done.
    assert!(
        text.contains("not run under --root: rmmod ramoops"),
        "{text}"
    );
    assert!(
        text.contains(
            "insmod ramoops mem_address=0x3f000000 mem_size=0x100000 record_size=0x10000"
        ),
        "{text}"
    );
    assert!(text.contains("max_reason=4"), "{text}");
    let pending = state(&root);
    assert_eq!(pending["method"], "shutdown-dump");
    assert_eq!(pending["ramoops-address"], 0x3f00_0000u64);
    let kmsg = fs::read_to_string(root.path().join("dev/kmsg")).unwrap();
    assert_eq!(
        kmsg,
        format!(
            "<5>lastgasp-selftest-canary {}\n",
            pending["id"].as_str().unwrap()
        )
    );

    // The next boot placed the region elsewhere and found nothing.
    root.file("proc/sys/kernel/random/boot_id", "boot-2\n");
    ramoops_at(&root, 0x3ed0_0000);
    root.cmd().arg("save").assert().success();
    let failed = state(&root);
    assert_eq!(failed["outcome"], "failed");
    let detail = failed["detail"].as_str().unwrap();
    assert!(
        detail.contains("moved from 0x3f000000 to 0x3ed00000"),
        "{detail}"
    );

    let output = root.cmd().arg("selftest").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout_of(&output).contains("failed: the canary did not come back"),
        "{}",
        stdout_of(&output)
    );
    // status shows it as the reason it is not armed.
    let output = root.cmd().arg("status").output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stdout_of(&output).contains("! the last selftest failed"),
        "{}",
        stdout_of(&output)
    );
}

#[test]
fn a_ramoops_shutdown_dump_passes_the_selftest_and_a_crash_is_still_reported() {
    let root = machine("ramoops", "ramoops");
    ramoops_at(&root, 0x3f00_0000);
    root.cmd().arg("selftest").assert().success();
    let id = state(&root)["id"].as_str().unwrap().to_string();
    root.file("proc/sys/kernel/random/boot_id", "boot-2\n");
    let dump = format!(
        "Shutdown#1 Part1\n<5>[   20.100000] lastgasp-selftest-canary {id}\n<6>[   21.000000] reboot: Restarting system\n"
    );
    root.record("dmesg-ramoops-0", dump.as_bytes(), None);
    let crash = fs::read(common::lab_dir("ramoops").join("dmesg-ramoops-0")).unwrap();
    root.record("dmesg-ramoops-1", &crash, None);
    root.cmd().arg("save").assert().success();
    assert_eq!(state(&root)["outcome"], "passed");
    // The crash beside the canary became a report; the canary did not.
    assert_eq!(root.report_ids().len(), 1);
    assert!(root.pstore_files().is_empty());
}

#[test]
fn erst_is_asked_for_the_kernels_dump_at_reboot() {
    let root = machine("erst", "erst");
    // A kernel without the switch: only a real crash can test ERST.
    let output = root.cmd().arg("selftest").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr_of(&output).contains("`lastgasp selftest --crash`"),
        "{}",
        stderr_of(&output)
    );
    assert!(!root.path().join("var/lib/lastgasp/selftest.json").exists());

    root.file("sys/module/printk/parameters/always_kmsg_dump", "N\n");
    root.cmd().arg("selftest").assert().success();
    let switch = root
        .path()
        .join("sys/module/printk/parameters/always_kmsg_dump");
    assert_eq!(fs::read_to_string(switch).unwrap(), "Y\n");
    let pending = state(&root);
    assert_eq!(pending["method"], "shutdown-dump");
    let kmsg = fs::read_to_string(root.path().join("dev/kmsg")).unwrap();
    assert!(kmsg.contains(pending["id"].as_str().unwrap()), "{kmsg}");
    // ERST splits the dump: every part of the shutdown dump goes, none becomes a report.
    root.file("proc/sys/kernel/random/boot_id", "boot-2\n");
    let id = pending["id"].as_str().unwrap();
    root.record(
        "dmesg-erst-7714248377331875841",
        format!("Shutdown#1 Part1\n<13>[    4.7] lastgasp-selftest-canary {id}\n").as_bytes(),
        None,
    );
    root.record(
        "dmesg-erst-7714248377331875842",
        b"Shutdown#1 Part2\n<6>[    0.0] Linux version\n",
        None,
    );
    root.cmd().arg("save").assert().success();
    assert_eq!(state(&root)["outcome"], "passed");
    assert!(root.pstore_files().is_empty());
    assert!(root.report_ids().is_empty());
}

#[test]
fn a_backend_other_than_setups_is_refused() {
    let root = machine("efi", "ramoops");
    let output = root.cmd().arg("selftest").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr_of(&output).contains("setup chose the efi backend but ramoops is registered"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn crash_needs_a_confirmation_then_writes_sysrq_c() {
    let root = machine("erst", "erst");
    root.file("proc/sysrq-trigger", "");
    // No terminal and no --yes: refused, nothing recorded.
    let output = root.cmd().args(["selftest", "--crash"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr_of(&output).contains("add --yes"),
        "{}",
        stderr_of(&output)
    );
    assert!(!root.path().join("var/lib/lastgasp/selftest.json").exists());
    assert_eq!(
        fs::read_to_string(root.path().join("proc/sysrq-trigger")).unwrap(),
        ""
    );

    root.cmd()
        .args(["selftest", "--crash", "--yes"])
        .assert()
        .success();
    assert_eq!(
        fs::read_to_string(root.path().join("proc/sysrq-trigger")).unwrap(),
        "c"
    );
    let pending = state(&root);
    assert_eq!(pending["method"], "crash");
    assert_eq!(pending["backend"], "erst");
    let id = pending["id"].as_str().unwrap().to_string();
    // The crash's record comes back holding the canary: a report, and the selftest passed.
    root.file("proc/sys/kernel/random/boot_id", "boot-2\n");
    let record = format!(
        "Panic#1 Part1\n<5>[   20.100000] lastgasp-selftest-canary {id}\n<0>[   20.500000] Kernel panic - not syncing: sysrq triggered crash\n"
    );
    root.record("dmesg-erst-7", record.as_bytes(), None);
    root.cmd().arg("save").assert().success();
    assert_eq!(root.report_ids().len(), 1);
    assert_eq!(state(&root)["outcome"], "passed");
}

#[test]
fn efi_without_efivarfs_says_so() {
    let root = machine("efi", "efi_pstore");
    // No efivarfs: the machine did not boot through UEFI.
    let output = root.cmd().arg("selftest").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr_of(&output).contains("did not boot through UEFI"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn a_crash_through_kdump_passes_when_the_capture_holds_the_canary() {
    let root = FakeRoot::new();
    root.file(
        "var/lib/lastgasp/setup.json",
        &serde_json::json!({
            "version": 1, "mode": "kdump", "backend": null, "bootloader": "grub",
            "kernel_params": ["crashkernel=256M"], "ramoops": null, "blk": null,
            "crashkernel": "256M", "sysctl": {}, "files": [], "pending_commands": [],
        })
        .to_string(),
    );
    root.file("proc/sys/kernel/random/boot_id", "boot-1\n");
    root.file("dev/kmsg", "");
    root.file("proc/sysrq-trigger", "");
    root.file("sys/kernel/kexec_crash_loaded", "1\n");
    // kdump only: no canary to write without a crash.
    let output = root.cmd().arg("selftest").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr_of(&output).contains("setup armed kdump only"),
        "{}",
        stderr_of(&output)
    );

    root.cmd()
        .args(["selftest", "--crash", "--yes"])
        .assert()
        .success();
    let pending = state(&root);
    assert_eq!(pending["backend"], "kdump");
    let id = pending["id"].as_str().unwrap().to_string();

    // The next boot, no capture at all: failed, saying so.
    root.file("proc/sys/kernel/random/boot_id", "boot-2\n");
    root.cmd().arg("save").assert().success();
    let failed = state(&root);
    assert_eq!(failed["outcome"], "failed");
    assert!(
        failed["detail"]
            .as_str()
            .unwrap()
            .contains("no kdump capture")
    );

    // Again, and this time the capture kernel saved the log holding the canary.
    root.file("proc/sys/kernel/random/boot_id", "boot-3\n");
    root.cmd()
        .args(["selftest", "--crash", "--yes"])
        .assert()
        .success();
    let id2 = state(&root)["id"].as_str().unwrap().to_string();
    assert_ne!(id, id2);
    let capture = root.path().join("var/lib/lastgasp/kdump/20261201T090000Z");
    let log = format!(
        "<5>[   20.100000] lastgasp-selftest-canary {id2}\n<0>[   20.500000] Kernel panic - not syncing: sysrq triggered crash\n"
    );
    root.file("var/lib/lastgasp/kdump/20261201T090000Z/dmesg.txt", &log);
    root.file(
        "var/lib/lastgasp/kdump/20261201T090000Z/capture.json",
        &serde_json::json!({
            "format-version": 1, "tool": "lastgasp 0.1.0", "machine": "x86_64",
            "kernel-release": "6.1.0-57-amd64", "crash-time": 1_796_112_000,
            "vmcore-bytes": 1024, "log-records": 2, "log-complete": true, "dump": null,
        })
        .to_string(),
    );
    root.file("proc/sys/kernel/random/boot_id", "boot-4\n");
    let output = root.cmd().args(["save", "--json"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(root.report_ids().len(), 1, "{}", stdout_of(&output));
    let passed = state(&root);
    assert_eq!(passed["outcome"], "passed", "{passed}");
    assert!(!capture.exists());
}

#[test]
fn blk_takes_a_pmsg_canary_or_says_only_a_crash_tests_it() {
    let root = machine("blk", "pstore_blk");
    let output = root.cmd().arg("selftest").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let error = stderr_of(&output);
    assert!(error.contains("after the disk is shut down"), "{error}");
    assert!(error.contains("`lastgasp selftest --crash`"), "{error}");
    // A kernel with pmsg: the canary goes through /dev/pmsg0.
    root.file("dev/pmsg0", "");
    root.cmd().arg("selftest").assert().success();
    let pending = state(&root);
    assert_eq!(pending["method"], "pmsg");
    let written = fs::read_to_string(root.path().join("dev/pmsg0")).unwrap();
    assert_eq!(
        written,
        format!(
            "lastgasp-selftest-canary {}\n",
            pending["id"].as_str().unwrap()
        )
    );
    root.file("proc/sys/kernel/random/boot_id", "boot-2\n");
    root.record("pmsg-pstore_blk-0", written.as_bytes(), None);
    root.cmd().arg("save").assert().success();
    assert_eq!(state(&root)["outcome"], "passed");
    assert!(root.pstore_files().is_empty());
}
