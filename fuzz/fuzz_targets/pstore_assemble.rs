//! Fuzz target for `assemble`: records carved from the input never make it panic, and every
//! record ends up in exactly one crash.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pstore::fuzzing::check_assemble(data));
