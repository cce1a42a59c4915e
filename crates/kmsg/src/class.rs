//! Crash classes: their kebab-case names, human labels, and how specific each one is.

/// What kind of crash a block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Panic,
    NullPointerDereference,
    PageFault,
    GeneralProtectionFault,
    Bug,
    DivideError,
    StackProtector,
    StackOverflow,
    DoubleFault,
    StackSegmentFault,
    Warning,
    SoftLockup,
    HardLockup,
    HungTask,
    RcuStall,
    OutOfMemory,
    /// `page allocation failure` / `vmalloc: allocation failure` (warn_alloc).
    AllocationFailure,
    MachineCheck,
    Sysrq,
    ListCorruption,
    Usercopy,
    Kasan,
    Kfence,
    Ubsan,
    Lockdep,
    /// A die line whose kind is not known more precisely.
    Oops,
    Unknown,
}

impl Class {
    /// The kebab-case name used in signatures and reports.
    pub fn name(self) -> &'static str {
        match self {
            Class::Panic => "panic",
            Class::NullPointerDereference => "null-pointer-dereference",
            Class::PageFault => "page-fault",
            Class::GeneralProtectionFault => "general-protection-fault",
            Class::Bug => "bug",
            Class::DivideError => "divide-error",
            Class::StackProtector => "stack-protector",
            Class::StackOverflow => "stack-overflow",
            Class::DoubleFault => "double-fault",
            Class::StackSegmentFault => "stack-segment-fault",
            Class::Warning => "warning",
            Class::SoftLockup => "soft-lockup",
            Class::HardLockup => "hard-lockup",
            Class::HungTask => "hung-task",
            Class::RcuStall => "rcu-stall",
            Class::OutOfMemory => "out-of-memory",
            Class::AllocationFailure => "allocation-failure",
            Class::MachineCheck => "machine-check",
            Class::Sysrq => "sysrq",
            Class::ListCorruption => "list-corruption",
            Class::Usercopy => "usercopy",
            Class::Kasan => "kasan",
            Class::Kfence => "kfence",
            Class::Ubsan => "ubsan",
            Class::Lockdep => "lockdep",
            Class::Oops => "oops",
            Class::Unknown => "unknown",
        }
    }

    /// How the class reads in a title.
    pub fn label(self) -> &'static str {
        match self {
            Class::Panic => "Kernel panic",
            Class::NullPointerDereference => "NULL pointer dereference",
            Class::PageFault => "Page fault",
            Class::GeneralProtectionFault => "General protection fault",
            Class::Bug => "Kernel BUG",
            Class::DivideError => "Divide error",
            Class::StackProtector => "Stack protector: kernel stack corrupted",
            Class::StackOverflow => "Kernel stack overflow",
            Class::DoubleFault => "Double fault",
            Class::StackSegmentFault => "Stack segment fault",
            Class::Warning => "WARNING",
            Class::SoftLockup => "Soft lockup",
            Class::HardLockup => "Hard lockup",
            Class::HungTask => "Hung task",
            Class::RcuStall => "RCU stall",
            Class::OutOfMemory => "Out of memory",
            Class::AllocationFailure => "Page allocation failure",
            Class::MachineCheck => "Machine check",
            Class::Sysrq => "SysRq triggered crash",
            Class::ListCorruption => "List corruption",
            Class::Usercopy => "Usercopy hardening violation",
            Class::Kasan => "KASAN report",
            Class::Kfence => "KFENCE report",
            Class::Ubsan => "UBSAN report",
            Class::Lockdep => "Lockdep report",
            Class::Oops => "Oops",
            Class::Unknown => "No crash found",
        }
    }

    /// When two headlines of one block disagree, the more specific class wins: an
    /// explanation printed before the oops (`list_del corruption`, `usercopy:`, `sysrq:
    /// Trigger a crash`, a stack guard page hit) says more than the fault it caused, and a
    /// fault headline says more than the bare die line (`invalid opcode`, `Oops`).
    pub fn specificity(self) -> u8 {
        match self {
            Class::Sysrq
            | Class::ListCorruption
            | Class::Usercopy
            | Class::StackOverflow
            | Class::Kasan
            | Class::Kfence
            | Class::Ubsan
            | Class::MachineCheck => 3,
            Class::Bug | Class::Oops | Class::Unknown | Class::Panic => 1,
            _ => 2,
        }
    }
}
