//! `/proc/iomem` and where a `memmap=` ramoops region can go. The region must be usable RAM
//! (top-level "System RAM", nothing else claimed inside it), never a hole the firmware owns,
//! below 4 GiB, and away from where the boot chain puts things: the first MiB (BIOS data,
//! real-mode trampolines), the kernel loaded at 16 MiB, and the top of the memory below 4 GiB,
//! where GRUB loads the initramfs (the lab lost a region at 0x3f000000 in a 1 GiB guest and kept
//! one at 0x30000000). So the region goes at three quarters of the RAM below 4 GiB, or as close
//! below that as a free range allows, never under [`FLOOR`]. Pure.

use crate::error::{Error, Result};

pub const MIB: u64 = 1 << 20;
const FOUR_GIB: u64 = 1 << 32;
/// Nothing below this: the first MiB, the kernel at 16 MiB with room for its decompressed image,
/// its bss and early allocations.
pub const FLOOR: u64 = 128 * MIB;

/// One line of `/proc/iomem`: an inclusive range, its name and its nesting depth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub start: u64,
    /// Inclusive, as the file writes it.
    pub end: u64,
    pub name: String,
    pub depth: usize,
}

/// Parses `/proc/iomem`. Errors name the line; an all-zero map (what an unprivileged reader
/// sees) is an error saying so.
pub fn parse(text: &str, origin: &std::path::Path) -> Result<Vec<Resource>> {
    let mut resources = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| Error::Invalid {
            path: origin.to_path_buf(),
            message: format!("line {}: {why}: {line:?}", index + 1),
        };
        let indent = line.len() - line.trim_start().len();
        let (range, name) = line
            .trim_start()
            .split_once(" : ")
            .ok_or_else(|| bad("expected \"START-END : NAME\""))?;
        let (start, end) = range
            .split_once('-')
            .ok_or_else(|| bad("expected START-END"))?;
        let hex = |s: &str| u64::from_str_radix(s.trim(), 16).map_err(|_| bad("not hexadecimal"));
        let (start, end) = (hex(start)?, hex(end)?);
        if end < start {
            return Err(bad("range ends before it starts"));
        }
        resources.push(Resource {
            start,
            end,
            name: name.trim().to_string(),
            depth: indent / 2,
        });
    }
    if resources.iter().all(|r| r.start == 0 && r.end == 0) {
        return Err(Error::Invalid {
            path: origin.to_path_buf(),
            message: "every address reads 0 (the kernel hides them from non-root readers): \
                      run setup as root"
                .into(),
        });
    }
    Ok(resources)
}

/// Free usable RAM below 4 GiB as half-open `[start, end)` ranges: top-level "System RAM" minus
/// everything nested in it (kernel code and data, "Crash kernel", an existing ramoops region).
pub fn free_low_ram(resources: &[Resource]) -> Vec<(u64, u64)> {
    let mut free = Vec::new();
    for (at, ram) in resources.iter().enumerate() {
        if ram.depth != 0 || ram.name != "System RAM" || ram.start >= FOUR_GIB {
            continue;
        }
        let end = ram.end.saturating_add(1).min(FOUR_GIB);
        let mut taken: Vec<(u64, u64)> = resources
            .iter()
            .skip(at + 1)
            .take_while(|r| r.depth > 0)
            .map(|r| (r.start, r.end.saturating_add(1)))
            .collect();
        taken.sort_unstable();
        let mut cursor = ram.start;
        for (from, to) in taken {
            if from > cursor {
                free.push((cursor, from.min(end)));
            }
            cursor = cursor.max(to);
        }
        if cursor < end {
            free.push((cursor, end));
        }
    }
    free.retain(|(from, to)| to > from);
    free
}

/// Where a region of `size` bytes goes: 1 MiB aligned, at three quarters of the RAM below 4 GiB
/// (its highest address rounded up to 64 MiB, as the firmware's last reserved pages make it end
/// a little short) or the closest free place below that, not under [`FLOOR`].
pub fn choose(resources: &[Resource], size: u64, origin: &std::path::Path) -> Result<u64> {
    let free = free_low_ram(resources);
    let no_room = |why: String| Error::Invalid {
        path: origin.to_path_buf(),
        message: format!("no room for a {} KiB ramoops region: {why}", size / 1024),
    };
    let top = free
        .iter()
        .map(|&(_, end)| end)
        .max()
        .ok_or_else(|| no_room("no usable \"System RAM\" below 4 GiB".into()))?;
    let target = align_down(align_up(top, 64 * MIB) / 4 * 3, MIB);
    let size = size.div_ceil(MIB) * MIB;
    let best = free
        .iter()
        .filter_map(|&(from, to)| {
            let lowest = align_up(from.max(FLOOR), MIB);
            let highest = align_down(to.checked_sub(size)?, MIB).min(target);
            (highest >= lowest).then_some(highest)
        })
        .max();
    best.ok_or_else(|| {
        no_room(format!(
            "no free, 1 MiB-aligned range of usable RAM between {:#x} and {:#x} (three quarters \
             of the RAM below 4 GiB, ending at {top:#x}); use backend efi or kdump instead",
            FLOOR,
            target + size
        ))
    })
}

/// Whether a region setup placed before still fits after a reboot under its `memmap=`: below
/// 4 GiB, not under [`FLOOR`], covered by usable RAM or the "Reserved" range `memmap=` turned it
/// into, with nothing but ramoops' own claims nested inside. Keeping the address keeps setup's
/// second run equal to its first.
pub fn still_fits(resources: &[Resource], address: u64, size: u64) -> bool {
    let end = address.saturating_add(size);
    if address < FLOOR || end > FOUR_GIB {
        return false;
    }
    let overlapping = |r: &&Resource| r.start < end && r.end >= address;
    let mut covered = address;
    let mut top: Vec<&Resource> = resources
        .iter()
        .filter(|r| r.depth == 0)
        .filter(overlapping)
        .collect();
    top.sort_by_key(|r| r.start);
    for r in &top {
        if !matches!(r.name.as_str(), "System RAM" | "Reserved" | "reserved") || r.start > covered {
            return false;
        }
        covered = covered.max(r.end.saturating_add(1));
    }
    covered >= end
        && resources
            .iter()
            .filter(|r| r.depth > 0)
            .filter(overlapping)
            .all(|r| r.name.starts_with("ramoops"))
}

/// The innermost resource that covers all of `[start, start + size)`: what holds a region, for
/// status to tell a region reserved as setup wanted from one lost to RAM.
pub fn holder(resources: &[Resource], start: u64, size: u64) -> Option<&Resource> {
    let last = start.checked_add(size.checked_sub(1)?)?;
    resources
        .iter()
        .filter(|r| r.start <= start && last <= r.end)
        .max_by_key(|r| r.depth)
}

fn align_down(value: u64, to: u64) -> u64 {
    value / to * to
}

fn align_up(value: u64, to: u64) -> u64 {
    value.div_ceil(to) * to
}

/// The `reg` of a device-tree ramoops node (two 64-bit big-endian cells: address, size), as in
/// `/proc/device-tree/reserved-memory/ramoops@.../reg`. Other cell layouts give `None`.
pub fn devicetree_reg(bytes: &[u8]) -> Option<(u64, u64)> {
    let cells: [u8; 16] = bytes.try_into().ok()?;
    let (address, size) = cells.split_at(8);
    Some((
        u64::from_be_bytes(address.try_into().ok()?),
        u64::from_be_bytes(size.try_into().ok()?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const QEMU_1G: &str = include_str!("../tests/fixtures/iomem/qemu-1g.txt");
    const QEMU_4G: &str = include_str!("../tests/fixtures/iomem/qemu-4g-pci-hole.txt");
    const NO_ROOM: &str = include_str!("../tests/fixtures/iomem/no-room.txt");

    fn pick(text: &str) -> Result<u64> {
        let origin = Path::new("/proc/iomem");
        choose(&parse(text, origin)?, MIB, origin)
    }

    #[test]
    fn a_1g_guest_gets_the_address_that_survived_in_the_lab() {
        // 0x30000000 kept its record across a warm reboot; 0x3f000000 (the top) lost it.
        assert_eq!(pick(QEMU_1G).unwrap(), 0x3000_0000);
    }

    #[test]
    fn the_pci_hole_and_ram_above_4g_are_left_alone() {
        let address = pick(QEMU_4G).unwrap();
        let resources = parse(QEMU_4G, Path::new("x")).unwrap();
        let ram = resources
            .iter()
            .find(|r| {
                r.depth == 0
                    && r.name == "System RAM"
                    && r.start <= address
                    && r.end >= address + MIB - 1
            })
            .expect("inside one System RAM range");
        assert!(ram.end < FOUR_GIB);
        assert_eq!(address, 0x9000_0000);
    }

    #[test]
    fn no_room_says_so() {
        let error = pick(NO_ROOM).unwrap_err().to_string();
        assert!(
            error.starts_with("/proc/iomem: no room for a 1024 KiB ramoops region"),
            "{error}"
        );
    }

    #[test]
    fn nested_claims_are_not_free() {
        let text = "00001000-0009fbff : System RAM\n\
                    00100000-3ffdffff : System RAM\n\
                    \x20 01000000-01ffffff : Kernel code\n\
                    \x20 2f800000-307fffff : Crash kernel\n\
                    3ffe0000-3fffffff : Reserved\n";
        let resources = parse(text, Path::new("x")).unwrap();
        assert_eq!(
            free_low_ram(&resources),
            [
                (0x1000, 0x9fc00),
                (0x10_0000, 0x100_0000),
                (0x200_0000, 0x2f80_0000),
                (0x3080_0000, 0x3ffe_0000)
            ]
        );
        // Three quarters of 0x3ffe0000 is inside the crash kernel: the next free place below.
        assert_eq!(
            choose(&resources, MIB, Path::new("x")).unwrap(),
            0x2f70_0000
        );
    }

    #[test]
    fn unprivileged_and_broken_maps_are_errors() {
        let zeros = "00000000-00000000 : System RAM\n00000000-00000000 : Reserved\n";
        assert!(
            parse(zeros, Path::new("/proc/iomem"))
                .unwrap_err()
                .to_string()
                .contains("run setup as root")
        );
        let error = parse("00000000-0000ffff System RAM\n", Path::new("/proc/iomem")).unwrap_err();
        assert!(
            error.to_string().starts_with("/proc/iomem: line 1:"),
            "{error}"
        );
    }

    #[test]
    fn a_region_reserved_by_memmap_still_fits_after_the_reboot() {
        let text = "00100000-2fffffff : System RAM\n\
                    30000000-300fffff : Reserved\n\
                    \x20 30000000-3001ffff : ramoops:dmesg(0/7)\n\
                    30100000-3ffdffff : System RAM\n\
                    \x20 38000000-38ffffff : Crash kernel\n";
        let resources = parse(text, Path::new("x")).unwrap();
        assert!(still_fits(&resources, 0x3000_0000, MIB));
        assert!(
            !still_fits(&resources, 0x37f0_0000, 2 * MIB),
            "crash kernel inside"
        );
        assert!(
            !still_fits(&resources, 0x3ff0_0000, 2 * MIB),
            "runs past RAM"
        );
        assert!(!still_fits(&resources, 0x10_0000, MIB), "under the floor");
    }

    #[test]
    fn the_innermost_covering_line_holds_the_range() {
        let text = "00000000-00000fff : Reserved\n\
                    00001000-0009fbff : System RAM\n\
                    00100000-3effffff : System RAM\n\
                    \x20 1a000000-1b002596 : Kernel code\n\
                    3f000000-3f0fffff : reserved\n\
                    3f100000-3ffdffff : System RAM\n";
        let resources = parse(text, Path::new("x")).unwrap();
        assert_eq!(resources.len(), 6);
        let held = holder(&resources, 0x3f00_0000, 0x10_0000).unwrap();
        assert_eq!(held.name, "reserved");
        let held = holder(&resources, 0x1a00_0000, 0x1000).unwrap();
        assert_eq!(held.name, "Kernel code");
        // Across two lines: nothing holds all of it.
        assert_eq!(holder(&resources, 0x3eff_0000, 0x2_0000), None);
        assert_eq!(holder(&resources, 0, 0), None);
    }

    #[test]
    fn devicetree_reg_is_two_big_endian_cells() {
        let mut reg = 0x8f00_0000u64.to_be_bytes().to_vec();
        reg.extend(0x10_0000u64.to_be_bytes());
        assert_eq!(devicetree_reg(&reg), Some((0x8f00_0000, 0x10_0000)));
        assert_eq!(devicetree_reg(&reg[..8]), None);
    }
}
