//! Fuzz target for a kdump-compressed file: opening it and reading its pages never panics,
//! and every page read is exactly one page.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kdumpfile::fuzzing::check_read(data));
