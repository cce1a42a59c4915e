//! kdump from the user's side, on the lab's real vmcores (Debian 6.1 and 6.12 kernels crashed by
//! the crash-test module's NULL write, cut to the pages the log needs): `dmesg` prints what
//! makedumpfile prints, `capture` writes the log and a dump that `dmesg` reads back, and `save`
//! turns the capture into a report with the same signature as the pstore capture of the same
//! crash kind.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{FakeRoot, assert_schema_valid, stderr_of, stdout_of};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/vmcore")
        .join(name)
}

fn golden_signature(kind: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/kmsg/x86_64")
        .join(kind)
        .join("expected.json");
    let golden: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    golden["signature"].as_str().unwrap().to_string()
}

const KDUMP_FIXTURES: [&str; 2] = ["kdump-x86_64-6.1", "kdump-x86_64-6.12-busy"];

#[test]
fn dmesg_prints_what_makedumpfile_prints() {
    let root = FakeRoot::new();
    for name in KDUMP_FIXTURES {
        let dir = fixture(name);
        let out = root
            .cmd()
            .arg("dmesg")
            .arg(dir.join("vmcore.dmesg-pages.elf"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", stderr_of(&out));
        let expected = fs::read(dir.join("dmesg.makedumpfile.txt")).unwrap();
        assert!(
            out.stdout == expected,
            "{name}: log differs from makedumpfile's"
        );
    }
}

#[test]
fn dmesg_reads_qemu_dumps_that_makedumpfile_refuses() {
    let root = FakeRoot::new();
    for name in ["qemu-x86_64-6.1", "qemu-x86_64-6.12"] {
        let dir = fixture(name);
        let out = root
            .cmd()
            .args(["dmesg", "--json"])
            .arg(dir.join("vmcore.dmesg-pages.elf"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", stderr_of(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["machine"], "x86_64");
        assert_eq!(json["complete"], true, "{name}");
        let texts: Vec<&str> = json["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["text"].as_str().unwrap())
            .collect();
        // vmcore-dmesg prints `<N>` levels; the texts themselves must all be there, in order.
        let theirs = fs::read_to_string(dir.join("dmesg.vmcore-dmesg.txt")).unwrap();
        let first_panic = texts
            .iter()
            .position(|t| t.starts_with("Kernel panic - not syncing"))
            .expect("the panic line is in the log");
        assert!(theirs.contains(texts[first_panic]), "{name}");
        assert!(
            texts.iter().any(|t| t.contains("lastgasp_null_write")),
            "{name}"
        );
    }
}

#[test]
fn dmesg_errors_name_the_file() {
    let root = FakeRoot::new();
    let bad = root.file("not-a-vmcore", "hello\n");
    let out = root.cmd().arg("dmesg").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("not-a-vmcore"), "{err}");
    assert!(err.contains("not a vmcore"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let whole = fs::read(fixture("kdump-x86_64-6.1").join("vmcore.dmesg-pages.elf")).unwrap();
    let cut = root.path().join("truncated.elf");
    fs::write(&cut, &whole[..whole.len() / 3]).unwrap();
    let out = root.cmd().arg("dmesg").arg(&cut).output().unwrap();
    let err = stderr_of(&out);
    assert!(err.contains("truncated.elf"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Captures `vmcore` offline into `out` with extra arguments; returns the capture directory.
fn capture(root: &FakeRoot, vmcore: &Path, out: &Path, extra: &[&str]) -> PathBuf {
    let result = root
        .cmd()
        .args(["capture", "--vmcore"])
        .arg(vmcore)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr_of(&result));
    let dirs: Vec<PathBuf> = fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

#[test]
fn capture_writes_the_log_and_a_dump_that_reads_back() {
    let root = FakeRoot::new();
    let dir = fixture("kdump-x86_64-6.1");
    let out = root.path().join("captures");
    // The cut vmcore lacks the page structs, so level 1 (zero pages only) is the filter here.
    let capture_dir = capture(
        &root,
        &dir.join("vmcore.dmesg-pages.elf"),
        &out,
        &["--dump-level", "1", "--compression", "zlib"],
    );
    let expected = fs::read(dir.join("dmesg.makedumpfile.txt")).unwrap();
    assert!(fs::read(capture_dir.join("dmesg.txt")).unwrap() == expected);
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(capture_dir.join("capture.json")).unwrap()).unwrap();
    assert_eq!(manifest["kernel-release"], "6.1.0-57-amd64");
    assert_eq!(manifest["log-complete"], true);
    assert_eq!(manifest["dump"]["complete"], true);
    assert_eq!(manifest["dump"]["level"], 1);
    assert_eq!(manifest["dump"]["compression"], "zlib");
    assert!(!capture_dir.join("vmcore.kdump.part").exists());

    // The sub-header's phys_base is the kernel's, as makedumpfile places the kernel image by it.
    let dump = fs::read(capture_dir.join("vmcore.kdump")).unwrap();
    let block_size = u32::from_le_bytes(dump[428..432].try_into().unwrap()) as usize;
    let phys_base = u64::from_le_bytes(dump[block_size..block_size + 8].try_into().unwrap());
    let vmcore = fs::read(dir.join("vmcore.dmesg-pages.elf")).unwrap();
    let text = String::from_utf8_lossy(&vmcore);
    let number: i64 = text
        .split("NUMBER(phys_base)=")
        .nth(1)
        .and_then(|rest| rest.split('\n').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(phys_base, number as u64);

    let again = root
        .cmd()
        .arg("dmesg")
        .arg(capture_dir.join("vmcore.kdump"))
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr_of(&again));
    assert!(
        again.stdout == expected,
        "the dump's log differs from the vmcore's"
    );
}

#[test]
fn dmesg_only_writes_no_dump() {
    let root = FakeRoot::new();
    let out = root.path().join("captures");
    let capture_dir = capture(
        &root,
        &fixture("kdump-x86_64-6.12-busy").join("vmcore.dmesg-pages.elf"),
        &out,
        &["--dmesg-only", "--json"],
    );
    let names: Vec<String> = fs::read_dir(&capture_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["capture.json", "dmesg.txt"]);
}

#[test]
fn pages_the_filter_cannot_classify_are_kept_and_said() {
    let root = FakeRoot::new();
    let out = root.path().join("captures");
    let result = root
        .cmd()
        .args(["capture", "--vmcore"])
        .arg(fixture("kdump-x86_64-6.1").join("vmcore.dmesg-pages.elf"))
        .arg("--out")
        .arg(&out)
        .args(["--dump-level", "31"])
        .output()
        .unwrap();
    // The page structs are not in the cut vmcore: like makedumpfile, the filter keeps what it
    // cannot classify, and the capture says so.
    assert!(result.status.success(), "{}", stderr_of(&result));
    let capture_dir = fs::read_dir(&out).unwrap().next().unwrap().unwrap().path();
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(capture_dir.join("capture.json")).unwrap()).unwrap();
    assert_eq!(manifest["log-complete"], true);
    assert_eq!(manifest["dump"]["complete"], true);
    let warnings = manifest["warnings"].to_string();
    assert!(warnings.contains("were kept"), "{warnings}");
}

#[test]
fn save_makes_a_kdump_report_with_the_pstore_signature() {
    let golden = golden_signature("null");
    for name in KDUMP_FIXTURES {
        let root = FakeRoot::new();
        let kdump_dir = root.path().join("var/lib/lastgasp/kdump");
        let capture_dir = capture(
            &root,
            &fixture(name).join("vmcore.dmesg-pages.elf"),
            &kdump_dir,
            &["--dump-level", "0", "--compression", "none"],
        );
        let out = root.cmd().args(["save", "--json"]).output().unwrap();
        assert!(out.status.success(), "{name}: {}", stderr_of(&out));
        let saved: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
        let report = &saved["reports"][0];
        assert_eq!(report["signature"], golden.as_str(), "{name}");
        assert_eq!(report["backend"], "kdump");
        assert!(
            !capture_dir.exists(),
            "{name}: the capture is gone once saved"
        );

        let ids = root.report_ids();
        assert_eq!(ids.len(), 1);
        let manifest = root.manifest(&ids[0]);
        assert_schema_valid(&manifest);
        assert_eq!(manifest["source"], "kdump");
        assert_eq!(manifest["kdump"]["dump"]["level"], 0);
        let files: Vec<(&str, bool)> = manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["name"].as_str().unwrap(), f["dump"] == true))
            .collect();
        assert_eq!(files, [("dmesg.txt", false), ("vmcore.kdump", true)]);
        let report_dir = root.reports().join(&ids[0]);
        let dmesg = root
            .cmd()
            .arg("dmesg")
            .arg(report_dir.join("vmcore.kdump"))
            .output()
            .unwrap();
        assert!(dmesg.stdout == fs::read(report_dir.join("dmesg.txt")).unwrap());

        let show = root.cmd().args(["show", &ids[0]]).output().unwrap();
        let show = stdout_of(&show);
        assert!(show.contains("Source        kdump"), "{show}");
        assert!(
            show.contains("Dump          vmcore.kdump: level 0, none,"),
            "{show}"
        );

        // Nothing left to collect: a second save is quiet and writes nothing.
        let again = root.cmd().arg("save").output().unwrap();
        assert!(again.status.success());
        assert_eq!(stdout_of(&again), "");
        assert_eq!(root.report_ids(), ids);
    }
}

#[test]
fn save_salvages_the_log_of_a_capture_that_died() {
    let root = FakeRoot::new();
    let dead = root
        .path()
        .join("var/lib/lastgasp/kdump/.capture-20261201T000000Z-0badc0de");
    fs::create_dir_all(&dead).unwrap();
    let log = fs::read(fixture("kdump-x86_64-6.1").join("dmesg.makedumpfile.txt")).unwrap();
    fs::write(dead.join("dmesg.txt"), &log).unwrap();
    let out = root.cmd().args(["save", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let saved: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(saved["reports"][0]["partial"], true);
    assert_eq!(saved["reports"][0]["signature"], golden_signature("null"));
    assert!(!dead.exists());
}

/// A dump target that fills up: a 200 KiB tmpfs (in a private mount namespace, so the test needs
/// root, which CI has) holds the 27 KiB log but not the 640 KiB dump. The log is complete, the
/// dump is kept as far as it got and marked incomplete, and the one-line error says so.
#[test]
fn a_full_target_keeps_the_log_and_marks_the_dump_incomplete() {
    let root = FakeRoot::new();
    let out = root.path().join("small");
    fs::create_dir_all(&out).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("lastgasp");
    let vmcore = fixture("kdump-x86_64-6.1").join("vmcore.dmesg-pages.elf");
    let script = "DIR=\"$1\"; shift; mount -t tmpfs -o size=200k tmpfs \"$DIR\" || exit 99; \
                  \"$@\"; rc=$?; cp -r \"$DIR\"/. \"$DIR.copy\"; exit $rc";
    let result = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", script, "sh"])
        .arg(&out)
        .arg(&bin)
        .env("LASTGASP_LOG_TARGET", "stderr")
        .args([
            "capture",
            "--dump-level",
            "0",
            "--compression",
            "none",
            "--vmcore",
        ])
        .arg(&vmcore)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("unshare (util-linux) runs this test");
    let err = stderr_of(&result);
    assert_ne!(
        result.status.code(),
        Some(99),
        "cannot mount a tmpfs in a private mount namespace (needs root): {err}"
    );
    assert_eq!(result.status.code(), Some(1), "{err}");
    let last = err.trim_end().lines().last().unwrap();
    assert!(last.starts_with("error: log saved in"), "{err}");
    assert!(last.contains("No space left on device"), "{err}");

    let copy = root.path().join("small.copy");
    let capture_dir = fs::read_dir(&copy).unwrap().next().unwrap().unwrap().path();
    let log = fs::read(fixture("kdump-x86_64-6.1").join("dmesg.makedumpfile.txt")).unwrap();
    assert!(fs::read(capture_dir.join("dmesg.txt")).unwrap() == log);
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(capture_dir.join("capture.json")).unwrap()).unwrap();
    assert_eq!(manifest["dump"]["complete"], false);
    // The disk was too full to rewrite the manifest: the one written before the dump says it.
    assert_eq!(
        manifest["dump"]["error"],
        "the capture stopped while writing the dump"
    );
    assert!(capture_dir.join("vmcore.kdump.part").is_file());
    assert!(!capture_dir.join("vmcore.kdump").exists());

    // The next boot saves it as a partial report, the part file kept as the dump.
    let kdump_dir = root.path().join("var/lib/lastgasp/kdump");
    fs::create_dir_all(&kdump_dir).unwrap();
    fs::rename(
        &capture_dir,
        kdump_dir.join(capture_dir.file_name().unwrap()),
    )
    .unwrap();
    let saved = root.cmd().args(["save", "--json"]).output().unwrap();
    assert!(saved.status.success(), "{}", stderr_of(&saved));
    let saved: serde_json::Value = serde_json::from_str(&stdout_of(&saved)).unwrap();
    assert_eq!(saved["reports"][0]["partial"], true);
    let manifest = root.manifest(&root.report_ids()[0]);
    assert_eq!(manifest["kdump"]["dump"]["complete"], false);
    assert_schema_valid(&manifest);
}
