//! Fuzz target for `kmsg::analyze`: any bytes, decoded lossily as the CLI does, never make it
//! panic, and the analysis keeps its invariants (signature shape, determinism, JSON round trip).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsg::fuzzing::check_analyze(data));
