//! Which boot set-up puts the kernel command line together on this machine, and what setup
//! writes and runs for each: GRUB (a Debian drop-in or a marked block, then grub.cfg
//! regenerated), systemd-boot and other BLS loaders (/etc/kernel/cmdline for future kernels,
//! each installed kernel's entry edited), unified kernel images (/etc/kernel/cmdline or
//! mkinitcpio's /etc/cmdline.d, then the images rebuilt), or manual steps for anything else.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::files::Edit;
use crate::model::Bootloader;
use crate::root::under_root;
use crate::{bls, grub};

/// systemd-boot publishes this EFI variable: it is the loader that booted the machine.
const LOADER_INFO: &str =
    "/sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";
const INSTALL_CONF: [&str; 2] = ["/etc/kernel/install.conf", "/usr/lib/kernel/install.conf"];
const UKI_CONF: &str = "/etc/kernel/uki.conf";
const CMDLINE_D: &str = "/etc/cmdline.d";
pub const CMDLINE_D_FILE: &str = "/etc/cmdline.d/lastgasp.conf";
const MKINITCPIO_PRESETS: &str = "/etc/mkinitcpio.d";
const MODULES_DIRS: [&str; 2] = ["/usr/lib/modules", "/lib/modules"];

/// The boot set-up found, and the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub kind: Bootloader,
    pub why: String,
}

/// A command setup runs on the live system, or names when it must not (under `--root`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub argv: Vec<String>,
    /// What it is for.
    pub why: String,
    /// What to do when it fails.
    pub fix: String,
}

impl Step {
    pub fn new(argv: &[&str], why: &str, fix: &str) -> Self {
        Self {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            why: why.into(),
            fix: fix.into(),
        }
    }

    pub fn command_line(&self) -> String {
        self.argv.join(" ")
    }
}

/// What the boot set-up needs: file edits, commands, and manual steps when setup cannot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootPlan {
    pub edits: Vec<(PathBuf, Edit)>,
    pub steps: Vec<Step>,
    pub manual: Vec<String>,
    pub notes: Vec<String>,
}

fn exists(root: &Path, path: &str) -> bool {
    under_root(root, Path::new(path)).exists()
}

fn read(root: &Path, path: &str) -> Option<String> {
    fs::read_to_string(under_root(root, Path::new(path))).ok()
}

fn install_layout(root: &Path) -> Option<String> {
    INSTALL_CONF.iter().find_map(|conf| {
        read(root, conf)?.lines().find_map(|line| {
            let value = line.trim().strip_prefix("layout=")?;
            Some(value.trim().trim_matches('"').to_string())
        })
    })
}

fn uki_evidence(root: &Path) -> Option<String> {
    if install_layout(root).as_deref() == Some("uki") {
        return Some("kernel-install's layout=uki".into());
    }
    if exists(root, UKI_CONF) {
        return Some(format!("{UKI_CONF} exists"));
    }
    let presets = fs::read_dir(under_root(root, Path::new(MKINITCPIO_PRESETS))).ok()?;
    for entry in presets.flatten() {
        let text = fs::read_to_string(entry.path()).unwrap_or_default();
        if text
            .lines()
            .any(|l| !l.trim_start().starts_with('#') && l.contains("_uki="))
        {
            return Some(format!(
                "mkinitcpio preset {} builds a UKI",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    None
}

/// Type-1 entry files under every place an ESP or XBOOTLDR is mounted.
pub fn entry_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for top in bls::ENTRY_ROOTS {
        let dir = Path::new(top).join("loader/entries");
        let Ok(entries) = fs::read_dir(under_root(root, &dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".conf") && !n.starts_with('.'))
            .collect();
        names.sort();
        found.extend(names.into_iter().map(|n| dir.join(n)));
    }
    found
}

fn systemd_boot_evidence(root: &Path) -> Option<String> {
    if install_layout(root).as_deref() == Some("bls") {
        return Some("kernel-install's layout=bls".into());
    }
    if let Some(entry) = entry_files(root).first() {
        return Some(format!("boot entry {}", entry.display()));
    }
    for top in bls::ENTRY_ROOTS {
        let path = format!("{top}/EFI/systemd/systemd-bootx64.efi");
        if exists(root, &path) {
            return Some(format!("{path} exists"));
        }
    }
    None
}

fn grub_config(root: &Path) -> Option<&'static str> {
    grub::CONFIGS.into_iter().find(|c| exists(root, c))
}

/// Finds the boot set-up under `root`. The loader that booted the machine counts first
/// (systemd-boot's EFI variable), then a generated grub.cfg, then UKI and BLS configuration,
/// then a GRUB defaults file without a grub.cfg yet.
pub fn detect(root: &Path) -> Detected {
    let found = |kind, why: String| Detected { kind, why };
    if exists(root, LOADER_INFO) {
        return match uki_evidence(root) {
            Some(why) => found(Bootloader::Uki, format!("booted by systemd-boot; {why}")),
            None => found(
                Bootloader::SystemdBoot,
                "booted by systemd-boot: its LoaderInfo EFI variable is set".into(),
            ),
        };
    }
    if let Some(config) = grub_config(root) {
        return found(Bootloader::Grub, format!("{config} exists"));
    }
    if let Some(why) = uki_evidence(root) {
        return found(Bootloader::Uki, why);
    }
    if let Some(why) = systemd_boot_evidence(root) {
        return found(Bootloader::SystemdBoot, why);
    }
    if exists(root, grub::DEFAULTS) {
        return found(Bootloader::Grub, format!("{} exists", grub::DEFAULTS));
    }
    found(
        Bootloader::Manual,
        "no GRUB, systemd-boot or UKI configuration found".into(),
    )
}

/// The commands that make the boot set-up pick up the files (after setup and after unsetup).
pub fn regenerate(root: &Path, kind: Bootloader) -> Vec<Step> {
    match kind {
        Bootloader::Grub => {
            if exists(root, "/usr/sbin/update-grub") {
                return vec![Step::new(
                    &["update-grub"],
                    "regenerate grub.cfg from /etc/default/grub",
                    "run `update-grub` and read its error; the kernel command line stays unchanged until it succeeds",
                )];
            }
            let tool = if exists(root, "/usr/sbin/grub2-mkconfig")
                || exists(root, "/usr/bin/grub2-mkconfig")
            {
                "grub2-mkconfig"
            } else {
                "grub-mkconfig"
            };
            let config = grub_config(root).unwrap_or(grub::CONFIGS[0]);
            vec![Step::new(
                &[tool, "-o", config],
                "regenerate grub.cfg from /etc/default/grub",
                &format!("run `{tool} -o {config}` and read its error"),
            )]
        }
        Bootloader::Uki => {
            if exists(root, "/usr/bin/mkinitcpio") {
                return vec![Step::new(
                    &["mkinitcpio", "-P"],
                    "rebuild every unified kernel image with the new command line",
                    "run `mkinitcpio -P` and read its error",
                )];
            }
            installed_kernels(root)
                .into_iter()
                .map(|(release, image)| {
                    let image = image.display().to_string();
                    Step::new(
                        &["kernel-install", "add", &release, &image],
                        &format!("rebuild the unified kernel image of {release}"),
                        &format!(
                            "run `kernel-install -v add {release} {image}` and read its error"
                        ),
                    )
                })
                .collect()
        }
        Bootloader::SystemdBoot | Bootloader::Manual => Vec::new(),
    }
}

/// Installed kernels: `<modules dir>/<release>/vmlinuz`, as kernel-install wants them.
fn installed_kernels(root: &Path) -> Vec<(String, PathBuf)> {
    let mut kernels = Vec::new();
    for dir in MODULES_DIRS {
        let Ok(entries) = fs::read_dir(under_root(root, Path::new(dir))) else {
            continue;
        };
        for entry in entries.flatten() {
            let release = entry.file_name().to_string_lossy().into_owned();
            let image = Path::new(dir).join(&release).join("vmlinuz");
            if under_root(root, &image).is_file() && !kernels.iter().any(|(r, _)| *r == release) {
                kernels.push((release, image));
            }
        }
    }
    kernels.sort();
    kernels
}

/// The edits and commands that put `params` on the kernel command line.
pub fn plan(
    root: &Path,
    detected: &Detected,
    params: &[String],
    proc_cmdline: &str,
) -> Result<BootPlan> {
    let mut plan = BootPlan::default();
    if params.is_empty() {
        plan.notes
            .push("no kernel parameters are needed: the boot set-up is left alone".into());
        return Ok(plan);
    }
    let cmdline_file = || {
        (
            PathBuf::from(bls::KERNEL_CMDLINE),
            Edit::CmdlineFile {
                params: params.to_vec(),
                seed: bls::from_proc_cmdline(proc_cmdline),
            },
        )
    };
    match detected.kind {
        Bootloader::Grub => {
            let dropins = under_root(root, Path::new(grub::DROPIN_DIR)).is_dir();
            plan.edits.push(if dropins {
                (PathBuf::from(grub::DROPIN), Edit::Own(grub::dropin(params)))
            } else {
                (
                    PathBuf::from(grub::DEFAULTS),
                    Edit::GrubBlock(params.to_vec()),
                )
            });
            plan.steps = regenerate(root, detected.kind);
        }
        Bootloader::SystemdBoot => {
            plan.edits.push(cmdline_file());
            let machine_id = read(root, "/etc/machine-id").map(|s| s.trim().to_string());
            let mut edited = 0;
            for entry in entry_files(root) {
                let full = under_root(root, &entry);
                let text = fs::read_to_string(&full).map_err(Error::io(&full))?;
                if bls::is_ours(&text, machine_id.as_deref()) {
                    plan.edits
                        .push((entry, Edit::EntryOptions(params.to_vec())));
                    edited += 1;
                }
            }
            if edited == 0 {
                plan.notes.push(format!(
                    "no boot entry of this machine was found under {}: only kernels installed from now on get the parameters (from {})",
                    bls::ENTRY_ROOTS.map(|r| format!("{r}/loader/entries")).join(", "),
                    bls::KERNEL_CMDLINE
                ));
            }
        }
        Bootloader::Uki => {
            let kernel_cmdline = exists(root, bls::KERNEL_CMDLINE);
            if !kernel_cmdline && under_root(root, Path::new(CMDLINE_D)).is_dir() {
                plan.edits.push((
                    PathBuf::from(CMDLINE_D_FILE),
                    Edit::Own(format!(
                        "# Written by `lastgasp setup`; `lastgasp unsetup` removes this file.\n{}\n",
                        params.join(" ")
                    )),
                ));
            } else {
                plan.edits.push(cmdline_file());
            }
            plan.steps = regenerate(root, detected.kind);
            if plan.steps.is_empty() {
                plan.manual.push(
                    "rebuild your unified kernel images so they carry the new command line".into(),
                );
            }
        }
        Bootloader::Manual => {
            plan.manual.push(format!(
                "add these parameters to the kernel command line in your bootloader's configuration: {}",
                params.join(" ")
            ));
            plan.manual.push(
                "reboot, then check that /proc/cmdline holds them (`lastgasp status` does)".into(),
            );
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, path: &str, text: &str) {
        let full = under_root(root, Path::new(path));
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, text).unwrap();
    }

    #[test]
    fn detection_follows_the_evidence() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        assert_eq!(detect(root).kind, Bootloader::Manual);
        touch(root, grub::DEFAULTS, "");
        assert_eq!(detect(root).kind, Bootloader::Grub);
        touch(root, "/boot/efi/loader/entries/x-6.1.conf", "linux /x\n");
        assert_eq!(
            detect(root).kind,
            Bootloader::SystemdBoot,
            "entries beat a bare defaults file"
        );
        touch(root, "/boot/grub/grub.cfg", "");
        assert_eq!(
            detect(root).kind,
            Bootloader::Grub,
            "a generated grub.cfg beats entries"
        );
        touch(root, LOADER_INFO, "");
        assert_eq!(
            detect(root).kind,
            Bootloader::SystemdBoot,
            "the loader that booted wins"
        );
        touch(root, "/etc/kernel/install.conf", "layout=uki\n");
        assert_eq!(detect(root).kind, Bootloader::Uki);
    }

    #[test]
    fn grub_regeneration_uses_the_tools_present() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        touch(root, "/boot/grub2/grub.cfg", "");
        assert_eq!(
            regenerate(root, Bootloader::Grub)[0].argv,
            ["grub-mkconfig", "-o", "/boot/grub2/grub.cfg"]
        );
        touch(root, "/usr/sbin/update-grub", "");
        assert_eq!(regenerate(root, Bootloader::Grub)[0].argv, ["update-grub"]);
    }
}
