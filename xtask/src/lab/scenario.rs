//! The lab's scenarios: which pstore backend a guest arms, how it crashes, and what the report
//! collected on the next boot must show.

use super::arch::Arch;
use super::suite::Suite;

/// A pstore backend as the lab arms it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Ramoops,
    /// ramoops in a region `reserve_mem=` placed (see `reserve_mem`).
    RamoopsReserveMem,
    Efi,
    Erst,
    Blk,
}

impl Backend {
    /// The word the guest's `/init` understands (`lab.backend=`).
    pub fn guest_name(self) -> &'static str {
        match self {
            Backend::Ramoops => "ramoops",
            Backend::RamoopsReserveMem => super::reserve_mem::GUEST_NAME,
            Backend::Efi => "efi",
            Backend::Erst => "erst",
            Backend::Blk => "blk",
        }
    }

    /// The backend names the kernel puts in record file names (efi-pstore was `efi` before 6.2).
    pub fn kernel_names(self) -> &'static [&'static str] {
        match self {
            Backend::Ramoops | Backend::RamoopsReserveMem => &["ramoops"],
            Backend::Efi => &["efi", "efi_pstore"],
            Backend::Erst => &["erst"],
            Backend::Blk => &["pstore_blk", "pstore-blk"],
        }
    }
}

/// One boot-crash-reboot-collect run.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub arch: Arch,
    /// Whose kernel the guest boots.
    pub suite: Suite,
    pub backend: Backend,
    /// The crash-test module's crash kind, or `sysrq`/`oops-live` (see lab/guest/init).
    pub crash: String,
    /// Whether the kernel panics (pstore/blk without a panic writer only keeps the Oops).
    pub panics: bool,
    /// For the analysis corpus: which boot of this crash kind this run is.
    pub corpus_boot: Option<u32>,
}

/// The four backend scenarios of the test suite, on one kernel, and on 6.12 ramoops placed by
/// `reserve_mem=`.
pub fn backends(suite: Suite) -> Vec<Scenario> {
    let scenario = |backend: Backend, crash: &str, panics| Scenario {
        name: format!("{}{}", backend.guest_name(), suite.name_suffix()),
        arch: Arch::X86_64,
        suite,
        backend,
        crash: crash.to_owned(),
        panics,
        corpus_boot: None,
    };
    let mut scenarios = vec![
        scenario(Backend::Ramoops, "null", true),
        scenario(Backend::Efi, "null", true),
        scenario(Backend::Erst, "null", true),
        scenario(Backend::Blk, "oops-live", false),
    ];
    // reserve_mem= is Linux 6.11's: the 6.12 guests only.
    if !suite.is_host() {
        scenarios.push(scenario(Backend::RamoopsReserveMem, "null", true));
    }
    scenarios
}

/// Crash kinds of the analysis corpus (`tests/fixtures/kmsg`), each collected through ramoops.
pub const CORPUS_KINDS: &[&str] = &[
    "null",
    "pagefault",
    "gpf",
    "bug",
    "divzero",
    "warn",
    "panic",
    "softlockup",
    "rcustall",
    "hung",
    "oom",
    "sysrq",
    "stackprotector",
    "stackoverflow",
    "listcorrupt",
    "usercopy",
    "mce",
];

/// Corpus kinds crashed afresh by `cargo xtask ci`, checked against their committed signatures.
pub const CI_KINDS: &[&str] = &["null", "bug", "warn", "softlockup"];

/// Corpus kinds CI crashes on 6.12 too, against the same goldens.
pub const CI_KINDS_NEWER: &[&str] = &["null", "warn"];

/// The boot number of CI's fresh crashes (the committed corpus holds boots 1 and 2).
pub const CI_BOOT: u32 = 3;

/// The corpus scenario for one crash kind on one boot.
pub fn corpus(arch: Arch, suite: Suite, kind: &str, boot: u32) -> Scenario {
    let prefix = if arch == Arch::X86_64 {
        String::new()
    } else {
        format!("{}-", arch.name())
    };
    Scenario {
        name: format!("{prefix}kind-{kind}-boot{boot}{}", suite.name_suffix()),
        arch,
        suite,
        backend: Backend::Ramoops,
        crash: kind.to_owned(),
        panics: true,
        corpus_boot: Some(boot),
    }
}

/// Corpus kinds aarch64 cannot have: arm64 has no divide trap and no non-canonical addresses,
/// and QEMU injects machine checks on x86 only.
const X86_ONLY_KINDS: &[&str] = &["gpf", "divzero", "mce"];

/// The whole analysis corpus on one kernel: every kind on two boots, x86_64 and (on bookworm,
/// whose arm64 headers the lab cross-builds against) aarch64.
pub fn full_corpus(suite: Suite) -> Vec<Scenario> {
    let arm = CORPUS_KINDS
        .iter()
        .filter(|kind| suite.is_host() && !X86_ONLY_KINDS.contains(kind))
        .map(|kind| (Arch::Aarch64, *kind));
    let kinds = CORPUS_KINDS
        .iter()
        .map(|kind| (Arch::X86_64, *kind))
        .chain(arm);
    kinds
        .flat_map(|(arch, kind)| [corpus(arch, suite, kind, 1), corpus(arch, suite, kind, 2)])
        .collect()
}
