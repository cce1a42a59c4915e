//! Writes a synthetic x86_64 vmcore (ELF, like /proc/vmcore) with a printk ring holding the
//! lines of a text file, for comparing with makedumpfile and vmcore-dmesg by hand:
//! `cargo run -p lastgasp-vmcore --example synthetic_vmcore -- LINES.txt OUT.vmcore`.

use vmcore::synthetic_kernel::{SyntheticKernel, SyntheticRecord};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        eprintln!("usage: synthetic_vmcore LINES.txt OUT.vmcore");
        std::process::exit(2);
    };
    let text = std::fs::read(input)?;
    let records: Vec<SyntheticRecord> = text
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| {
            // "\n" written as the two characters \ n becomes an embedded newline.
            let line = String::from_utf8_lossy(line).replace("\\n", "\n");
            SyntheticRecord::new(i as u64 * 1_234_567_891, line.as_bytes())
        })
        .collect();
    let mut kernel = SyntheticKernel::new();
    kernel.lockless_ring(&records, 8, 14, 0);
    kernel.describe_flatmem();
    std::fs::write(output, kernel.elf(1))
}
