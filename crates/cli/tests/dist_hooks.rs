//! The distribution hooks in dist/: mkinitcpio's (not in Debian, so run the way mkinitcpio runs
//! it: its build function sourced in bash with recording stand-ins for add_binary, add_file,
//! add_module and add_runscript; its run_hook in busybox's shell under a fake /proc/vmcore) and
//! dracut's (its runtime hook the same way; the module itself with the real dracut in
//! dracut_module.rs).

mod initramfs_fixture;

use std::path::{Path, PathBuf};
use std::process::Command;

use initramfs_fixture::{System, system};

fn dist(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../dist")
        .join(path)
}

/// A `lastgasp` first on PATH that is the real binary pointed at the fake system, as the hooks
/// call it by name.
fn wrapper(dir: &Path, system: &System) -> String {
    let real = assert_cmd::cargo::cargo_bin("lastgasp");
    let script = dir.join("lastgasp");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec {} --root {} \"$@\"\n",
            real.display(),
            system.root.path().display()
        ),
    )
    .unwrap();
    chmod_x(&script);
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn chmod_x(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn mkinitcpio_build_adds_lastgasp_its_settings_and_the_target_modules() {
    let images = tempfile::tempdir().unwrap();
    let system = system(images.path());
    let bin = tempfile::tempdir().unwrap();
    let path = wrapper(bin.path(), &system);
    let saved = images.path().join("added-config.toml");
    let script = format!(
        r#"set -e
add_binary() {{ echo "add_binary $*"; }}
add_file() {{ echo "add_file $2 $3"; cp "$1" "{saved}"; }}
add_module() {{ echo "add_module $*"; }}
add_runscript() {{ echo "add_runscript"; }}
error() {{ echo "error $*" >&2; }}
KERNELVERSION={release}
_d_kmoduledir={root}/lib/modules/{release}
source "{install}"
build
"#,
        saved = saved.display(),
        release = initramfs_fixture::RELEASE,
        root = system.root.path().display(),
        install = dist("mkinitcpio/install/lastgasp").display(),
    );
    let output = Command::new("bash")
        .args(["-c", &script])
        .env("PATH", &path)
        .env("LASTGASP_LOG_TARGET", "stderr")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let calls = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        calls,
        "add_binary lastgasp\n\
         add_file /etc/lastgasp/lastgasp.toml 0644\n\
         add_module virtio_blk\nadd_module fat\nadd_module vfat\nadd_module nls_cp437\n\
         add_module nls_utf8\n\
         add_runscript\n"
    );
    let config: toml::Table = toml::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(
        config["kdump"]["target"].as_str(),
        Some(format!("UUID={}", system.fat_uuid).as_str())
    );
    assert_eq!(config["kdump"]["dir"].as_str(), Some("/crash"));
}

#[test]
fn mkinitcpio_build_fails_when_the_target_cannot_be_found() {
    let images = tempfile::tempdir().unwrap();
    let system = system(images.path());
    std::fs::write(
        system.root.path().join("etc/lastgasp/lastgasp.toml"),
        "[kdump]\ntarget = \"LABEL=nowhere\"\n",
    )
    .unwrap();
    let bin = tempfile::tempdir().unwrap();
    let path = wrapper(bin.path(), &system);
    let script = format!(
        "add_binary() {{ :; }}\nadd_file() {{ echo added; }}\nadd_module() {{ echo added; }}\n\
         add_runscript() {{ echo added; }}\nerror() {{ echo \"error $*\" >&2; }}\n\
         KERNELVERSION={}\nsource \"{}\"\nbuild\n",
        initramfs_fixture::RELEASE,
        dist("mkinitcpio/install/lastgasp").display()
    );
    let output = Command::new("bash")
        .args(["-c", &script])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no block device holds LABEL=nowhere"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error lastgasp: cannot work out the capture target"),
        "{stderr}"
    );
}

/// Runs a runtime hook in busybox's shell (what both mkinitcpio's and dracut's init are close
/// to) inside a private mount namespace whose /proc is a tmpfs, with or without a vmcore file
/// there; every command the hook runs is a stand-in that records its arguments. Returns the
/// record and what the hook wrote to /proc/sysrq-trigger.
fn run_hook(
    hook: &Path,
    call: &str,
    stubs: &str,
    vmcore: bool,
    capture_status: u8,
) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // busybox's shell runs its own sync, as the initramfs' does; the rest are stand-ins.
    for command in ["lastgasp", "reboot", "udevadm"] {
        let status = if command == "lastgasp" {
            capture_status
        } else {
            0
        };
        let stub = bin.join(command);
        std::fs::write(
            &stub,
            format!(
                "#!/bin/sh\necho \"{command} $*\" >> {}\nexit {status}\n",
                record.display()
            ),
        )
        .unwrap();
        chmod_x(&stub);
    }
    let sysrq = dir.path().join("sysrq");
    let script = format!(
        "set -e\nmount -t tmpfs none /proc\n{touch}\n\
         {stubs}\n. {hook}\n{call}\ncp /proc/sysrq-trigger {sysrq} 2>/dev/null || true\n",
        touch = if vmcore { "touch /proc/vmcore" } else { "" },
        hook = hook.display(),
        sysrq = sysrq.display(),
    );
    let busybox = Path::new("/bin/busybox");
    assert!(busybox.exists(), "busybox-static is needed for this test");
    let output = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "/bin/busybox",
            "sh",
            "-c",
            &script,
        ])
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin:/usr/sbin:/sbin", bin.display()),
        )
        .env("RECORD", &record)
        .output()
        .expect("unshare (util-linux) is needed for this test");
    assert!(
        output.status.success(),
        "the hook failed (this test needs root for its mount namespace): {output:?}"
    );
    let record = std::fs::read_to_string(&record).unwrap_or_default();
    let sysrq = std::fs::read_to_string(&sysrq).unwrap_or_default();
    (record, sysrq)
}

/// The init's logging functions the hooks call, recording in the same place.
const MKINITCPIO_STUBS: &str =
    "msg() { echo \"msg $*\" >> \"$RECORD\"; }\nerr() { echo \"err $*\" >> \"$RECORD\"; }";
const DRACUT_STUBS: &str =
    "info() { echo \"info $*\" >> \"$RECORD\"; }\nwarn() { echo \"warn $*\" >> \"$RECORD\"; }";

#[test]
fn mkinitcpio_run_hook_captures_and_reboots_only_in_a_capture_kernel() {
    let hook = dist("mkinitcpio/hooks/lastgasp");
    let (record, sysrq) = run_hook(&hook, "run_hook", MKINITCPIO_STUBS, true, 0);
    assert_eq!(
        record,
        "msg :: lastgasp: /proc/vmcore present, capturing the crashed kernel's log\n\
         udevadm settle --timeout=30\nlastgasp capture\nreboot -f\n"
    );
    // The last resort after reboot, harmless here: /proc is the test's own tmpfs.
    assert_eq!(sysrq, "b\n");
    let (record, sysrq) = run_hook(&hook, "run_hook", MKINITCPIO_STUBS, false, 0);
    assert_eq!((record.as_str(), sysrq.as_str()), ("", ""));
}

#[test]
fn mkinitcpio_run_hook_reboots_even_when_capture_fails() {
    let hook = dist("mkinitcpio/hooks/lastgasp");
    let (record, _) = run_hook(&hook, "run_hook", MKINITCPIO_STUBS, true, 3);
    assert!(
        record.contains("err lastgasp: capture failed (exit status 3)\n"),
        "{record}"
    );
    assert!(record.ends_with("reboot -f\n"), "{record}");
}

#[test]
fn dracut_hook_captures_and_reboots_only_in_a_capture_kernel() {
    let hook = dist("dracut/99lastgasp/lastgasp-capture.sh");
    let (record, sysrq) = run_hook(&hook, ":", DRACUT_STUBS, true, 0);
    assert_eq!(
        record,
        "info lastgasp: /proc/vmcore present, capturing the crashed kernel's log\n\
         udevadm settle --timeout=30\nlastgasp capture\nreboot -f\n"
    );
    assert_eq!(sysrq, "b\n");
    let (record, _) = run_hook(&hook, ":", DRACUT_STUBS, true, 1);
    assert!(
        record.contains("warn lastgasp: capture failed (exit status 1)\n"),
        "{record}"
    );
    let (record, sysrq) = run_hook(&hook, ":", DRACUT_STUBS, false, 0);
    assert_eq!((record.as_str(), sysrq.as_str()), ("", ""));
}
