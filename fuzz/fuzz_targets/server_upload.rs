//! Fuzz target for lastgasp-server's upload parser (`server::ingest::parse`): any body, as a
//! client could send it, is refused or accepted without a panic, within the limits, and an
//! accepted one is self-consistent.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| server::fuzzing::check_upload(data));
