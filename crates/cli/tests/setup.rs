//! `lastgasp setup` and `unsetup` on fake roots, one per boot set-up: Debian's GRUB with its
//! grub.d directory, GRUB with a marked block in a user-edited /etc/default/grub, systemd-boot
//! with loader entries, a UKI built by mkinitcpio, and an unknown bootloader. Each dry run (the
//! diff of every file, the summary) is compared with a golden file; setup twice must equal
//! setup once; unsetup must leave every file byte for byte as it was. A real grub-mkconfig run
//! on the edited defaults checks the `$` escaping end to end. Refresh the goldens with
//! `UPDATE_GOLDEN=1 cargo test -p lastgasp --test setup`, then read the diff.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;

const IOMEM_1G: &str = include_str!("../../setup/tests/fixtures/iomem/qemu-1g.txt");
const IOMEM_4G: &str = include_str!("../../setup/tests/fixtures/iomem/qemu-4g-pci-hole.txt");
const IOMEM_NO_ROOM: &str = include_str!("../../setup/tests/fixtures/iomem/no-room.txt");
const DEBIAN_GRUB: &str = "\
# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"
GRUB_CMDLINE_LINUX=\"\"
";
const MACHINE_ID: &str = "0123456789abcdef0123456789abcdef";

struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    /// A machine running Debian 12's kernel with the given memory map and command line.
    fn new(iomem: &str) -> Self {
        let root = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        root.put("/proc/iomem", iomem);
        root.put("/proc/sys/kernel/osrelease", "6.1.0-57-amd64\n");
        root.put(
            "/proc/cmdline",
            "BOOT_IMAGE=/boot/vmlinuz-6.1.0-57-amd64 root=UUID=1b2c3d4e ro quiet\n",
        );
        root.put(
            "/usr/lib/modules/6.1.0-57-amd64/modules.dep",
            "kernel/fs/pstore/ramoops.ko.xz: kernel/lib/reed_solomon/reed_solomon.ko.xz\n\
             kernel/drivers/firmware/efi/efi-pstore.ko.xz:\n",
        );
        root.put(
            "/usr/lib/modules/6.1.0-57-amd64/modules.builtin",
            "kernel/fs/pstore/pstore.ko\n",
        );
        root.put("/etc/machine-id", &format!("{MACHINE_ID}\n"));
        // Directories every installed system has, so unsetup's result compares as a whole tree.
        for dir in ["/etc/sysctl.d", "/var/lib/lastgasp"] {
            fs::create_dir_all(root.path(dir)).unwrap();
        }
        root
    }

    fn path(&self, path: &str) -> PathBuf {
        self.dir.path().join(path.trim_start_matches('/'))
    }

    fn put(&self, path: &str, text: &str) {
        let full = self.path(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, text).unwrap();
    }

    fn get(&self, path: &str) -> String {
        fs::read_to_string(self.path(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn config(&self, text: &str) {
        self.put("/etc/lastgasp/lastgasp.toml", text);
    }

    fn lastgasp(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("lastgasp").unwrap();
        cmd.arg("--root").arg(self.dir.path()).args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.lastgasp(args).output().unwrap();
        assert!(
            out.status.success(),
            "lastgasp {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Every file under the root and its bytes; directories are compared through their files.
    fn files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, top: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, top, out);
                } else {
                    out.insert(
                        path.strip_prefix(top).unwrap().to_path_buf(),
                        fs::read(&path).unwrap(),
                    );
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.dir.path(), self.dir.path(), &mut out);
        out
    }

    /// Dry run against the golden, setup, setup again (no change), unsetup (all restored).
    fn round_trip(&self, case: &str, args: &[&str]) -> serde_json::Value {
        let before = self.files();
        let mut dry = vec!["setup", "--dry-run"];
        dry.extend(args);
        common::golden("setup", &format!("{case}.dry-run.txt"), &self.run(&dry));
        assert_eq!(self.files(), before, "--dry-run wrote something");

        let mut setup = vec!["setup", "--json"];
        setup.extend(args);
        let first: serde_json::Value = serde_json::from_str(&self.run(&setup)).unwrap();
        let after_first = self.files();
        let second: serde_json::Value = serde_json::from_str(&self.run(&setup)).unwrap();
        assert_eq!(
            self.files(),
            after_first,
            "setup twice differs from setup once"
        );
        for file in second["files"].as_array().unwrap() {
            assert_eq!(file["change"], "unchanged", "second setup changed {file}");
        }
        assert_eq!(first["state"]["files"], second["state"]["files"]);
        assert_eq!(
            first["state"]["kernel_params"],
            second["state"]["kernel_params"]
        );

        common::golden(
            "setup",
            &format!("{case}.unsetup-dry-run.txt"),
            &self.run(&["unsetup", "--dry-run"]),
        );
        self.run(&["unsetup"]);
        assert_same(&self.files(), &before, "unsetup did not restore");
        first
    }
}

fn assert_same(got: &BTreeMap<PathBuf, Vec<u8>>, want: &BTreeMap<PathBuf, Vec<u8>>, what: &str) {
    let names = |m: &BTreeMap<PathBuf, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{what}: files added or lost");
    for (path, bytes) in want {
        assert!(
            got[path] == *bytes,
            "{what}: {} differs byte for byte:\n{}",
            path.display(),
            String::from_utf8_lossy(&got[path])
        );
    }
}

fn debian_grub(iomem: &str) -> Root {
    let root = Root::new(iomem);
    root.put("/etc/default/grub", DEBIAN_GRUB);
    fs::create_dir_all(root.path("/etc/default/grub.d")).unwrap();
    root.put("/boot/grub/grub.cfg", "# generated by grub-mkconfig\n");
    root.put("/usr/sbin/update-grub", "#!/bin/sh\n");
    root
}

#[test]
fn debian_grub_gets_a_dropin() {
    let root = debian_grub(IOMEM_1G);
    let state = root.round_trip("grub-debian", &[]);
    assert_eq!(state["state"]["backend"], "ramoops");
    assert_eq!(state["state"]["ramoops"]["address"], 0x3000_0000u64);
    assert_eq!(
        state["state"]["pending_commands"][0], "update-grub",
        "under --root update-grub is named, not run"
    );
}

#[test]
fn grub_without_dropins_gets_a_block_the_user_can_edit_around() {
    let root = Root::new(IOMEM_4G);
    // A user's own parameters, and no newline at the end.
    let original = DEBIAN_GRUB.replace("\"quiet\"", "\"quiet splash mitigations=off\"");
    let original = original.trim_end();
    root.put("/etc/default/grub", original);
    root.put("/boot/grub/grub.cfg", "");
    root.config("[setup]\nmode = \"both\"\ncrashkernel = \"256M\"\n");
    let state = root.round_trip("grub-block", &[]);
    assert_eq!(state["state"]["mode"], "both");
    let params = state["state"]["kernel_params"].as_array().unwrap();
    assert!(params.iter().any(|p| p == "crash_kexec_post_notifiers"));
    assert_eq!(
        state["state"]["pending_commands"][0],
        "grub-mkconfig -o /boot/grub/grub.cfg"
    );

    // Edited after setup: unsetup takes out its block and keeps the user's change.
    root.run(&["setup"]);
    let edited = root
        .get("/etc/default/grub")
        .replace("GRUB_TIMEOUT=5", "GRUB_TIMEOUT=1");
    root.put("/etc/default/grub", &edited);
    let out = root.run(&["unsetup"]);
    assert!(out.contains("edited since setup"), "{out}");
    assert_eq!(
        root.get("/etc/default/grub"),
        format!("{}\n", original.replace("GRUB_TIMEOUT=5", "GRUB_TIMEOUT=1"))
    );
}

#[test]
fn systemd_boot_edits_entries_and_kernel_cmdline() {
    let root = Root::new(IOMEM_1G);
    root.put(
        "/sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f",
        "",
    );
    let entry = |release: &str, machine: &str| {
        format!(
            "title      Debian GNU/Linux 12 (bookworm)\nversion    {release}\nmachine-id {machine}\n\
             sort-key   debian\noptions    root=UUID=1b2c3d4e ro quiet\n\
             linux      /{machine}/{release}/linux\ninitrd     /{machine}/{release}/initrd.img-{release}\n"
        )
    };
    root.put(
        &format!("/boot/efi/loader/entries/{MACHINE_ID}-6.1.0-57-amd64.conf"),
        &entry("6.1.0-57-amd64", MACHINE_ID),
    );
    let other = "ffffffffffffffffffffffffffffffff";
    root.put(
        &format!("/boot/efi/loader/entries/{other}-6.1.0-57-amd64.conf"),
        &entry("6.1.0-57-amd64", other),
    );
    // UEFI with efi_pstore: the backend needs no parameter; kdump's crashkernel= goes on the line.
    root.config("[setup]\nmode = \"both\"\ncrashkernel = \"192M\"\n");
    let state = root.round_trip("systemd-boot", &[]);
    assert_eq!(state["state"]["backend"], "efi");
    assert_eq!(state["state"]["bootloader"], "systemd-boot");
    let files: Vec<&str> = state["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"/etc/kernel/cmdline"));
    assert!(
        !files.iter().any(|f| f.contains(other)),
        "another machine's entry was touched"
    );

    // A kernel installed after setup: kernel-install writes its entry from /etc/kernel/cmdline.
    root.run(&["setup"]);
    let cmdline = root.get("/etc/kernel/cmdline");
    let newer = format!("/boot/efi/loader/entries/{MACHINE_ID}-6.1.0-58-amd64.conf");
    root.put(
        &newer,
        &format!("title Debian\noptions {cmdline}linux /x/6.1.0-58-amd64/linux\n"),
    );
    let out = root.run(&["unsetup"]);
    assert!(out.contains(&newer), "{out}");
    assert_eq!(
        root.get(&newer),
        "title Debian\noptions root=UUID=1b2c3d4e ro quiet\nlinux /x/6.1.0-58-amd64/linux\n"
    );
}

#[test]
fn uki_built_by_mkinitcpio_gets_a_cmdline_dropin() {
    let root = Root::new(IOMEM_1G);
    root.put("/etc/kernel/install.conf", "layout=uki\n");
    fs::create_dir_all(root.path("/etc/cmdline.d")).unwrap();
    root.put("/etc/cmdline.d/root.conf", "root=UUID=1b2c3d4e rw\n");
    root.put("/usr/bin/mkinitcpio", "#!/bin/sh\n");
    let state = root.round_trip("uki", &[]);
    assert_eq!(state["state"]["bootloader"], "uki");
    assert!(
        state["state"]["pending_commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "mkinitcpio -P")
    );
}

#[test]
fn an_unknown_bootloader_gets_the_parameters_and_manual_steps() {
    let root = Root::new(IOMEM_1G);
    let state = root.round_trip("manual", &[]);
    assert_eq!(state["state"]["bootloader"], "manual");
    let steps = state["manual-steps"].as_array().unwrap();
    assert!(
        steps[0].as_str().unwrap().contains("memmap=1M$0x30000000"),
        "{steps:?}"
    );
}

#[test]
fn no_room_for_ramoops_says_so_or_falls_back_to_kdump() {
    let root = debian_grub(IOMEM_NO_ROOM);
    root.config("[setup]\ncrashkernel = \"160M\"\n");
    let out = root
        .lastgasp(&["setup", "--backend", "ramoops"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("/proc/iomem: no room for a 1024 KiB ramoops region"),
        "{error}"
    );
    assert!(
        !root.path("/var/lib/lastgasp/setup.json").exists(),
        "nothing written on error"
    );
    let text = root.run(&["setup", "--dry-run"]);
    assert!(
        text.contains("armed this machine for kdump")
            || text.contains("would arm this machine for kdump"),
        "{text}"
    );
    assert!(text.contains("crashkernel=160M"), "{text}");
}

#[test]
fn a_broken_config_names_file_and_line() {
    let root = debian_grub(IOMEM_1G);
    root.config("[setup]\npanic_timeout = 10\nmode = \"always\"\n");
    let out = root.lastgasp(&["setup", "--dry-run"]).output().unwrap();
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("etc/lastgasp/lastgasp.toml:3:8: unknown mode \"always\""),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1, "{error}");
}

#[test]
fn switching_from_kdump_to_pstore_changes_parameters_and_units() {
    let root = debian_grub(IOMEM_1G);
    root.config("[setup]\ncrashkernel = \"256M\"\n");
    root.run(&["setup", "--mode", "kdump"]);
    assert!(
        root.get("/etc/default/grub.d/lastgasp.cfg")
            .contains("crashkernel=256M")
    );
    let out: serde_json::Value =
        serde_json::from_str(&root.run(&["setup", "--mode", "pstore", "--json"])).unwrap();
    let dropin = root.get("/etc/default/grub.d/lastgasp.cfg");
    assert!(
        !dropin.contains("crashkernel") && dropin.contains("memmap=1M"),
        "{dropin}"
    );
    let commands: Vec<&str> = out["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert!(
        commands.contains(&"systemctl disable lastgasp-kdump.service"),
        "{commands:?}"
    );
    assert!(commands.contains(&"update-grub"), "{commands:?}");
}

/// With `crashkernel = "auto"` (the default) the value is what `lastgasp estimate` says for the
/// same machine.
#[test]
fn crashkernel_auto_is_the_estimate() {
    let root = debian_grub(IOMEM_1G);
    let mut image = vec![0u8; 64 << 10];
    image[0..2].copy_from_slice(b"MZ");
    image[0x1fe..0x200].copy_from_slice(&[0x55, 0xaa]);
    image[0x202..0x206].copy_from_slice(b"HdrS");
    image[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    image[0x260..0x264].copy_from_slice(&(64u32 << 20).to_le_bytes());
    let kernel = root.path("/usr/lib/modules/6.1.0-57-amd64/vmlinuz");
    fs::write(&kernel, image).unwrap();
    root.put("/proc/meminfo", "MemTotal:        1003456 kB\n");
    let estimate: serde_json::Value =
        serde_json::from_str(&root.run(&["estimate", "--json"])).unwrap();
    let expected = estimate["crashkernel"].as_str().unwrap();
    let out: serde_json::Value =
        serde_json::from_str(&root.run(&["setup", "--mode", "kdump", "--json"])).unwrap();
    assert_eq!(out["state"]["crashkernel"], expected);
    assert_eq!(out["crashkernel-from"], "`lastgasp estimate`");
    let dropin = root.get("/etc/default/grub.d/lastgasp.cfg");
    assert!(
        dropin.contains(&format!("crashkernel={expected}\"")),
        "{dropin}"
    );
}

#[test]
fn unsetup_without_setup_has_nothing_to_do() {
    let root = Root::new(IOMEM_1G);
    let out = root.run(&["unsetup"]);
    assert!(out.starts_with("nothing to undo"), "{out}");
}

/// grub-mkconfig (Debian's grub2-common) run on the edited /etc/default in a private mount
/// namespace, with a fake /boot holding one kernel: the generated `linux` line must carry
/// `memmap=1M\$0x30000000`, which GRUB hands to the kernel as `memmap=1M$0x30000000`.
#[test]
fn grub_mkconfig_keeps_the_dollar_for_the_kernel() {
    for tool in ["grub-mkconfig", "unshare"] {
        let found = Process::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        assert!(
            found.status.success(),
            "{tool} is missing: install grub2-common and util-linux (CI's apt-get line does)"
        );
    }
    for (name, dropins) in [("grub.d drop-in", true), ("marked block", false)] {
        let root = Root::new(IOMEM_1G);
        root.put("/etc/default/grub", DEBIAN_GRUB);
        if dropins {
            fs::create_dir_all(root.path("/etc/default/grub.d")).unwrap();
        }
        root.put("/boot/grub/grub.cfg", "");
        root.run(&["setup"]);
        let boot = root.path("/fakeboot");
        fs::create_dir_all(boot.join("grub")).unwrap();
        fs::write(boot.join("vmlinuz-6.1.0-57-amd64"), "kernel").unwrap();
        fs::write(boot.join("initrd.img-6.1.0-57-amd64"), "initrd").unwrap();
        let script = format!(
            "mount --bind {defaults} /etc/default && mount --bind {boot} /boot && grub-mkconfig -o /boot/grub/grub.cfg",
            defaults = root.path("/etc/default").display(),
            boot = boot.display()
        );
        let out = Process::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: grub-mkconfig in a private mount namespace failed (needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config = fs::read_to_string(boot.join("grub/grub.cfg")).unwrap();
        let linux: Vec<&str> = config
            .lines()
            .filter(|l| l.trim_start().starts_with("linux"))
            .collect();
        assert!(!linux.is_empty(), "{name}: no linux line in:\n{config}");
        let normal = linux[0];
        assert!(
            normal.contains(" memmap=1M\\$0x30000000 ramoops.mem_address=0x30000000 ramoops.mem_size=0x100000 ramoops.record_size=0x20000"),
            "{name}: {normal}"
        );
        // Recovery entries boot without setup's parameters.
        let recovery = linux
            .iter()
            .find(|l| l.contains(" single"))
            .expect("a recovery entry");
        assert!(!recovery.contains("memmap"), "{name}: {recovery}");
    }
}
