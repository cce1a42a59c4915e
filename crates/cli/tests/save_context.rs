//! `save` adds context to a report from a fake root: the OS release, DMI product and BIOS, the
//! pstore set-up, the running kernel's version where no package can be asked, and, when
//! configured, a journal tail, which under a fake root is missing because journalctl is not run
//! there. Every manifest is checked against the schema, and `show` prints the context.

mod common;

use common::{FakeRoot, assert_schema_valid, stdout_of};

/// A fake system with the files the collectors read, and the lab's ramoops crash in pstore.
fn machine() -> FakeRoot {
    let root = FakeRoot::new();
    root.lab_records("ramoops");
    root.file(
        "etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
    );
    root.file("sys/class/dmi/id/sys_vendor", "QEMU\n");
    root.file("sys/class/dmi/id/bios_version", "1.16.2-debian-1.16.2-1\n");
    root.file("sys/class/dmi/id/product_serial", "SERIAL-42\n");
    root.file(
        "sys/class/dmi/id/product_uuid",
        "1e2b6a0c-0000-4000-8000-000000000042\n",
    );
    root.file("sys/module/pstore/parameters/backend", "ramoops\n");
    root.file("sys/module/ramoops/parameters/mem_size", "1048576\n");
    root.file(
        "proc/version",
        "Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP\n",
    );
    root
}

fn item<'a>(manifest: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    manifest["context"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {manifest}"))
}

#[test]
fn a_report_carries_the_context_read_after_the_crash() {
    let root = machine();
    root.cmd().arg("save").assert().success();
    let ids = root.report_ids();
    assert_eq!(ids.len(), 1);
    let m = root.manifest(&ids[0]);
    assert_schema_valid(&m);
    let kinds: Vec<&str> = m["context"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["os-release", "kernel-package", "dmi", "firmware"]);
    for item in m["context"].as_array().unwrap() {
        assert_eq!(item["collected-after-crash"], true, "{item}");
    }
    assert_eq!(item(&m, "os-release")["facts"]["VERSION_ID"], "12");
    assert_eq!(item(&m, "os-release")["describes"], "this-boot");
    assert_eq!(
        item(&m, "dmi")["facts"]["bios_version"],
        "1.16.2-debian-1.16.2-1"
    );
    assert_eq!(item(&m, "firmware")["facts"]["ramoops.mem_size"], "1048576");
    // No dpkg is asked under a fake root: the running kernel stands in, marked as such.
    let kernel = item(&m, "kernel-package");
    assert_eq!(kernel["describes"], "this-boot");
    assert!(
        kernel["facts"]["running-kernel"]
            .as_str()
            .unwrap()
            .starts_with("Linux version 6.1.0-56-amd64")
    );
    let text = m.to_string();
    assert!(
        !text.contains("SERIAL-42") && !text.contains("1e2b6a0c"),
        "{text}"
    );

    let shown = stdout_of(&root.cmd().args(["show", &ids[0]]).output().unwrap());
    assert!(
        shown.contains(
            "Context       os-release (read after the crash, of this boot): \
             ID=debian, PRETTY_NAME=Debian GNU/Linux 12 (bookworm), VERSION_ID=12"
        ),
        "{shown}"
    );
    assert!(shown.contains("Context       dmi (read after the crash, of this boot): "));
}

#[test]
fn a_configured_journal_tail_under_a_fake_root_is_missing_with_the_reason() {
    let root = machine();
    root.file(
        "etc/lastgasp/lastgasp.toml",
        "[collect]\njournal_tail = 200\ndmi = false\nos_release = false\n",
    );
    root.cmd().arg("save").assert().success();
    let ids = root.report_ids();
    let m = root.manifest(&ids[0]);
    assert_schema_valid(&m);
    let kinds: Vec<&str> = m["context"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["kernel-package", "firmware", "journal-tail"]);
    let journal = item(&m, "journal-tail");
    assert_eq!(journal["describes"], "crashed-boot");
    assert_eq!(
        journal["missing"],
        format!("journalctl: not run under --root {}", root.path().display())
    );
    assert!(journal.get("facts").is_none());
    let shown = stdout_of(&root.cmd().args(["show", &ids[0]]).output().unwrap());
    assert!(
        shown.contains("journal-tail (read after the crash, of the crashed boot): missing: "),
        "{shown}"
    );
}

#[test]
fn collecting_nothing_leaves_no_context_and_a_bad_value_stops_the_save() {
    let root = machine();
    root.file(
        "etc/lastgasp/lastgasp.toml",
        "[collect]\nos_release = false\nkernel_package = false\ndmi = false\nfirmware = false\n",
    );
    root.cmd().arg("save").assert().success();
    let m = root.manifest(&root.report_ids()[0]);
    assert_schema_valid(&m);
    assert!(m.get("context").is_none(), "{m}");

    let root = machine();
    let config = root.file(
        "etc/lastgasp/lastgasp.toml",
        "[collect]\njournal_tail = -1\n",
    );
    let out = root.cmd().arg("save").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:2:16:", config.display())),
        "{err}"
    );
    assert_eq!(root.pstore_files().len(), 2, "records stay where they were");
}
