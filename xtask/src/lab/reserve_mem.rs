//! The ramoops region placed by `reserve_mem=` (Linux 6.11+, so the 6.12 guests only) instead of
//! `memmap=` at a fixed address: the kernel picks the region at every boot and ramoops finds it
//! by name (`mem_name=`). The scenario proves a record survives the warm reboot with the
//! placement `lastgasp setup` should write, and that both boots put the region at one address.
//!
//! Why the alignment (docs/reserve-mem.md): `reserve_mem=` is handled in start_kernel's
//! parse_args(), after setup_per_cpu_areas(); memblock hands it the highest free block, which on
//! x86_64 is the unused tail of the per-cpu first chunk (a 2 MiB unit, zeroed by memblock on
//! every boot and then partly given back). `reserve_mem=1M:4096:oops` lands in that tail and
//! comes back empty; a 2 MiB alignment cannot start inside a tail, so the region lands below the
//! chunk, in memory nothing wrote to earlier in boot.

use super::context_check;
use anyhow::{Context, Result, ensure};

/// The kernel parameter the scenario boots with.
pub const PARAMETER: &str = "reserve_mem=1M:2M:oops";

/// The backend word the guest's `/init` knows: ramoops with `mem_name=oops`.
pub const GUEST_NAME: &str = "ramoops-reserve-mem";

/// The address ramoops used on each boot, from the serial console
/// (`ramoops: using 0x100000@0x3ea00000, ecc: 0`).
fn regions(serial: &str) -> Vec<&str> {
    serial
        .lines()
        .filter_map(|line| line.split_once("ramoops: using ")?.1.split(',').next())
        // "ramoops: using module parameters" comes first on each boot.
        .filter(|region| region.contains('@'))
        .collect()
}

/// Checks that ramoops used a reserved region on both boots (the crashed one and the one that
/// collected), at the same address, and that the report's context (read by `save` on the real
/// guest) names that region and the machine; returns the region for the summary.
pub fn verify(serial: &[u8], manifest: &serde_json::Value) -> Result<String> {
    let serial = String::from_utf8_lossy(serial);
    ensure!(
        serial
            .lines()
            .any(|line| line.contains("Kernel command line:") && line.contains(PARAMETER)),
        "the guest's command line lacks {PARAMETER}"
    );
    let used = regions(&serial);
    ensure!(
        used.len() == 2,
        "expected ramoops to register on two boots, it did on {}: {used:?}",
        used.len()
    );
    ensure!(
        used[0] == used[1],
        "the region moved between boots: {} then {}",
        used[0],
        used[1]
    );
    verify_context(manifest, used[0])?;
    Ok(used[0].to_owned())
}

/// The firmware context holds ramoops' parameters as the collecting boot had them: the region
/// by name and at the address the console showed (`0x100000@0x3f800000`; sysfs prints it in
/// decimal); the DMI context names QEMU.
fn verify_context(manifest: &serde_json::Value, region: &str) -> Result<()> {
    let firmware = context_check::facts(manifest, "firmware")?;
    ensure!(
        firmware["pstore.backend"] == "ramoops" && firmware["ramoops.mem_name"] == "oops",
        "the firmware context does not show ramoops with mem_name=oops: {firmware}"
    );
    let address = region
        .split_once('@')
        .and_then(|(_, address)| u64::from_str_radix(address.trim_start_matches("0x"), 16).ok())
        .with_context(|| format!("no address in {region:?}"))?;
    ensure!(
        firmware["ramoops.mem_address"] == address.to_string().as_str(),
        "the firmware context's ramoops.mem_address is {}, the console said {region}",
        firmware["ramoops.mem_address"]
    );
    context_check::verify_qemu(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(address: &str) -> serde_json::Value {
        serde_json::json!({"context": [
            {"kind": "dmi", "facts": {"sys_vendor": "QEMU"}},
            {"kind": "firmware", "facts": {"pstore.backend": "ramoops", "ramoops.mem_name": "oops",
                                           "ramoops.mem_address": address}},
        ]})
    }

    #[test]
    fn the_context_names_the_region_the_console_showed() {
        let region = "0x100000@0x3ea00000";
        verify_context(&manifest("1050673152"), region).unwrap();
        let err = verify_context(&manifest("1056964608"), region).unwrap_err();
        assert!(err.to_string().contains("ramoops.mem_address is"), "{err}");
        let missing =
            serde_json::json!({"context": [{"kind": "firmware", "missing": "no pstore"}]});
        let err = verify_context(&missing, region).unwrap_err();
        assert!(
            err.to_string().contains("firmware context is missing"),
            "{err}"
        );
        let err = verify_context(&serde_json::json!({}), region).unwrap_err();
        assert!(err.to_string().contains("has no firmware context"), "{err}");
    }

    #[test]
    fn one_region_on_both_boots() {
        let serial = format!(
            "[0.0] Kernel command line: console=ttyS0 {PARAMETER}\n\
             [6.0] ramoops: using module parameters\n\
             [6.0] ramoops: using 0x100000@0x3ea00000, ecc: 0\n\
             [5.0] ramoops: using 0x100000@0x3ea00000, ecc: 0\n"
        );
        assert_eq!(
            verify(serial.as_bytes(), &manifest("1050673152")).unwrap(),
            "0x100000@0x3ea00000"
        );
        let moved = serial.replacen("0x3ea00000", "0x3ed00000", 1);
        let err = verify(moved.as_bytes(), &manifest("1050673152"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("moved between boots"), "{err}");
        let once = format!("Kernel command line: {PARAMETER}\nramoops: using 1@2, ecc: 0\n");
        assert!(verify(once.as_bytes(), &manifest("1050673152")).is_err());
        assert!(
            verify(
                b"ramoops: using 1@2, ecc: 0\nramoops: using 1@2, ecc: 0\n",
                &manifest("2")
            )
            .is_err()
        );
    }
}
