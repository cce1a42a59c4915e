//! The pstore half of `lastgasp load`: the backend setup chose, armed at boot by loading its
//! module with setup's parameters (ramoops' region, pstore_blk's device) through our own module
//! loader, then checked where the kernel says which backend pstore holds
//! (/sys/module/pstore/parameters/backend). When it did not register, the reason is found in
//! what is known before (another backend holds pstore, no UEFI, the module is missing) and in
//! what the kernel printed while the module loaded (a region nobody reserved).

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use setup::iomem;

use crate::commands::backend;
use crate::kmod::{self, ModuleError, Outcome};
use crate::paths::under_root;
use lastgasp::arming_state::{ArmingState, Backend, Placement};

/// pstore_blk's record size for kernel logs, in KiB: the size the lab's pstore/blk runs kept a
/// whole Oops in.
const BLK_KMSG_KIB: u32 = 64;
/// How long a backend may take to show up after its module loaded (a platform driver may probe
/// asynchronously).
const REGISTER_WAIT: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(50);

/// What is loaded for a backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Plan {
    /// setup's name for it: ramoops, efi, erst, blk.
    pub backend: &'static str,
    /// The module to load; `None` for a backend built into the kernel (erst).
    pub module: Option<&'static str>,
    pub params: String,
}

/// How the pstore part ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Armed {
    #[serde(flatten)]
    pub plan: Plan,
    /// The backend now registered.
    pub armed: bool,
    /// loaded, already-armed, dry-run or failed.
    pub action: &'static str,
    /// `/sys/module/pstore/parameters/backend` afterwards.
    pub registered: Option<String>,
    /// Modules loaded first for it.
    pub dependencies: Vec<String>,
    /// Why it is not armed.
    pub why: Option<String>,
    /// The kernel's own pstore lines printed while loading.
    pub kernel_said: Vec<String>,
}

/// The module and parameters for setup's backend, or why setup.json cannot say.
pub fn plan(state: &ArmingState) -> Result<Plan, String> {
    let backend = state.backend.ok_or_else(|| {
        format!(
            "setup.json names no pstore backend although its mode is {}: run `lastgasp setup` \
             again",
            state.mode
        )
    })?;
    let (module, params) = match backend {
        Backend::Ramoops => ("ramoops", ramoops_params(state)?),
        Backend::Efi => ("efi_pstore", String::new()),
        Backend::Erst => {
            return Ok(Plan {
                backend: backend.name(),
                module: None,
                params: String::new(),
            });
        }
        Backend::Blk => {
            let blk = state.blk.as_ref().ok_or_else(|| {
                "setup.json chose pstore_blk but names no device: run `lastgasp setup` again"
                    .to_string()
            })?;
            (
                "pstore_blk",
                format!(
                    "blkdev={} kmsg_size={BLK_KMSG_KIB} best_effort=y",
                    blk.device
                ),
            )
        }
    };
    Ok(Plan {
        backend: backend.name(),
        module: Some(module),
        params,
    })
}

/// ramoops' parameters for the region setup reserved: the fixed address of `memmap=`, the name
/// of `reserve_mem=` (the kernel finds the address), or none for a device-tree node, which
/// describes itself. ECC stays off as in every lab run that kept a record.
fn ramoops_params(state: &ArmingState) -> Result<String, String> {
    let ramoops = state.ramoops.as_ref().ok_or_else(|| {
        "setup.json chose ramoops but describes no region: run `lastgasp setup` again".to_string()
    })?;
    let layout = format!("record_size={:#x} ecc=0", ramoops.record_size);
    match ramoops.placement {
        Placement::Memmap => {
            let address = ramoops.address.ok_or_else(|| {
                "setup.json places ramoops with memmap= but gives no address: run `lastgasp \
                 setup` again"
                    .to_string()
            })?;
            Ok(format!(
                "mem_address={address:#x} mem_size={:#x} {layout}",
                ramoops.size
            ))
        }
        Placement::ReserveMem => {
            let name = ramoops.mem_name.as_deref().ok_or_else(|| {
                "setup.json places ramoops with reserve_mem= but gives no name: run `lastgasp \
                 setup` again"
                    .to_string()
            })?;
            Ok(format!("mem_name={name} {layout}"))
        }
        Placement::Devicetree => Ok(String::new()),
    }
}

/// Arms the planned backend on the running kernel (`dry_run`: only says what it would do).
pub fn arm(root: &Path, release: &str, state: &ArmingState, plan: Plan, dry_run: bool) -> Armed {
    let before = backend::registered(root);
    let mut armed = Armed {
        plan,
        armed: false,
        action: "failed",
        registered: before.clone(),
        dependencies: Vec::new(),
        why: None,
        kernel_said: Vec::new(),
    };
    if let Some(holder) = &before {
        if backend::setup_name(holder) == Some(armed.plan.backend) {
            armed.armed = true;
            armed.action = "already-armed";
        } else {
            armed.why = Some(held_by(holder, armed.plan.backend));
        }
        return armed;
    }
    if let Some(why) = precondition(root, state, &armed.plan) {
        armed.why = Some(why);
        return armed;
    }
    let Some(module) = armed.plan.module else {
        // ERST is built in and registers at boot by itself; there is nothing to load.
        armed.why = Some(
            "ERST is not registered: the firmware offers no ACPI ERST table (or erst_disable \
             is on the command line, or the kernel lacks CONFIG_ACPI_APEI); choose another \
             backend with `lastgasp setup --backend`"
                .to_string(),
        );
        return armed;
    };
    if dry_run {
        armed.action = "dry-run";
        return armed;
    }
    let mut tail = sys::kmsg_tail::KmsgTail::open(&under_root(root, Path::new("/dev/kmsg")))
        .map_err(|e| tracing::debug!("cannot follow the kernel log: {e}"))
        .ok();
    let loaded = load_module(root, release, module, &armed.plan.params);
    let registered = wait_for_backend(root);
    armed.kernel_said = tail
        .as_mut()
        .and_then(|tail| tail.read_new().ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|line| is_pstore_line(line))
        .collect();
    armed.registered.clone_from(&registered);
    match loaded {
        Err(why) => armed.why = Some(why),
        Ok(loaded) => {
            armed.dependencies = loaded.dependencies;
            match &registered {
                Some(name) if backend::setup_name(name) == Some(armed.plan.backend) => {
                    armed.armed = true;
                    armed.action = "loaded";
                }
                Some(name) => armed.why = Some(held_by(name, armed.plan.backend)),
                None => {
                    armed.why = Some(not_registered(
                        state,
                        module,
                        loaded.outcome,
                        &armed.kernel_said,
                    ));
                }
            }
        }
    }
    armed
}

/// What can be known before loading anything.
fn precondition(root: &Path, state: &ArmingState, plan: &Plan) -> Option<String> {
    match plan.backend {
        "ramoops" => region_not_reserved(root, state),
        "efi" if !under_root(root, Path::new("/sys/firmware/efi")).is_dir() => Some(
            "this machine did not boot through UEFI (no /sys/firmware/efi): efi_pstore has no \
             variable store to write to; choose another backend with `lastgasp setup --backend`"
                .to_string(),
        ),
        "blk" => {
            let device = state.blk.as_ref()?.device.as_str();
            (device.starts_with("/dev/") && !under_root(root, Path::new(device)).exists()).then(
                || {
                    format!(
                        "pstore_blk's device {device} does not exist: run `lastgasp setup` \
                         again with the partition to use"
                    )
                },
            )
        }
        _ => None,
    }
}

/// ramoops maps whatever address it is given, reserved or not: a `memmap=` region that this
/// boot did not reserve (the parameter missing from the command line) is ordinary RAM, and
/// ramoops would overwrite memory the kernel hands out. /proc/iomem tells: the region must not
/// be System RAM. Without real addresses (not root) there is nothing to tell by.
fn region_not_reserved(root: &Path, state: &ArmingState) -> Option<String> {
    let ramoops = state.ramoops.as_ref()?;
    if ramoops.placement == Placement::ReserveMem {
        return name_not_reserved(root, ramoops.mem_name.as_deref()?, state);
    }
    let address = ramoops
        .address
        .filter(|_| ramoops.placement == Placement::Memmap)?;
    let last = address.checked_add(ramoops.size.checked_sub(1)?)?;
    let path = under_root(root, Path::new("/proc/iomem"));
    let resources = iomem::parse(&std::fs::read_to_string(&path).ok()?, &path).ok()?;
    let in_ram = resources
        .iter()
        .any(|r| r.depth == 0 && r.name == "System RAM" && r.start <= last && address <= r.end);
    let param = state
        .kernel_params
        .iter()
        .find(|param| param.starts_with("memmap="))
        .map_or("the memmap= parameter setup chose", String::as_str);
    in_ram.then(|| {
        format!(
            "the ramoops region at {address:#x} ({} KiB) is ordinary RAM in this boot (/proc/iomem: \
             System RAM), so loading ramoops there would overwrite memory in use: the running \
             kernel's command line lacks {param}; reboot after setup, or check that the \
             bootloader passes it (cat /proc/cmdline)",
            ramoops.size / 1024
        )
    })
}

/// A `reserve_mem=` region exists only when this boot's command line names it: without it
/// ramoops finds nothing by that name and registers nothing, silently.
fn name_not_reserved(root: &Path, name: &str, state: &ArmingState) -> Option<String> {
    let cmdline = std::fs::read_to_string(under_root(root, Path::new("/proc/cmdline"))).ok()?;
    let named = sys::cmdline::split(&cmdline).into_iter().any(|param| {
        param
            .strip_prefix("reserve_mem=")
            .is_some_and(|value| value.rsplit(':').next() == Some(name))
    });
    let param = state
        .kernel_params
        .iter()
        .find(|param| param.starts_with("reserve_mem="))
        .map_or("a reserve_mem= parameter", String::as_str);
    (!named).then(|| {
        format!(
            "this boot reserved no region named {name}: the running kernel's command line lacks \
             {param} (Linux 6.11 and later), which setup added; reboot after setup, or check \
             that the bootloader passes it (cat /proc/cmdline)"
        )
    })
}

/// Loads the module; one loaded before without a backend (wrong parameters, an earlier
/// attempt) is unloaded and loaded again with setup's.
fn load_module(
    root: &Path,
    release: &str,
    module: &str,
    params: &str,
) -> Result<kmod::Loaded, String> {
    let first = kmod::load(root, release, module, params).map_err(|e| explain_load(&e))?;
    if first.outcome != Outcome::AlreadyLoaded || params.is_empty() {
        return Ok(first);
    }
    tracing::info!(
        module,
        "loaded before without a backend; loading it again with setup's parameters"
    );
    sys::delete_module(module).map_err(|e| {
        format!(
            "{module} is loaded but registered no backend, and it cannot be unloaded to load it \
             with setup's parameters ({e}): `rmmod {module}`, then `lastgasp load` again"
        )
    })?;
    kmod::load(root, release, module, params).map_err(|e| explain_load(&e))
}

fn explain_load(error: &ModuleError) -> String {
    match error {
        ModuleError::Missing { name, release } => format!(
            "module {name} is neither built into {release} nor in its modules.dep: this kernel \
             lacks {}; choose another backend with `lastgasp setup --backend`",
            match name.as_str() {
                "ramoops" => "CONFIG_PSTORE_RAM",
                "efi_pstore" => "CONFIG_EFI_VARS_PSTORE",
                "pstore_blk" => "CONFIG_PSTORE_BLK",
                _ => "it",
            }
        ),
        other => format!("cannot load the backend's module: {other}"),
    }
}

/// Polls the registered backend for a moment after the module loaded.
fn wait_for_backend(root: &Path) -> Option<String> {
    let started = Instant::now();
    loop {
        let found = backend::registered(root);
        if found.is_some() || started.elapsed() >= REGISTER_WAIT {
            return found;
        }
        std::thread::sleep(POLL);
    }
}

/// pstore takes one backend at a time: the one that registered first keeps it.
fn held_by(holder: &str, wanted: &str) -> String {
    let fix = match backend::setup_name(holder) {
        Some("erst") => "boot with erst_disable on the kernel command line to leave pstore to \
                         it, or `lastgasp setup --backend erst` to use ERST"
            .to_string(),
        _ => format!(
            "unload {holder}'s module, or boot with pstore.backend={} so that only it may \
             register",
            kernel_name(wanted)
        ),
    };
    format!(
        "pstore is held by {holder}, which registered first, so {wanted} cannot register: {fix}"
    )
}

/// The name a backend registers under (pstore.backend= takes it).
fn kernel_name(setup_name: &str) -> &str {
    match setup_name {
        "efi" => "efi_pstore",
        "blk" => "pstore_blk",
        other => other,
    }
}

fn is_pstore_line(line: &str) -> bool {
    [
        "ramoops",
        "pstore",
        "efi_pstore",
        "efi-pstore",
        "persistent_ram",
        "erst",
    ]
    .iter()
    .any(|word| line.contains(word))
}

/// The module loaded and no backend registered: why, from the kernel's words where it said any.
pub fn not_registered(
    state: &ArmingState,
    module: &str,
    outcome: Outcome,
    kernel_said: &[String],
) -> String {
    let said = |needle: &str| kernel_said.iter().find(|line| line.contains(needle));
    let region_param = state
        .kernel_params
        .iter()
        .find(|param| param.starts_with("memmap=") || param.starts_with("reserve_mem="));
    if outcome == Outcome::Builtin {
        return format!(
            "{module} is built into this kernel, so it takes its parameters only from the kernel \
             command line: reboot so that the parameters setup wrote apply"
        );
    }
    if let Some(line) = said("request mem region").or_else(|| said("failed to request")) {
        return match region_param {
            Some(param) => format!(
                "the ramoops region is not reserved in this boot (kernel: \"{line}\"): the \
                 running kernel's command line lacks {param}, which setup added; reboot, or \
                 check that the bootloader passes it (cat /proc/cmdline)"
            ),
            None => format!(
                "the ramoops region is in use by something else (kernel: \"{line}\"): run \
                 `lastgasp setup` again to choose another"
            ),
        };
    }
    if let Some(line) = said("already in use").or_else(|| said("backend")) {
        return format!("pstore refused {module} (kernel: \"{line}\")");
    }
    if let Some(line) = kernel_said.last() {
        return format!("{module} loaded but registered no backend (kernel: \"{line}\")");
    }
    match (state.backend, region_param) {
        (Some(Backend::Ramoops), Some(param)) => format!(
            "{module} loaded but registered no backend and the kernel said nothing: the region \
             setup reserved with {param} is probably missing from this boot's command line"
        ),
        _ => format!("{module} loaded but registered no backend and the kernel said nothing"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lastgasp::arming_state::{Blk, Bootloader, Mode, Ramoops, VERSION};
    use std::collections::BTreeMap;

    fn state(backend: Backend) -> ArmingState {
        ArmingState {
            version: VERSION,
            mode: Mode::Pstore,
            backend: Some(backend),
            bootloader: Bootloader::Grub,
            kernel_params: vec!["memmap=1M$0x30000000".into()],
            ramoops: Some(Ramoops {
                placement: Placement::Memmap,
                address: Some(0x3000_0000),
                size: 1 << 20,
                record_size: 64 << 10,
                mem_name: None,
            }),
            blk: Some(Blk {
                device: "/dev/vdb".into(),
            }),
            crashkernel: None,
            sysctl: BTreeMap::new(),
            files: Vec::new(),
            pending_commands: Vec::new(),
        }
    }

    #[test]
    fn each_backend_gets_its_module_and_parameters() {
        let plan = |backend| super::plan(&state(backend)).unwrap();
        assert_eq!(plan(Backend::Ramoops).module, Some("ramoops"));
        assert_eq!(
            plan(Backend::Ramoops).params,
            "mem_address=0x30000000 mem_size=0x100000 record_size=0x10000 ecc=0"
        );
        assert_eq!(plan(Backend::Efi).module, Some("efi_pstore"));
        assert_eq!(plan(Backend::Efi).params, "");
        assert_eq!(plan(Backend::Erst).module, None);
        assert_eq!(
            plan(Backend::Blk).params,
            "blkdev=/dev/vdb kmsg_size=64 best_effort=y"
        );
        let mut named = state(Backend::Ramoops);
        named.ramoops = Some(Ramoops {
            placement: Placement::ReserveMem,
            address: None,
            size: 1 << 20,
            record_size: 32 << 10,
            mem_name: Some("oops".into()),
        });
        assert_eq!(
            super::plan(&named).unwrap().params,
            "mem_name=oops record_size=0x8000 ecc=0"
        );
        named.ramoops.as_mut().unwrap().placement = Placement::Devicetree;
        assert_eq!(super::plan(&named).unwrap().params, "");
    }

    #[test]
    fn an_incomplete_setup_json_says_to_run_setup_again() {
        let mut broken = state(Backend::Ramoops);
        broken.ramoops.as_mut().unwrap().address = None;
        assert!(plan(&broken).unwrap_err().contains("gives no address"));
        broken.ramoops = None;
        assert!(plan(&broken).unwrap_err().contains("describes no region"));
        let mut none = state(Backend::Ramoops);
        none.backend = None;
        assert!(plan(&none).unwrap_err().contains("names no pstore backend"));
    }

    #[test]
    fn a_backend_registered_first_holds_pstore() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("sys/module/pstore/parameters/backend");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "erst\n").unwrap();
        let state = state(Backend::Ramoops);
        let armed = arm(root.path(), "6.1", &state, plan(&state).unwrap(), false);
        assert!(!armed.armed);
        let why = armed.why.unwrap();
        assert!(why.starts_with("pstore is held by erst"), "{why}");
        assert!(why.contains("erst_disable"), "{why}");
        std::fs::write(&file, "ramoops\n").unwrap();
        let armed = arm(root.path(), "6.1", &state, plan(&state).unwrap(), false);
        assert!(armed.armed);
        assert_eq!(armed.action, "already-armed");
    }

    #[test]
    fn what_is_missing_before_loading_is_named() {
        let root = tempfile::tempdir().unwrap();
        let efi = state(Backend::Efi);
        let armed = arm(root.path(), "6.1", &efi, plan(&efi).unwrap(), true);
        assert!(armed.why.unwrap().contains("did not boot through UEFI"));
        let blk = state(Backend::Blk);
        let armed = arm(root.path(), "6.1", &blk, plan(&blk).unwrap(), true);
        assert!(armed.why.unwrap().contains("/dev/vdb does not exist"));
        let erst = state(Backend::Erst);
        let armed = arm(root.path(), "6.1", &erst, plan(&erst).unwrap(), true);
        assert!(armed.why.unwrap().starts_with("ERST is not registered"));
        // Nothing missing: a dry run stops before loading.
        std::fs::create_dir_all(root.path().join("sys/firmware/efi")).unwrap();
        let armed = arm(root.path(), "6.1", &efi, plan(&efi).unwrap(), true);
        assert_eq!((armed.action, armed.why), ("dry-run", None));
    }

    #[test]
    fn a_memmap_region_this_boot_did_not_reserve_is_not_used() {
        let root = tempfile::tempdir().unwrap();
        let iomem = root.path().join("proc/iomem");
        std::fs::create_dir_all(iomem.parent().unwrap()).unwrap();
        std::fs::write(
            &iomem,
            "00100000-3ffdffff : System RAM\n  1a000000-1b002596 : Kernel code\n",
        )
        .unwrap();
        let state = state(Backend::Ramoops);
        let armed = arm(root.path(), "6.1", &state, plan(&state).unwrap(), true);
        let why = armed.why.unwrap();
        assert!(why.starts_with("the ramoops region at 0x30000000 (1024 KiB) is ordinary RAM"));
        assert!(why.contains("lacks memmap=1M$0x30000000"), "{why}");
        // Reserved by memmap=: used.
        std::fs::write(
            &iomem,
            "00100000-2fffffff : System RAM\n30000000-300fffff : reserved\n\
             30100000-3ffdffff : System RAM\n",
        )
        .unwrap();
        let armed = arm(root.path(), "6.1", &state, plan(&state).unwrap(), true);
        assert_eq!((armed.action, armed.why), ("dry-run", None));
        // Addresses hidden (not root): nothing to tell by.
        std::fs::write(&iomem, "00000000-00000000 : System RAM\n").unwrap();
        let armed = arm(root.path(), "6.1", &state, plan(&state).unwrap(), true);
        assert_eq!(armed.why, None);
    }

    #[test]
    fn a_reserve_mem_region_must_be_on_the_command_line() {
        let root = tempfile::tempdir().unwrap();
        let cmdline = root.path().join("proc/cmdline");
        std::fs::create_dir_all(cmdline.parent().unwrap()).unwrap();
        std::fs::write(&cmdline, "root=/dev/vda quiet\n").unwrap();
        let mut state = state(Backend::Ramoops);
        state.kernel_params = vec!["reserve_mem=1M:4096:oops".into()];
        state.ramoops = Some(Ramoops {
            placement: Placement::ReserveMem,
            address: None,
            size: 1 << 20,
            record_size: 64 << 10,
            mem_name: Some("oops".into()),
        });
        let armed = arm(root.path(), "6.12", &state, plan(&state).unwrap(), true);
        let why = armed.why.unwrap();
        assert!(
            why.starts_with("this boot reserved no region named oops"),
            "{why}"
        );
        assert!(why.contains("lacks reserve_mem=1M:4096:oops"), "{why}");
        std::fs::write(&cmdline, "root=/dev/vda reserve_mem=2M:2M:dumps\n").unwrap();
        assert!(
            arm(root.path(), "6.12", &state, plan(&state).unwrap(), true)
                .why
                .is_some()
        );
        std::fs::write(&cmdline, "root=/dev/vda reserve_mem=1M:4096:oops quiet\n").unwrap();
        let armed = arm(root.path(), "6.12", &state, plan(&state).unwrap(), true);
        assert_eq!((armed.action, armed.why), ("dry-run", None));
    }

    #[test]
    fn a_missing_module_names_the_kernel_option() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("lib/modules/6.1.0-test");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("modules.dep"), "").unwrap();
        let state = state(Backend::Ramoops);
        let armed = arm(
            root.path(),
            "6.1.0-test",
            &state,
            plan(&state).unwrap(),
            false,
        );
        let why = armed.why.unwrap();
        assert!(why.contains("lacks CONFIG_PSTORE_RAM"), "{why}");
    }

    #[test]
    fn the_kernel_s_words_give_the_reason() {
        let state = state(Backend::Ramoops);
        let region = not_registered(
            &state,
            "ramoops",
            Outcome::Loaded,
            &["ramoops: request mem region (0x100000@0x30000000) failed".to_string()],
        );
        assert!(
            region.starts_with("the ramoops region is not reserved"),
            "{region}"
        );
        assert!(region.contains("lacks memmap=1M$0x30000000"), "{region}");
        let busy = not_registered(
            &state,
            "ramoops",
            Outcome::Loaded,
            &["pstore: backend 'erst' already in use: ignoring 'ramoops'".to_string()],
        );
        assert!(busy.starts_with("pstore refused ramoops"), "{busy}");
        let silent = not_registered(&state, "ramoops", Outcome::Loaded, &[]);
        assert!(silent.contains("probably missing"), "{silent}");
        let builtin = not_registered(&state, "ramoops", Outcome::Builtin, &[]);
        assert!(builtin.contains("built into this kernel"), "{builtin}");
    }
}
