//! Fuzz target for lastgasp-server's netconsole receiver: any bytes, cut into datagrams at 0xff,
//! as one sender could send them (plain text, extended records, fragments in any order), are
//! parsed and kept without a panic, within the window's limits
//! (`server::fuzzing::check_netconsole`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| server::fuzzing::check_netconsole(data));
