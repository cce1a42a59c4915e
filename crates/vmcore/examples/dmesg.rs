//! Prints a vmcore's kernel log as `makedumpfile --dump-dmesg` would, with what it cost on
//! stderr: `cargo run --release -p lastgasp-vmcore --example dmesg -- VMCORE > dmesg.txt`.

use std::io::Write;
use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dmesg VMCORE");
        std::process::exit(2);
    };
    let start = Instant::now();
    let result = vmcore::Vmcore::open(&path).and_then(|core| {
        let memory = core.kernel_memory()?;
        let info = core.vmcoreinfo().cloned().unwrap_or_default();
        let log = vmcore::read_log(&memory, &info)?;
        Ok((core.machine(), core.cpu_count(), log, memory.stats()))
    });
    match result {
        Ok((machine, cpus, log, stats)) => {
            std::io::stdout()
                .write_all(&log.to_makedumpfile_text())
                .expect("stdout");
            eprintln!(
                "{machine}, {cpus} CPUs, {} records, complete: {}, {} pages read, {} cache hits, {:.3} s",
                log.records.len(),
                log.complete,
                stats.pages_read,
                stats.cache_hits,
                start.elapsed().as_secs_f64()
            );
            for warning in &log.warnings {
                eprintln!("warning: {warning}");
            }
        }
        Err(err) => {
            eprintln!("dmesg: {err}");
            std::process::exit(1);
        }
    }
}
