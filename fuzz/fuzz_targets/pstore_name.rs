//! Fuzz target for pstore file names: parsing never panics, and a parsed name formats
//! back to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pstore::fuzzing::check_name(data));
