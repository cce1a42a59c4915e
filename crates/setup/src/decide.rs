//! The choices: what to arm (mode), through which pstore backend, where the ramoops region goes,
//! and the kernel parameters that follow, each with the reason a user reads. Pure: [`Facts`] is
//! gathered by `probe`, [`Wishes`] come from the configuration and the command line.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::iomem::{self, MIB};
use crate::kernel::{self, Presence};
use crate::model::{Backend, Blk, Mode, Placement, Ramoops};

/// The `reserve_mem=` region's name, also `ramoops.mem_name=`.
pub const MEM_NAME: &str = "lastgasp";
/// `reserve_mem=`'s alignment: 2 MiB, not a page. reserve_mem= is parsed after the per-cpu areas
/// are set up, and a page-aligned region lands in the unused tail of a per-cpu unit, which early
/// boot zeroes at every boot before the reservation is made: the record is gone. A 2 MiB-aligned
/// region cannot start inside such a tail (docs/reserve-mem.md; the lab's
/// ramoops-reserve-mem-6.12 scenario).
const RESERVE_MEM_ALIGN: &str = "2M";

/// What the machine has, as far as setup cares.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The running kernel's release (`/proc/sys/kernel/osrelease`).
    pub release: Option<String>,
    /// ACPI's ERST table is there.
    pub erst: bool,
    /// Booted through UEFI (`/sys/firmware/efi`).
    pub efi_booted: bool,
    pub efi_pstore: Presence,
    /// The kernel leaves efi_pstore off unless told (CONFIG_EFI_VARS_PSTORE_DEFAULT_DISABLE).
    pub efi_pstore_default_disabled: bool,
    pub ramoops: Presence,
    pub pstore_blk: Presence,
    /// `/proc/iomem` (where it was read, its text); `None` when it could not be read.
    pub iomem: Option<(PathBuf, String)>,
    /// A device-tree ramoops node, with its `reg` when it has the usual two 64-bit cells.
    pub devicetree_ramoops: Option<Option<(u64, u64)>>,
}

/// Where the ramoops region should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementWish {
    /// `memmap=`, unless selftest has shown `reserve_mem=` regions survive a reboot here.
    Auto,
    Memmap,
    ReserveMem,
}

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Wishes {
    /// `None`: auto (pstore when a backend exists, else kdump).
    pub mode: Option<Mode>,
    /// `None`: auto (ERST, then efi, then ramoops, then blk when configured).
    pub backend: Option<Backend>,
    pub placement: PlacementWish,
    pub ramoops_size: u64,
    pub record_size: u64,
    pub blk_device: Option<String>,
    /// A selftest passed with a `reserve_mem=` region on this machine.
    pub reserve_mem_proven: bool,
    /// The region the last setup chose, kept when it still fits.
    pub previous_ramoops: Option<Ramoops>,
}

/// What setup arms, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub mode: Mode,
    pub backend: Option<Backend>,
    pub ramoops: Option<Ramoops>,
    pub blk: Option<Blk>,
    /// One sentence per choice, for the summary.
    pub reasons: Vec<String>,
    /// What the user should know before relying on it.
    pub warnings: Vec<String>,
}

fn invalid(message: String) -> Error {
    Error::Invalid {
        path: PathBuf::from("[setup]"),
        message,
    }
}

/// Decides mode, backend and placement.
pub fn decide(facts: &Facts, wishes: &Wishes) -> Result<Decision> {
    let mut decision = Decision {
        mode: Mode::Pstore,
        backend: None,
        ramoops: None,
        blk: None,
        reasons: Vec::new(),
        warnings: Vec::new(),
    };
    let wants_pstore = wishes.mode.is_none_or(Mode::wants_pstore);
    if wants_pstore {
        match wishes.backend {
            Some(backend) => {
                forced_backend(facts, wishes, backend, &mut decision)?;
                decision.backend = Some(backend);
            }
            None => decision.backend = auto_backend(facts, wishes, &mut decision)?,
        }
    }
    decision.mode = match (wishes.mode, decision.backend) {
        (Some(mode), Some(_)) | (Some(mode @ Mode::Kdump), None) => {
            decision.reasons.push(format!("mode {mode}: asked for"));
            mode
        }
        (Some(mode), None) => {
            return Err(invalid(format!(
                "mode {mode} needs a pstore backend and this machine has none that setup can arm \
                 ({}); use mode = \"kdump\"",
                decision.reasons.join("; ")
            )));
        }
        (None, Some(_)) => {
            decision
                .reasons
                .push("mode pstore: a pstore backend can be armed".into());
            Mode::Pstore
        }
        (None, None) => {
            decision
                .reasons
                .push("mode kdump: no pstore backend can be armed here".into());
            Mode::Kdump
        }
    };
    if decision.mode == Mode::Kdump {
        if let Some(backend) = wishes.backend {
            decision.warnings.push(format!(
                "backend {backend} is ignored: mode kdump arms no pstore backend"
            ));
        }
        decision.backend = None;
        decision.ramoops = None;
        decision.blk = None;
    }
    if decision.mode == Mode::Both {
        decision.warnings.push(
            "mode both adds crash_kexec_post_notifiers: the panic notifiers and the pstore dump \
             run before the capture kernel starts, so a crash inside them (a broken driver's \
             notifier, a hung firmware call in efi_pstore) can keep kdump from running at all"
                .into(),
        );
    }
    Ok(decision)
}

fn auto_backend(
    facts: &Facts,
    wishes: &Wishes,
    decision: &mut Decision,
) -> Result<Option<Backend>> {
    if facts.erst {
        decision
            .reasons
            .push("backend erst: the firmware's ACPI ERST table is there; its storage outlives a power cut".into());
        return Ok(Some(Backend::Erst));
    }
    if facts.efi_booted && facts.efi_pstore.available() {
        decision.reasons.push(
            "backend efi: booted through UEFI and the kernel has efi_pstore; records are UEFI \
             variables, which survive a power cut"
                .into(),
        );
        return Ok(Some(Backend::Efi));
    }
    let why_not_efi = if facts.efi_booted {
        "the kernel has no efi_pstore"
    } else {
        "not booted through UEFI"
    };
    if facts.ramoops != Presence::Missing {
        match placement(facts, wishes) {
            Ok((ramoops, why)) => {
                decision.reasons.push(format!(
                    "backend ramoops: no ERST, {why_not_efi}; a RAM region kept across warm \
                     reboots (not across a power cut)"
                ));
                decision.reasons.push(why);
                decision.ramoops = Some(ramoops);
                return Ok(Some(Backend::Ramoops));
            }
            // A placement the user named is a demand, not a preference.
            Err(error) if wishes.placement != PlacementWish::Auto => return Err(error),
            Err(error) => decision.reasons.push(format!("no ramoops region: {error}")),
        }
    }
    if let Some(device) = &wishes.blk_device
        && facts.pstore_blk != Presence::Missing
    {
        decision
            .reasons
            .push(format!("backend blk: no ERST, {why_not_efi}, no ramoops region; pstore_blk on {device} as configured"));
        decision.blk = Some(Blk {
            device: device.clone(),
        });
        return Ok(Some(Backend::Blk));
    }
    decision.reasons.push(format!(
        "no pstore backend: no ERST, {why_not_efi}, no ramoops region, no [setup] blk_device"
    ));
    Ok(None)
}

fn forced_backend(
    facts: &Facts,
    wishes: &Wishes,
    backend: Backend,
    decision: &mut Decision,
) -> Result<()> {
    let missing = |what: &str| invalid(format!("backend {backend} was asked for, but {what}"));
    match backend {
        Backend::Erst if !facts.erst => return Err(missing("the firmware has no ACPI ERST table")),
        Backend::Efi if !facts.efi_booted => {
            return Err(missing("this machine did not boot through UEFI"));
        }
        Backend::Efi if facts.efi_pstore == Presence::Missing => {
            return Err(missing("the kernel has no efi_pstore"));
        }
        Backend::Ramoops if facts.ramoops == Presence::Missing => {
            return Err(missing("the kernel has no ramoops (CONFIG_PSTORE_RAM)"));
        }
        Backend::Ramoops => {
            let (ramoops, why) = placement(facts, wishes)?;
            decision.reasons.push(why);
            decision.ramoops = Some(ramoops);
        }
        Backend::Blk => {
            let device = wishes
                .blk_device
                .clone()
                .ok_or_else(|| missing("[setup] blk_device names no partition"))?;
            if facts.pstore_blk == Presence::Missing {
                return Err(missing("the kernel has no pstore_blk (CONFIG_PSTORE_BLK)"));
            }
            decision.blk = Some(Blk { device });
        }
        Backend::Erst | Backend::Efi => {}
    }
    decision
        .reasons
        .insert(0, format!("backend {backend}: asked for"));
    Ok(())
}

/// Where the ramoops region goes, and the sentence saying why.
fn placement(facts: &Facts, wishes: &Wishes) -> Result<(Ramoops, String)> {
    if let Some(reg) = facts.devicetree_ramoops {
        let (address, size) = reg.unzip();
        return Ok((
            Ramoops {
                placement: Placement::Devicetree,
                address,
                size: size.unwrap_or(wishes.ramoops_size),
                record_size: wishes.record_size,
                mem_name: None,
            },
            "ramoops region: the device tree's, used as it is".into(),
        ));
    }
    let release = facts.release.as_deref().unwrap_or("");
    let reserve_mem = || Ramoops {
        placement: Placement::ReserveMem,
        address: None,
        size: wishes.ramoops_size,
        record_size: wishes.record_size,
        mem_name: Some(MEM_NAME.into()),
    };
    match wishes.placement {
        PlacementWish::ReserveMem if !kernel::has_reserve_mem(release) => Err(invalid(format!(
            "placement reserve_mem needs Linux 6.11 or later; this kernel is {release:?}"
        ))),
        PlacementWish::ReserveMem => Ok((
            reserve_mem(),
            "ramoops region: reserve_mem=, as asked; the kernel picks the address at each boot".into(),
        )),
        PlacementWish::Auto if wishes.reserve_mem_proven && kernel::has_reserve_mem(release) => Ok((
            reserve_mem(),
            "ramoops region: reserve_mem=, which a selftest on this machine has shown to survive a reboot".into(),
        )),
        PlacementWish::Memmap => memmap(facts, wishes),
        PlacementWish::Auto => memmap(facts, wishes).map(|(r, why)| {
            let why = if kernel::has_reserve_mem(release) {
                format!(
                    "{why}; preferred to reserve_mem= until a selftest shows that survives here \
                     (its address depends on what early boot allocated before it; see \
                     docs/reserve-mem.md)"
                )
            } else {
                why
            };
            (r, why)
        }),
    }
}

fn memmap(facts: &Facts, wishes: &Wishes) -> Result<(Ramoops, String)> {
    let (origin, text) = facts.iomem.as_ref().ok_or_else(|| {
        invalid("/proc/iomem could not be read, so no memmap= region can be placed".into())
    })?;
    let resources = iomem::parse(text, origin)?;
    let size = wishes.ramoops_size.div_ceil(MIB) * MIB;
    let region = |address| Ramoops {
        placement: Placement::Memmap,
        address: Some(address),
        size,
        record_size: wishes.record_size,
        mem_name: None,
    };
    if let Some(previous) = &wishes.previous_ramoops
        && previous.placement == Placement::Memmap
        && previous.size == size
        && let Some(address) = previous.address
        && iomem::still_fits(&resources, address, size)
    {
        return Ok((
            region(address),
            format!("ramoops region: memmap= at {address:#x}, where the last setup put it"),
        ));
    }
    let address = iomem::choose(&resources, size, origin)?;
    Ok((
        region(address),
        format!(
            "ramoops region: memmap= at {address:#x}, in usable RAM at three quarters of the \
             memory below 4 GiB, clear of the kernel and of the initramfs GRUB loads at the top"
        ),
    ))
}

/// A size as kernel parameters write it: `1M`, `512K`, or bytes.
pub fn size_param(bytes: u64) -> String {
    if bytes.is_multiple_of(MIB) {
        format!("{}M", bytes / MIB)
    } else if bytes.is_multiple_of(1024) {
        format!("{}K", bytes / 1024)
    } else {
        bytes.to_string()
    }
}

/// The kernel parameters for `decision`, in the order they are written.
pub fn kernel_params(decision: &Decision, facts: &Facts, crashkernel: Option<&str>) -> Vec<String> {
    let mut params = Vec::new();
    if let Some(ramoops) = &decision.ramoops {
        match ramoops.placement {
            Placement::Memmap => {
                let address = ramoops.address.unwrap_or_default();
                params.push(format!("memmap={}${address:#x}", size_param(ramoops.size)));
                params.push(format!("ramoops.mem_address={address:#x}"));
                params.push(format!("ramoops.mem_size={:#x}", ramoops.size));
                params.push(format!("ramoops.record_size={:#x}", ramoops.record_size));
            }
            Placement::ReserveMem => {
                params.push(format!(
                    "reserve_mem={}:{RESERVE_MEM_ALIGN}:{MEM_NAME}",
                    size_param(ramoops.size)
                ));
                params.push(format!("ramoops.mem_name={MEM_NAME}"));
                params.push(format!("ramoops.record_size={:#x}", ramoops.record_size));
            }
            Placement::Devicetree => {}
        }
    }
    if decision.backend == Some(Backend::Efi) && facts.efi_pstore_default_disabled {
        params.push("efi_pstore.pstore_disable=0".into());
    }
    // pstore takes one backend, the first to register: ERST from its built-in driver, and on a
    // UEFI machine efi_pstore, which systemd loads early (modprobe@efi_pstore.service, wanted by
    // systemd-pstore). The lab's systemd-boot guest had efi where setup had armed ramoops. Any
    // other backend must be named for pstore to take it.
    let efi_first = facts.efi_booted && facts.efi_pstore.available();
    match decision.backend {
        Some(Backend::Ramoops) if facts.erst || efi_first => {
            params.push("pstore.backend=ramoops".into());
        }
        Some(Backend::Efi) if facts.erst => params.push("pstore.backend=efi_pstore".into()),
        _ => {}
    }
    if decision.mode.wants_kdump()
        && let Some(size) = crashkernel
    {
        params.push(format!("crashkernel={size}"));
    }
    if decision.mode == Mode::Both {
        params.push("crash_kexec_post_notifiers".into());
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU_1G: &str = include_str!("../tests/fixtures/iomem/qemu-1g.txt");
    const NO_ROOM: &str = include_str!("../tests/fixtures/iomem/no-room.txt");

    fn bios_guest(iomem: &str) -> Facts {
        Facts {
            release: Some("6.1.0-57-amd64".into()),
            efi_pstore: Presence::Module,
            ramoops: Presence::Module,
            pstore_blk: Presence::Module,
            iomem: Some(("/proc/iomem".into(), iomem.into())),
            ..Facts::default()
        }
    }

    fn wishes() -> Wishes {
        Wishes {
            mode: None,
            backend: None,
            placement: PlacementWish::Auto,
            ramoops_size: MIB,
            record_size: 128 << 10,
            blk_device: None,
            reserve_mem_proven: false,
            previous_ramoops: None,
        }
    }

    #[test]
    fn a_bios_guest_gets_ramoops_by_memmap() {
        let facts = bios_guest(QEMU_1G);
        let d = decide(&facts, &wishes()).unwrap();
        assert_eq!((d.mode, d.backend), (Mode::Pstore, Some(Backend::Ramoops)));
        let r = d.ramoops.clone().unwrap();
        assert_eq!(
            (r.placement, r.address),
            (Placement::Memmap, Some(0x3000_0000))
        );
        assert_eq!(
            kernel_params(&d, &facts, None),
            [
                "memmap=1M$0x30000000",
                "ramoops.mem_address=0x30000000",
                "ramoops.mem_size=0x100000",
                "ramoops.record_size=0x20000"
            ]
        );
    }

    #[test]
    fn erst_then_efi_come_first() {
        let mut facts = bios_guest(QEMU_1G);
        facts.efi_booted = true;
        assert_eq!(
            decide(&facts, &wishes()).unwrap().backend,
            Some(Backend::Efi)
        );
        facts.erst = true;
        let d = decide(&facts, &wishes()).unwrap();
        assert_eq!(d.backend, Some(Backend::Erst));
        assert!(kernel_params(&d, &facts, None).is_empty());
        // Asking for ramoops on an ERST machine names the backend for pstore.
        let forced = Wishes {
            backend: Some(Backend::Ramoops),
            ..wishes()
        };
        let d = decide(&facts, &forced).unwrap();
        assert!(kernel_params(&d, &facts, None).contains(&"pstore.backend=ramoops".to_string()));
    }

    #[test]
    fn no_backend_falls_back_to_kdump_and_says_why() {
        let facts = bios_guest(NO_ROOM);
        let d = decide(&facts, &wishes()).unwrap();
        assert_eq!((d.mode, d.backend), (Mode::Kdump, None));
        assert!(
            d.reasons
                .iter()
                .any(|r| r.contains("no room for a 1024 KiB ramoops region")),
            "{:?}",
            d.reasons
        );
        assert_eq!(
            kernel_params(&d, &facts, Some("160M")),
            ["crashkernel=160M"]
        );
        let kdump = Wishes {
            mode: Some(Mode::Kdump),
            backend: Some(Backend::Efi),
            ..wishes()
        };
        let d = decide(&facts, &kdump).unwrap();
        assert_eq!((d.mode, d.backend), (Mode::Kdump, None));
        assert!(
            d.warnings[0].contains("backend efi is ignored"),
            "{:?}",
            d.warnings
        );
        let forced = Wishes {
            backend: Some(Backend::Ramoops),
            ..wishes()
        };
        let error = decide(&facts, &forced).unwrap_err().to_string();
        assert!(error.starts_with("/proc/iomem: no room"), "{error}");
        let pstore = Wishes {
            mode: Some(Mode::Pstore),
            ..wishes()
        };
        assert!(
            decide(&facts, &pstore)
                .unwrap_err()
                .to_string()
                .contains("use mode = \"kdump\"")
        );
    }

    #[test]
    fn reserve_mem_only_when_proven_or_asked_and_the_kernel_has_it() {
        let mut facts = bios_guest(QEMU_1G);
        facts.release = Some("6.12.48+deb13-amd64".into());
        let d = decide(&facts, &wishes()).unwrap();
        assert_eq!(d.ramoops.as_ref().unwrap().placement, Placement::Memmap);
        assert!(
            d.reasons
                .iter()
                .any(|r| r.contains("until a selftest shows"))
        );
        let proven = Wishes {
            reserve_mem_proven: true,
            ..wishes()
        };
        let d = decide(&facts, &proven).unwrap();
        assert_eq!(
            kernel_params(&d, &facts, None),
            [
                "reserve_mem=1M:2M:lastgasp",
                "ramoops.mem_name=lastgasp",
                "ramoops.record_size=0x20000"
            ]
        );
        facts.release = Some("6.1.0-57-amd64".into());
        let asked = Wishes {
            placement: PlacementWish::ReserveMem,
            ..wishes()
        };
        assert!(
            decide(&facts, &asked)
                .unwrap_err()
                .to_string()
                .contains("needs Linux 6.11")
        );
    }

    #[test]
    fn both_adds_post_notifiers_with_a_warning() {
        let facts = bios_guest(QEMU_1G);
        let both = Wishes {
            mode: Some(Mode::Both),
            ..wishes()
        };
        let d = decide(&facts, &both).unwrap();
        let params = kernel_params(&d, &facts, Some("256M"));
        assert_eq!(
            params[params.len() - 2..],
            ["crashkernel=256M", "crash_kexec_post_notifiers"]
        );
        assert!(d.warnings[0].contains("crash_kexec_post_notifiers"));
    }

    #[test]
    fn the_previous_region_is_kept_after_memmap_reserved_it() {
        let facts = bios_guest(
            "00100000-2fffffff : System RAM\n30000000-300fffff : Reserved\n30100000-3ffdffff : System RAM\n",
        );
        let previous = Ramoops {
            placement: Placement::Memmap,
            address: Some(0x3000_0000),
            size: MIB,
            record_size: 128 << 10,
            mem_name: None,
        };
        let again = Wishes {
            previous_ramoops: Some(previous),
            ..wishes()
        };
        let d = decide(&facts, &again).unwrap();
        assert_eq!(d.ramoops.unwrap().address, Some(0x3000_0000));
    }

    #[test]
    fn blk_only_when_a_device_is_configured_and_devicetree_as_it_is() {
        let mut facts = bios_guest(NO_ROOM);
        let with_device = Wishes {
            blk_device: Some("/dev/vdb1".into()),
            ..wishes()
        };
        let d = decide(&facts, &with_device).unwrap();
        assert_eq!(d.backend, Some(Backend::Blk));
        assert_eq!(d.blk.unwrap().device, "/dev/vdb1");
        let forced = Wishes {
            backend: Some(Backend::Blk),
            ..wishes()
        };
        assert!(
            decide(&facts, &forced)
                .unwrap_err()
                .to_string()
                .contains("blk_device")
        );
        facts.devicetree_ramoops = Some(Some((0x8f00_0000, MIB)));
        let d = decide(&facts, &wishes()).unwrap();
        let r = d.ramoops.clone().unwrap();
        assert_eq!(
            (r.placement, r.address),
            (Placement::Devicetree, Some(0x8f00_0000))
        );
        assert!(kernel_params(&d, &facts, None).is_empty());
    }

    #[test]
    fn efi_pstore_off_by_default_is_turned_on() {
        let mut facts = bios_guest(QEMU_1G);
        facts.efi_booted = true;
        facts.efi_pstore_default_disabled = true;
        let d = decide(&facts, &wishes()).unwrap();
        assert_eq!(
            kernel_params(&d, &facts, None),
            ["efi_pstore.pstore_disable=0"]
        );
        facts.efi_pstore = Presence::Missing;
        let forced = Wishes {
            backend: Some(Backend::Efi),
            ..wishes()
        };
        assert!(
            decide(&facts, &forced)
                .unwrap_err()
                .to_string()
                .contains("no efi_pstore")
        );
    }

    #[test]
    fn setup_after_the_reboot_keeps_the_region_memmap_reserved() {
        // /proc/iomem of the lab's Debian 12 GRUB guest booted with setup's memmap=1M$0x30000000.
        let facts = bios_guest(include_str!(
            "../tests/fixtures/iomem/qemu-1g-memmap-reserved.txt"
        ));
        let previous = Ramoops {
            placement: Placement::Memmap,
            address: Some(0x3000_0000),
            size: MIB,
            record_size: 128 << 10,
            mem_name: None,
        };
        let again = Wishes {
            previous_ramoops: Some(previous),
            ..wishes()
        };
        assert_eq!(
            decide(&facts, &again).unwrap().ramoops.unwrap().address,
            Some(0x3000_0000)
        );
        // Without the previous choice the reserved range is not free RAM: setup picks below it.
        let fresh = decide(&facts, &wishes()).unwrap().ramoops.unwrap().address;
        assert_eq!(fresh, Some(0x2ff0_0000));
    }

    #[test]
    fn ramoops_on_a_uefi_machine_is_named_for_pstore() {
        let mut facts = bios_guest(QEMU_1G);
        facts.efi_booted = true;
        let forced = Wishes {
            backend: Some(Backend::Ramoops),
            ..wishes()
        };
        let d = decide(&facts, &forced).unwrap();
        assert!(kernel_params(&d, &facts, None).contains(&"pstore.backend=ramoops".to_string()));
        // Booted by UEFI with efi_pstore the auto choice is efi, which needs no name.
        let d = decide(&facts, &wishes()).unwrap();
        assert!(kernel_params(&d, &facts, None).is_empty());
    }

    #[test]
    fn sizes_in_kernel_units() {
        assert_eq!(size_param(MIB), "1M");
        assert_eq!(size_param(512 << 10), "512K");
        assert_eq!(size_param(1000), "1000");
    }
}
