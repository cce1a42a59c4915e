//! Fuzz target for one dmesg record's bytes: ECC notice, header lines and decompression
//! never panic and stay within their output bounds.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pstore::fuzzing::check_record(data));
