//! The systemd units in dist/: `systemd-analyze verify` accepts them (with ExecStart pointing at
//! the binary just built, since verify checks that the command exists), and they keep the order
//! arming needs: lastgasp-load.service early and before everything that reads pstore, the save
//! after it, none of them in a capture kernel or a container.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const UNITS: [&str; 5] = [
    "lastgasp-load.service",
    "lastgasp-save.service",
    "lastgasp-kdump.service",
    "lastgasp-submit.service",
    "lastgasp-submit.timer",
];

fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist")
}

fn unit(name: &str) -> String {
    fs::read_to_string(dist().join(name)).unwrap_or_else(|e| panic!("dist/{name}: {e}"))
}

/// Every value of `key` in the unit, words split.
fn values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix(&format!("{key}=")))
        .flat_map(|value| value.split_whitespace().map(str::to_string))
        .collect()
}

#[test]
fn systemd_analyze_verify_accepts_the_units() {
    let dir = tempfile::tempdir().unwrap();
    let binary = env!("CARGO_BIN_EXE_lastgasp");
    let mut paths = Vec::new();
    for name in UNITS {
        let path = dir.path().join(name);
        fs::write(&path, unit(name).replace("/usr/bin/lastgasp", binary)).unwrap();
        paths.push(path);
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&paths)
        .output()
        .unwrap_or_else(|e| panic!("systemd-analyze: {e} (CI installs systemd)"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Units the machine running the test lacks (systemd-pstore on a minimal system) are
    // not ours to judge; anything said about our files is.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("lastgasp"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify: {}\n{stderr}",
        out.status
    );
}

#[test]
fn load_comes_first_and_save_after_it() {
    let load = unit("lastgasp-load.service");
    assert_eq!(values(&load, "DefaultDependencies"), ["no"]);
    let before = values(&load, "Before");
    for unit in [
        "lastgasp-save.service",
        "systemd-pstore.service",
        "modprobe@efi_pstore.service",
        "sysinit.target",
    ] {
        assert!(
            before.iter().any(|b| b == unit),
            "load is not before {unit}"
        );
    }
    assert_eq!(values(&load, "RequiresMountsFor"), ["/var/lib/lastgasp"]);
    assert_eq!(
        values(&load, "ExecStart"),
        ["/usr/bin/lastgasp", "load", "--boot"]
    );
    assert_eq!(
        values(&load, "ExecStop"),
        ["/usr/bin/lastgasp", "load", "--shutdown"]
    );
    assert_eq!(values(&load, "RemainAfterExit"), ["yes"]);
    // Stopped (so ExecStop records the clean end) before the filesystems go.
    assert!(values(&load, "Conflicts").contains(&"shutdown.target".to_string()));
    assert!(values(&load, "After").contains(&"local-fs.target".to_string()));

    let save = unit("lastgasp-save.service");
    assert!(values(&save, "After").contains(&"lastgasp-load.service".to_string()));
    let kdump = unit("lastgasp-kdump.service");
    assert!(values(&kdump, "After").contains(&"lastgasp-load.service".to_string()));
    assert_eq!(
        values(&kdump, "ExecStart"),
        ["/usr/bin/lastgasp", "load", "--boot", "--kdump"]
    );
}

#[test]
fn no_unit_runs_in_a_capture_kernel_or_a_container() {
    for name in UNITS {
        let text = unit(name);
        assert!(
            values(&text, "ConditionPathExists").contains(&"!/proc/vmcore".to_string()),
            "{name} would run in a capture kernel"
        );
        assert_eq!(
            values(&text, "ConditionVirtualization"),
            ["!container"],
            "{name}"
        );
    }
}

#[test]
fn submit_waits_for_the_network_and_its_timer_starts_it() {
    let service = unit("lastgasp-submit.service");
    for key in ["Wants", "After"] {
        assert!(
            values(&service, key).contains(&"network-online.target".to_string()),
            "submit: no {key}=network-online.target"
        );
    }
    assert_eq!(
        values(&service, "ExecStart"),
        ["/usr/bin/lastgasp", "submit"]
    );
    assert_eq!(values(&service, "Type"), ["oneshot"]);
    let timer = unit("lastgasp-submit.timer");
    assert_eq!(values(&timer, "WantedBy"), ["timers.target"]);
    assert_eq!(values(&timer, "OnUnitActiveSec"), ["1h"]);
    assert!(!values(&timer, "RandomizedDelaySec").is_empty());
}
