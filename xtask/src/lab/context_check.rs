//! Checks of the context `lastgasp save` puts in a report, on the lab's real kernels: what it
//! read in the guest must match what the guest had (the ramoops region the console showed, the
//! UEFI variables efi-pstore wrote, QEMU as the machine).

use super::suite::Suite;
use anyhow::{Context, Result, ensure};
use serde_json::Value;

/// The facts of the report's context item `kind`, which must have been collected.
pub fn facts<'a>(manifest: &'a Value, kind: &str) -> Result<&'a Value> {
    let item = manifest["context"]
        .as_array()
        .and_then(|items| items.iter().find(|item| item["kind"] == kind))
        .with_context(|| format!("the report has no {kind} context"))?;
    ensure!(
        item.get("missing").is_none(),
        "the report's {kind} context is missing: {}",
        item["missing"]
    );
    Ok(&item["facts"])
}

fn number(facts: &Value, key: &str) -> Result<u64> {
    facts[key]
        .as_str()
        .and_then(|text| text.parse().ok())
        .with_context(|| format!("the firmware context has no number {key}: {facts}"))
}

/// efi-pstore's scenario: the firmware context saw UEFI, the dump variables of the crash (read
/// before save removed them) and, on kernels whose efivarfs answers statfs (6.12), the store's
/// size; the DMI context names QEMU. Returns a summary line.
pub fn verify_efi(manifest: &Value, suite: Suite) -> Result<String> {
    let firmware = facts(manifest, "firmware")?;
    ensure!(
        firmware["efi"] == "present",
        "the firmware context did not see UEFI: {firmware}"
    );
    let variables = number(firmware, "efi.dump-variables")?;
    ensure!(
        variables > 0,
        "the firmware context counted no efi-pstore variables"
    );
    let mut summary = format!("{variables} dump variables");
    if !suite.is_host() {
        let total = number(firmware, "efi.store-bytes")?;
        let free = number(firmware, "efi.store-free-bytes")?;
        ensure!(
            free < total,
            "the store has {free} bytes free of {total} with dumps in it"
        );
        summary.push_str(&format!(", store {free} of {total} bytes free"));
    }
    verify_qemu(manifest)?;
    Ok(summary)
}

/// The DMI context names the machine QEMU emulates.
pub fn verify_qemu(manifest: &Value) -> Result<()> {
    let dmi = facts(manifest, "dmi")?;
    ensure!(
        dmi["sys_vendor"] == "QEMU",
        "the DMI context does not name QEMU: {dmi}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest(firmware: Value) -> Value {
        json!({"context": [
            {"kind": "dmi", "facts": {"sys_vendor": "QEMU"}},
            {"kind": "firmware", "facts": firmware},
        ]})
    }

    #[test]
    fn efi_context_counts_variables_and_the_store() {
        let good = json!({"efi": "present", "efi.dump-variables": "14",
                          "efi.store-bytes": "262144", "efi.store-free-bytes": "200000"});
        assert_eq!(
            verify_efi(&manifest(good.clone()), Suite::Trixie).unwrap(),
            "14 dump variables, store 200000 of 262144 bytes free"
        );
        let old = json!({"efi": "present", "efi.dump-variables": "14"});
        assert_eq!(
            verify_efi(&manifest(old.clone()), Suite::Bookworm).unwrap(),
            "14 dump variables"
        );
        assert!(verify_efi(&manifest(old), Suite::Trixie).is_err());
        let none = json!({"efi": "present", "efi.dump-variables": "0"});
        assert!(verify_efi(&manifest(none), Suite::Bookworm).is_err());
        let missing = json!({"context": [{"kind": "firmware", "missing": "no pstore"}]});
        let err = verify_efi(&missing, Suite::Bookworm)
            .unwrap_err()
            .to_string();
        assert!(err.contains("firmware context is missing"), "{err}");
    }
}
