//! dist/kernel/initramfs-hook, the script every kernel hook runs (kernel-install's plugin,
//! Debian's /etc/kernel/post{inst,rm}.d, pacman's hooks) to keep one kdump capture initramfs per
//! installed kernel while kdump is in use: run on the fake system of initramfs_fixture through
//! each of its entry points, with the real run-parts and kernel-install where they are the caller.

mod initramfs_fixture;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use initramfs_fixture::{RELEASE, System, system};

fn dist(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../dist")
        .join(path)
}

/// A fake system with the hook installed where the package puts it, and a `lastgasp` on PATH
/// that is the real binary with a static /init (the test build is dynamic).
struct Machine {
    _images: tempfile::TempDir,
    bin: tempfile::TempDir,
    system: System,
}

impl Machine {
    fn new() -> Machine {
        let images = tempfile::tempdir().unwrap();
        let system = system(images.path());
        let bin = tempfile::tempdir().unwrap();
        let busybox = Path::new("/bin/busybox");
        assert!(busybox.exists(), "busybox-static is needed for this test");
        let script = bin.path().join("lastgasp");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ncase \" $* \" in *\" initramfs \"*) set -- \"$@\" --binary {} ;; esac\n\
                 exec {} \"$@\"\n",
                busybox.display(),
                assert_cmd::cargo::cargo_bin("lastgasp").display()
            ),
        )
        .unwrap();
        chmod_x(&script);
        let machine = Machine {
            _images: images,
            bin,
            system,
        };
        let hook = machine.path("usr/lib/lastgasp/initramfs-hook");
        std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
        std::fs::copy(dist("kernel/initramfs-hook"), &hook).unwrap();
        machine
    }

    fn root(&self) -> &Path {
        self.system.root.path()
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    fn image(&self, release: &str) -> PathBuf {
        self.path(&format!("var/lib/lastgasp/initramfs-{release}.img"))
    }

    /// Runs `program` as the package managers do, with the hook's root pointed at the fake one.
    fn run(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str], stdin: &str) -> Output {
        self.run_full(program, args, &[], stdin)
    }

    fn run_with(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        args: &[&str],
        envs: &[(String, String)],
    ) -> Output {
        self.run_full(program, args, envs, "")
    }

    fn run_full(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        args: &[&str],
        envs: &[(String, String)],
        stdin: &str,
    ) -> Output {
        use std::io::Write;
        let program = program.as_ref();
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .env("LASTGASP_ROOT", self.root())
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    self.bin.path().display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("LASTGASP_LOG_TARGET", "stderr")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn_past_text_busy(&mut command).unwrap_or_else(|e| {
            panic!(
                "cannot run {} (its Debian package is needed): {e}",
                program.display()
            )
        });
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
        output
    }

    fn hook(&self, args: &[&str]) -> Output {
        self.run(self.path("usr/lib/lastgasp/initramfs-hook"), args, "")
    }

    /// kdump is wanted, as `lastgasp setup --mode kdump` records it.
    fn want_kdump(&self) {
        let state = self.path("var/lib/lastgasp/setup.json");
        std::fs::create_dir_all(state.parent().unwrap()).unwrap();
        std::fs::write(
            &state,
            "{\n  \"version\": 1,\n  \"mode\": \"kdump\",\n  \"backend\": null\n}\n",
        )
        .unwrap();
    }

    /// A kernel that is installed: its module directory exists (the image cannot be made for
    /// it: it has no modules.dep).
    fn install_kernel(&self, release: &str) {
        std::fs::create_dir_all(self.path(&format!("usr/lib/modules/{release}"))).unwrap();
    }
}

fn chmod_x(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

fn set_mtime(path: &Path, time: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(time)
        .unwrap();
}

#[test]
fn a_new_kernel_gets_no_image_while_kdump_is_not_in_use() {
    let machine = Machine::new();
    let output = machine.hook(&["add", RELEASE]);
    assert!(!machine.image(RELEASE).exists());
    assert_eq!(stderr(&output), "");
}

#[test]
fn with_kdump_wanted_a_new_kernel_gets_its_image_once() {
    let machine = Machine::new();
    machine.want_kdump();
    let output = machine.hook(&["add", RELEASE]);
    let image = machine.image(RELEASE);
    assert!(image.exists(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("made the kdump capture initramfs for {RELEASE}")),
        "{}",
        stderr(&output)
    );
    // A second call for the same installation (Debian with systemd-boot calls twice) keeps it.
    let made = SystemTime::now() - Duration::from_secs(60);
    set_mtime(&image, made);
    let dep = machine.path(&format!("lib/modules/{RELEASE}/modules.dep"));
    set_mtime(&dep, made - Duration::from_secs(60));
    machine.hook(&["add", RELEASE]);
    assert_eq!(mtime(&image), made, "the current image was remade");
    // depmod rewrote modules.dep (the kernel was reinstalled): the image is remade.
    set_mtime(&dep, made + Duration::from_secs(30));
    machine.hook(&["add", RELEASE]);
    assert!(mtime(&image) > made, "the stale image was kept");
}

#[test]
fn an_existing_image_means_kdump_is_in_use_even_without_setup() {
    let machine = Machine::new();
    machine.install_kernel("6.1.0-old");
    let old = machine.image("6.1.0-old");
    std::fs::create_dir_all(old.parent().unwrap()).unwrap();
    std::fs::write(&old, b"made by hand").unwrap();
    machine.hook(&["add", RELEASE]);
    assert!(machine.image(RELEASE).exists());
}

#[test]
fn a_failure_is_reported_and_does_not_fail_the_kernel_installation() {
    let machine = Machine::new();
    machine.want_kdump();
    // No modules at all for this release: `lastgasp initramfs` cannot make its image.
    let output = machine.hook(&["add", "9.9.9-missing"]);
    assert!(!machine.image("9.9.9-missing").exists());
    let text = stderr(&output);
    assert!(
        text.contains("could not make the kdump capture initramfs for 9.9.9-missing")
            && text.contains("lastgasp initramfs --kernel-version 9.9.9-missing"),
        "{text}"
    );
}

#[test]
fn remove_and_prune_delete_only_images_of_kernels_that_go() {
    let machine = Machine::new();
    for release in ["6.1.0-gone", "6.1.0-removed", RELEASE] {
        let image = machine.image(release);
        std::fs::create_dir_all(image.parent().unwrap()).unwrap();
        std::fs::write(&image, release).unwrap();
    }
    machine.install_kernel("6.1.0-removed");
    machine.hook(&["remove", "6.1.0-removed"]);
    assert!(!machine.image("6.1.0-removed").exists());
    machine.hook(&["prune"]);
    assert!(!machine.image("6.1.0-gone").exists());
    // Its modules are under /lib/modules, as on Debian.
    assert!(machine.image(RELEASE).exists());
}

#[test]
fn refresh_remakes_every_image_for_the_new_lastgasp() {
    let machine = Machine::new();
    let image = machine.image(RELEASE);
    std::fs::create_dir_all(image.parent().unwrap()).unwrap();
    std::fs::write(&image, b"an image with the old lastgasp").unwrap();
    machine.hook(&["refresh"]);
    let bytes = std::fs::read(&image).unwrap();
    assert_eq!(
        &bytes[..2],
        b"\x1f\x8b",
        "not remade as a gzip'd cpio archive"
    );
}

#[test]
fn debian_runs_it_through_its_postinst_and_postrm_directories() {
    let machine = Machine::new();
    machine.want_kdump();
    for dir in ["postinst.d", "postrm.d"] {
        let dir = machine.path(&format!("etc/kernel/{dir}"));
        std::fs::create_dir_all(&dir).unwrap();
        // As the package installs it: a link to the hook.
        symlink(
            machine.path("usr/lib/lastgasp/initramfs-hook"),
            dir.join("lastgasp"),
        )
        .unwrap();
    }
    let vmlinuz = format!("/boot/vmlinuz-{RELEASE}");
    let args = |dir: &str| {
        vec![
            "--report".to_owned(),
            "--exit-on-error".to_owned(),
            format!("--arg={RELEASE}"),
            format!("--arg={vmlinuz}"),
            machine
                .path(&format!("etc/kernel/{dir}"))
                .display()
                .to_string(),
        ]
    };
    let postinst = args("postinst.d");
    let postinst: Vec<&str> = postinst.iter().map(String::as_str).collect();
    machine.run("run-parts", &postinst, "");
    assert!(machine.image(RELEASE).exists(), "postinst.d made no image");
    let postrm = args("postrm.d");
    let postrm: Vec<&str> = postrm.iter().map(String::as_str).collect();
    machine.run("run-parts", &postrm, "");
    assert!(!machine.image(RELEASE).exists(), "postrm.d left the image");
}

/// The real kernel-install (systemd's), told to run only this plugin and to use a boot
/// directory of the test's.
#[test]
fn kernel_install_runs_the_plugin_on_add_and_remove() {
    let machine = Machine::new();
    machine.want_kdump();
    let plugin = dist("kernel/50-lastgasp.install");
    let kernel = machine.path("vmlinuz");
    std::fs::write(&kernel, b"kernel").unwrap();
    let boot = machine.path("boot");
    std::fs::create_dir_all(&boot).unwrap();
    let envs: Vec<(String, String)> = [
        ("BOOT_ROOT", boot.to_str().unwrap()),
        ("KERNEL_INSTALL_PLUGINS", plugin.to_str().unwrap()),
        ("KERNEL_INSTALL_LAYOUT", "other"),
        (
            "KERNEL_INSTALL_MACHINE_ID",
            "0123456789abcdef0123456789abcdef",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let kernel_install = |args: &[&str]| machine.run_with("kernel-install", args, &envs);
    kernel_install(&["add", RELEASE, kernel.to_str().unwrap()]);
    assert!(machine.image(RELEASE).exists());
    kernel_install(&["remove", RELEASE]);
    assert!(!machine.image(RELEASE).exists());
    // Commands other than add and remove are not the plugin's business.
    machine.run(&plugin, &["inspect", RELEASE], "");
}

#[test]
fn pacman_hooks_pass_their_targets_on_stdin() {
    let machine = Machine::new();
    machine.want_kdump();
    machine.install_kernel("6.9.0-arch1-1");
    let stale = machine.image("6.8.0-arch1-1");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, b"kernel long gone").unwrap();
    // The fixture's kernel, as pacman names its vmlinuz; the stale image is pruned.
    machine.run(
        machine.path("usr/lib/lastgasp/initramfs-hook"),
        &["pacman-install"],
        &format!("usr/lib/modules/{RELEASE}/vmlinuz\n"),
    );
    assert!(machine.image(RELEASE).exists());
    assert!(!stale.exists());
    machine.run(
        machine.path("usr/lib/lastgasp/initramfs-hook"),
        &["pacman-remove"],
        &format!("usr/lib/modules/{RELEASE}/vmlinuz\n"),
    );
    assert!(!machine.image(RELEASE).exists());
}

#[test]
fn the_pacman_hooks_run_the_installed_hook_on_kernels_and_lastgasp() {
    let install = std::fs::read_to_string(dist("pacman/90-lastgasp-install.hook")).unwrap();
    let remove = std::fs::read_to_string(dist("pacman/60-lastgasp-remove.hook")).unwrap();
    for (text, exec, operations) in [
        (
            &install,
            "Exec = /usr/lib/lastgasp/initramfs-hook pacman-install",
            &["Operation = Install", "Operation = Upgrade"][..],
        ),
        (
            &remove,
            "Exec = /usr/lib/lastgasp/initramfs-hook pacman-remove",
            &["Operation = Remove"][..],
        ),
    ] {
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(&exec), "{text}");
        assert!(lines.contains(&"NeedsTargets"), "{text}");
        assert!(lines.contains(&"Target = usr/lib/modules/*/vmlinuz"));
        for operation in operations {
            assert!(lines.contains(operation), "{text}");
        }
    }
    assert!(install.lines().any(|l| l == "Target = usr/bin/lastgasp"));
    assert!(remove.lines().any(|l| l == "When = PreTransaction"));
}

#[test]
fn bad_usage_fails_with_the_usage() {
    let machine = Machine::new();
    for args in [&["add"][..], &["frobnicate"][..]] {
        let output = Command::new(machine.path("usr/lib/lastgasp/initramfs-hook"))
            .args(args)
            .env("LASTGASP_ROOT", machine.root())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(!stderr(&output).is_empty());
    }
}

/// Spawns `command`, waiting out ETXTBSY: a script this test just wrote can still be open for
/// writing in a child another test thread forked at that moment, until that child execs.
fn spawn_past_text_busy(command: &mut Command) -> std::io::Result<std::process::Child> {
    const ETXTBSY: i32 = 26;
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            outcome => return outcome,
        }
    }
}
