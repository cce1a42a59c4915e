//! Fuzz target for any bytes as a vmcore file: ELF headers, notes, physical reads and, when
//! VMCOREINFO describes a log, the printk readers; none may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vmcore::fuzzing::check_elf(data));
