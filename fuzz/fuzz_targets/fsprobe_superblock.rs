//! Fuzz target for `fsprobe::probe`: any first bytes of a device give a filesystem, nothing or
//! an error, never a panic, and a filesystem found has a well-formed UUID and label.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fsprobe::fuzzing::check_superblock(data));
