//! `lastgasp status` on fake roots: the one screen and its JSON against golden files, and the
//! exit status (0 armed, 3 not armed). Refresh the goldens with
//! `UPDATE_GOLDEN=1 cargo test -p lastgasp --test status`, then read the diff.

mod common;

use std::fs;

use common::{FakeRoot, stdout_of};

/// setup.json as `lastgasp setup` writes it (the shared field names of issue 7).
fn setup_json(mode: &str, backend: &str, params: &[&str], crashkernel: Option<&str>) -> String {
    let ramoops = if backend == "ramoops" {
        r#"{"placement":"memmap","address":1056964608,"size":1048576,"record_size":65536,"mem_name":null}"#
    } else {
        "null"
    };
    let backend = if backend.is_empty() {
        "null".to_string()
    } else {
        format!("\"{backend}\"")
    };
    serde_json::json!({
        "version": 1,
        "mode": mode,
        "backend": serde_json::from_str::<serde_json::Value>(&backend).unwrap(),
        "bootloader": "grub",
        "kernel_params": params,
        "ramoops": serde_json::from_str::<serde_json::Value>(ramoops).unwrap(),
        "blk": null,
        "crashkernel": crashkernel,
        "sysctl": {"kernel.panic_on_oops": "1", "kernel.panic": "10"},
        "files": [],
        "pending_commands": [],
    })
    .to_string()
}

const IOMEM: &str = "\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
00100000-3effffff : System RAM
  1a000000-1b002596 : Kernel code
3f000000-3f0fffff : reserved
3f100000-3ffdffff : System RAM
";

/// A machine armed for pstore through ramoops, the way setup, a reboot and load leave it.
fn ramoops_machine() -> FakeRoot {
    let root = FakeRoot::new();
    let params = ["memmap=1M\\$0x3f000000", "pstore.backend=ramoops"];
    root.file(
        "var/lib/lastgasp/setup.json",
        &setup_json("pstore", "ramoops", &params, None),
    );
    root.file("sys/module/pstore/parameters/backend", "ramoops\n");
    for (name, value) in [
        ("mem_address", "1056964608"),
        ("mem_size", "1048576"),
        ("record_size", "65536"),
        ("console_size", "0"),
        ("ftrace_size", "0"),
        ("pmsg_size", "0"),
        ("ecc", "0"),
        ("max_reason", "2"),
    ] {
        root.file(
            &format!("sys/module/ramoops/parameters/{name}"),
            &format!("{value}\n"),
        );
    }
    root.file("proc/iomem", IOMEM);
    root.file(
        "proc/cmdline",
        "BOOT_IMAGE=/vmlinuz root=/dev/vda1 memmap=1M$0x3f000000 pstore.backend=ramoops quiet\n",
    );
    root.file("proc/sys/kernel/panic_on_oops", "1\n");
    root.file("proc/sys/kernel/panic", "10\n");
    root.file("proc/sys/kernel/random/boot_id", "boot-2\n");
    root.file("sys/kernel/kexec_crash_size", "0\n");
    root.file("sys/kernel/kexec_crash_loaded", "0\n");
    root.file(
        "var/lib/lastgasp/selftest.json",
        r#"{"version":1,"id":"20261201T080000Z-0123abcd","backend":"ramoops","method":"shutdown-dump","boot-id":"boot-1","started":"2026-12-01T08:00:00Z","ramoops-address":1056964608,"outcome":"passed","settled":"2026-12-01T08:01:10Z","detail":"survives a reboot: its canary came back as dmesg-ramoops-0"}"#,
    );
    root
}

/// Runs `status` (text and JSON), compares both with the goldens named `case`, and returns the
/// exit status and the JSON.
fn status(root: &FakeRoot, case: &str) -> (i32, serde_json::Value) {
    let text = root.cmd().arg("status").output().unwrap();
    let json = root.cmd().args(["status", "--json"]).output().unwrap();
    assert_eq!(text.status.code(), json.status.code());
    let shown = |output: &std::process::Output| {
        stdout_of(output).replace(&root.path().display().to_string(), "<root>")
    };
    common::golden("status", &format!("{case}.txt"), &shown(&text));
    common::golden("status", &format!("{case}.json"), &shown(&json));
    (
        text.status.code().unwrap(),
        serde_json::from_str(&stdout_of(&json)).unwrap(),
    )
}

#[test]
fn a_machine_armed_through_ramoops_says_armed_and_exits_0() {
    let root = ramoops_machine();
    root.record(
        "dmesg-ramoops-0",
        &fs::read(common::lab_dir("ramoops").join("dmesg-ramoops-0")).unwrap(),
        Some(1_764_576_000),
    );
    // The crash collected before: a real report, then nothing waiting.
    root.cmd().arg("save").assert().success();
    let (code, json) = status(&root, "ramoops-armed");
    assert_eq!(code, 0);
    assert_eq!(json["armed"], true);
    assert_eq!(json["pstore"]["region"]["iomem"], "reserved");
    assert_eq!(json["problems"], serde_json::json!([]));
    let signature = json["last-crash"]["signature"].as_str().unwrap();
    assert!(signature.contains("lastgasp_null_write"), "{signature}");
}

#[test]
fn nothing_set_up_is_not_armed_and_says_what_to_run() {
    let root = FakeRoot::new();
    root.file("proc/sys/kernel/random/boot_id", "boot-1\n");
    root.file("sys/module/pstore/parameters/backend", "(null)\n");
    let (code, json) = status(&root, "nothing");
    assert_eq!(code, 3);
    assert_eq!(json["armed"], false);
    assert_eq!(json["mode"], serde_json::Value::Null);
    assert_eq!(
        json["problems"][0]["fix"],
        "run `lastgasp setup`, then reboot"
    );
}

#[test]
fn every_broken_part_is_a_problem_with_its_fix() {
    let root = ramoops_machine();
    // setup wants both, with efi and a crash reservation; the boot got none of it.
    root.file(
        "var/lib/lastgasp/setup.json",
        &setup_json(
            "both",
            "efi",
            &["crashkernel=256M", "crash_kexec_post_notifiers"],
            Some("256M"),
        ),
    );
    root.file("sys/module/pstore/parameters/backend", "erst\n");
    root.file("proc/sys/kernel/panic", "0\n");
    root.record("dmesg-erst-7", b"Panic#1 Part1\nx\n", None);
    root.file(
        "var/lib/lastgasp/selftest.json",
        r#"{"version":1,"id":"20261201T080000Z-0123abcd","backend":"efi","method":"efi-variable","boot-id":"boot-1","started":"2026-12-01T08:00:00Z","outcome":"failed","settled":"2026-12-01T08:01:10Z","detail":"the canary did not come back after the reboot: the firmware dropped the UEFI variable"}"#,
    );
    let (code, json) = status(&root, "broken");
    assert_eq!(code, 3);
    let problems: Vec<&str> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["problem"].as_str().unwrap())
        .collect();
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(
        has("the erst backend is registered, not efi"),
        "{problems:#?}"
    );
    assert!(
        has("no memory is reserved for the capture kernel"),
        "{problems:#?}"
    );
    assert!(
        has("lacks what setup wrote: crashkernel=256M crash_kexec_post_notifiers"),
        "{problems:#?}"
    );
    assert!(
        has("sysctl kernel.panic is 0, setup wants 10"),
        "{problems:#?}"
    );
    assert!(has("the last selftest failed"), "{problems:#?}");
    assert!(has("1 record(s) wait in pstore"), "{problems:#?}");
}

#[test]
fn a_ramoops_region_in_usable_ram_is_not_armed() {
    let root = ramoops_machine();
    // The memmap= reservation did not take: the region is plain System RAM.
    root.file("proc/iomem", "00100000-3ffdffff : System RAM\n");
    root.file(
        "proc/cmdline",
        "BOOT_IMAGE=/vmlinuz root=/dev/vda1 pstore.backend=ramoops\n",
    );
    let output = root.cmd().arg("status").output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let text = stdout_of(&output);
    assert!(text.starts_with("lastgasp: NOT ARMED"), "{text}");
    assert!(
        text.contains(
            "the ramoops region 0x3f000000-0x3f0fffff is not reserved (/proc/iomem: System RAM)"
        ),
        "{text}"
    );
    assert!(
        text.contains("lacks what setup wrote: memmap=1M\\$0x3f000000"),
        "{text}"
    );
}

#[test]
fn a_damaged_setup_json_is_named_and_not_armed() {
    let root = ramoops_machine();
    root.file("var/lib/lastgasp/setup.json", "{\"version\": 1");
    let output = root.cmd().arg("status").output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let text = stdout_of(&output);
    assert!(
        text.contains("setup.json is not setup.json as lastgasp writes it"),
        "{text}"
    );
}

#[test]
fn a_tripped_crash_loop_guard_is_shown_with_its_reason() {
    let root = ramoops_machine();
    let boot = |id: &str| {
        serde_json::json!({"boot_id": id, "started": "2026-12-01T08:00:00Z",
                           "release": "6.1.0-57-amd64", "clean_shutdown": null})
    };
    root.file(
        "var/lib/lastgasp/boots.json",
        &serde_json::json!({"version": 1, "boots": [boot("a"), boot("b"), boot("c")]}).to_string(),
    );
    let output = root.cmd().arg("status").output().unwrap();
    let text = stdout_of(&output);
    assert!(
        text.contains("crash loop   ACTIVE: 3 unclean boot ends in a row, pstore only"),
        "{text}"
    );
    // pstore alone is still armed; the guard is a warning there.
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("- crash-loop guard: the last 3 boots ended"),
        "{text}"
    );
}

#[test]
fn a_failed_crash_selftest_through_kdump_is_blocking_for_kdump() {
    let root = ramoops_machine();
    root.file(
        "var/lib/lastgasp/setup.json",
        &setup_json("kdump", "", &["crashkernel=256M"], Some("256M")),
    );
    root.file(
        "proc/cmdline",
        "BOOT_IMAGE=/vmlinuz root=/dev/vda1 crashkernel=256M\n",
    );
    root.file("sys/kernel/kexec_crash_size", "268435456\n");
    root.file("sys/kernel/kexec_crash_loaded", "1\n");
    root.file(
        "var/lib/lastgasp/selftest.json",
        r#"{"version":1,"id":"20261201T080000Z-0123abcd","backend":"kdump","method":"crash","boot-id":"boot-1","started":"2026-12-01T08:00:00Z","outcome":"failed","settled":"2026-12-01T08:01:10Z","detail":"the crash left no kdump capture"}"#,
    );
    let output = root.cmd().args(["status", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_str(&stdout_of(&output)).unwrap();
    let problems = json["problems"].to_string();
    assert!(
        problems.contains("the last selftest failed: the crash left no kdump capture"),
        "{problems}"
    );
    // No pstore is wanted, so no pstore selftest is owed.
    assert!(!problems.contains("has not been tested"), "{problems}");
}
