//! The guest architectures the lab boots: x86_64 (the host's own, lastgasp runs inside the
//! guest) and aarch64 (Debian's arm64 kernel under qemu-system-aarch64, the crash-test module
//! cross-built; no arm64 Rust target here, so the host collects its records).

/// A guest architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// `uname -m` of the guest; also the fixture folder name.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// Debian's architecture name.
    pub fn debian(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }

    pub fn qemu(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-system-x86_64",
            Arch::Aarch64 => "qemu-system-aarch64",
        }
    }

    /// The GNU triplet of its cross toolchain.
    pub fn gnu_type(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-linux-gnu",
            Arch::Aarch64 => "aarch64-linux-gnu",
        }
    }

    /// Whether the guest runs lastgasp itself (the host has a Rust target only for its own).
    pub fn native(self) -> bool {
        self == Arch::X86_64
    }

    /// QEMU machine arguments and the console that goes with them.
    pub fn machine(self) -> (&'static [&'static str], &'static str) {
        match self {
            Arch::X86_64 => (&[], "console=ttyS0"),
            Arch::Aarch64 => (
                &["-machine", "virt", "-cpu", "cortex-a57"],
                "console=ttyAMA0",
            ),
        }
    }

    /// Kernel command line that keeps the ramoops region (see lab/guest/init) away from the
    /// kernel. `memmap=` is x86-only: on arm64 `mem=` leaves the top of the 1 GiB to ramoops.
    pub fn ramoops_reserve(self) -> &'static str {
        match self {
            Arch::X86_64 => "memmap=1M$0x3f000000",
            Arch::Aarch64 => "mem=1000M",
        }
    }
}
