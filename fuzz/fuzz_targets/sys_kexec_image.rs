//! Fuzz target for kernel image detection: never panics, and the format it reports has its
//! magic where it should.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sys::fuzzing::check_image_header(data));
