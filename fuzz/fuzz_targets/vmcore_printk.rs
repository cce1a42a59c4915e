//! Fuzz target for the printk ring buffer reader: a synthetic kernel's ring damaged by the
//! input's bytes is read with bounded work and results within the ring's bounds.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vmcore::fuzzing::check_printk(data));
