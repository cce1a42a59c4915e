//! Command output on stdout. Writes go through here so that a closed pipe (`lastgasp list |
//! head -1`) ends the command quietly instead of panicking like `println!` does.

use std::io::{self, Write};

/// Writes `text` to stdout and flushes it.
pub fn emit(text: &str) -> io::Result<()> {
    emit_bytes(text.as_bytes())
}

/// Writes raw bytes (a kernel log, which need not be UTF-8) to stdout and flushes it.
pub fn emit_bytes(bytes: &[u8]) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()
}

/// Writes `text` and a newline.
pub fn line(text: &str) -> io::Result<()> {
    emit(&format!("{text}\n"))
}

/// Whether `error` is stdout's reader going away, which is not a failure of the command.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}
