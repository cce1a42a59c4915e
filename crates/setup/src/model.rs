//! The choices setup makes, as names shared by the configuration, the command line and
//! setup.json: what is armed (mode), through which pstore backend, on which boot set-up, and
//! where the ramoops region lives.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What gets armed: pstore (the kernel's log kept across a warm reboot), kdump (a capture kernel
/// loaded in reserved memory) or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Pstore,
    Kdump,
    Both,
}

/// The pstore backend: where the kernel writes its last log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A region of RAM that a warm reboot keeps (module ramoops).
    Ramoops,
    /// UEFI variables (module efi_pstore).
    Efi,
    /// ACPI's Error Record Serialization Table, in firmware-managed storage.
    Erst,
    /// A disk partition (module pstore_blk).
    Blk,
}

/// How the kernel command line reaches the kernel on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bootloader {
    Grub,
    SystemdBoot,
    Uki,
    /// None that setup can edit: the user adds the parameters by hand.
    Manual,
}

/// How the ramoops region is reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// `memmap=SIZE$ADDR`: a fixed physical address taken out of usable RAM.
    Memmap,
    /// `reserve_mem=SIZE:ALIGN:NAME` (Linux 6.11+): the kernel picks the address at each boot.
    ReserveMem,
    /// The firmware's device tree already has a ramoops node; used as it is.
    Devicetree,
}

/// The ramoops region and record layout that `lastgasp load` hands to the module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ramoops {
    pub placement: Placement,
    /// The physical address for `mem_address=`; `None` when the kernel finds it (reserve_mem,
    /// device tree).
    pub address: Option<u64>,
    pub size: u64,
    pub record_size: u64,
    /// The `reserve_mem=` name for `mem_name=`.
    pub mem_name: Option<String>,
}

/// The block device pstore_blk writes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blk {
    pub device: String,
}

macro_rules! names {
    ($type:ty, $what:literal, $($variant:ident = $name:literal),+) => {
        impl $type {
            pub fn name(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
        }
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
        impl FromStr for $type {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($name => Ok(Self::$variant),)+
                    other => Err(format!(
                        concat!("unknown ", $what, " {:?}: expected {}"),
                        other,
                        [$($name),+].join(", ")
                    )),
                }
            }
        }
    };
}

names!(
    Mode,
    "mode",
    Pstore = "pstore",
    Kdump = "kdump",
    Both = "both"
);
names!(
    Backend,
    "backend",
    Ramoops = "ramoops",
    Efi = "efi",
    Erst = "erst",
    Blk = "blk"
);
names!(
    Bootloader,
    "bootloader",
    Grub = "grub",
    SystemdBoot = "systemd-boot",
    Uki = "uki",
    Manual = "manual"
);
names!(
    Placement,
    "placement",
    Memmap = "memmap",
    ReserveMem = "reserve_mem",
    Devicetree = "devicetree"
);

impl Mode {
    pub fn wants_pstore(self) -> bool {
        matches!(self, Self::Pstore | Self::Both)
    }

    pub fn wants_kdump(self) -> bool {
        matches!(self, Self::Kdump | Self::Both)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for b in [
            Bootloader::Grub,
            Bootloader::SystemdBoot,
            Bootloader::Uki,
            Bootloader::Manual,
        ] {
            assert_eq!(b.name().parse::<Bootloader>(), Ok(b));
            assert_eq!(
                serde_json::to_string(&b).unwrap(),
                format!("\"{}\"", b.name())
            );
        }
        for p in [
            Placement::Memmap,
            Placement::ReserveMem,
            Placement::Devicetree,
        ] {
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.name())
            );
        }
        for m in [Mode::Pstore, Mode::Kdump, Mode::Both] {
            assert_eq!(m.name().parse::<Mode>(), Ok(m));
        }
        for b in [Backend::Ramoops, Backend::Efi, Backend::Erst, Backend::Blk] {
            assert_eq!(b.name().parse::<Backend>(), Ok(b));
        }
        assert!(
            "lilo"
                .parse::<Bootloader>()
                .unwrap_err()
                .contains("systemd-boot")
        );
    }
}
