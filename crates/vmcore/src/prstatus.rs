//! NT_PRSTATUS notes: what each CPU was doing when the kernel crashed (the task's pid, the
//! program counter and stack pointer), from `struct elf_prstatus` as x86_64 and aarch64 lay it
//! out: `pr_pid` at byte 32, the general registers from byte 112.

use crate::bytes::{u32_at, u64_at};
use crate::{Machine, Note};

const PID_OFFSET: usize = 32;
const REGISTERS_OFFSET: usize = 112;

/// One CPU's saved state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuState {
    /// The task running on the CPU (0 for the idle task).
    pub pid: u32,
    /// `rip` / `pc`.
    pub pc: u64,
    /// `rsp` / `sp`.
    pub sp: u64,
}

impl CpuState {
    /// Reads an NT_PRSTATUS note's descriptor; `None` if it is too short for `machine`.
    pub fn parse(machine: Machine, note: &Note<'_>) -> Option<Self> {
        if !note.is_prstatus() {
            return None;
        }
        // Register indexes in `user_regs_struct` (x86_64: r15 .. rip at 16, rsp at 19) and
        // `user_pt_regs` (aarch64: x0..x30, then sp at 31 and pc at 32).
        let (pc_index, sp_index) = match machine {
            Machine::X86_64 => (16, 19),
            Machine::Aarch64 => (32, 31),
        };
        let register = |i: usize| u64_at(note.desc, REGISTERS_OFFSET + 8 * i);
        Some(CpuState {
            pid: u32_at(note.desc, PID_OFFSET)?,
            pc: register(pc_index)?,
            sp: register(sp_index)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prstatus(pid: u32, registers: &[(usize, u64)], len: usize) -> Vec<u8> {
        let mut desc = vec![0u8; len];
        desc[PID_OFFSET..PID_OFFSET + 4].copy_from_slice(&pid.to_le_bytes());
        for &(i, value) in registers {
            let at = REGISTERS_OFFSET + 8 * i;
            desc[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        desc
    }

    #[test]
    fn registers_by_machine() {
        let desc = prstatus(42, &[(16, 0xffff_ffff_8100_0000), (19, 0x1234)], 336);
        let note = Note {
            name: b"CORE",
            kind: 1,
            desc: &desc,
        };
        assert_eq!(
            CpuState::parse(Machine::X86_64, &note),
            Some(CpuState {
                pid: 42,
                pc: 0xffff_ffff_8100_0000,
                sp: 0x1234
            })
        );
        let desc = prstatus(7, &[(32, 0xffff_8000_0810_0000), (31, 0x5678)], 392);
        let note = Note {
            desc: &desc,
            ..note
        };
        let cpu = CpuState::parse(Machine::Aarch64, &note).unwrap();
        assert_eq!(
            (cpu.pid, cpu.pc, cpu.sp),
            (7, 0xffff_8000_0810_0000, 0x5678)
        );
        // Too short for aarch64's pc; not a PRSTATUS note at all.
        let short = prstatus(7, &[], 300);
        assert_eq!(
            CpuState::parse(
                Machine::Aarch64,
                &Note {
                    desc: &short,
                    ..note
                }
            ),
            None
        );
        let other = Note { kind: 0, ..note };
        assert_eq!(CpuState::parse(Machine::Aarch64, &other), None);
    }
}
