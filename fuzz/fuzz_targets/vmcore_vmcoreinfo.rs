//! Fuzz target for VMCOREINFO text: parsing and typed getters never panic and agree with
//! the raw entries.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vmcore::fuzzing::check_vmcoreinfo(data));
