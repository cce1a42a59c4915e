//! Fuzz target for kernel command line splitting: never panics, loses nothing but whitespace,
//! keeps the parameters in order.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sys::fuzzing::check_cmdline(data));
