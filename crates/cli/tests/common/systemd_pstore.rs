//! The real systemd-pstore over a fake root. It has no directory options, so it runs in a private
//! mount namespace (`unshare -m`) with the records bind-mounted over /sys/fs/pstore and the fake
//! root's archive over /var/lib/systemd/pstore. That needs root, unshare and systemd; when one is
//! missing the caller gets the reason, and fails with it.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Output};

/// Where Debian and others install it; on a merged /usr both name the same file.
const CANDIDATES: &[&str] = &[
    "/usr/lib/systemd/systemd-pstore",
    "/lib/systemd/systemd-pstore",
];

/// The wrapper's exit status when the bind mounts fail (no private mount namespace here).
const NO_NAMESPACE: i32 = 99;

/// systemd-pstore started over `records` (its /sys/fs/pstore) and `archive` (its
/// /var/lib/systemd/pstore); `Err` says why it cannot run here. Wait for it with `finish`.
pub fn spawn(records: &Path, archive: &Path) -> Result<Child, String> {
    let binary = CANDIDATES
        .iter()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| {
            format!(
                "systemd-pstore is not installed ({})",
                CANDIDATES.join(", ")
            )
        })?;
    if !Path::new("/sys/fs/pstore").is_dir() {
        return Err("/sys/fs/pstore does not exist to mount over".to_owned());
    }
    // systemd's tmpfiles makes this directory on a booted system; a fresh container may lack it.
    fs::create_dir_all("/var/lib/systemd/pstore")
        .map_err(|e| format!("/var/lib/systemd/pstore does not exist to mount over: {e}"))?;
    let script = format!(
        "mount --bind \"$1\" /sys/fs/pstore && \
         mount --bind \"$2\" /var/lib/systemd/pstore || exit {NO_NAMESPACE}; \
         exec \"$3\""
    );
    Command::new("unshare")
        .args(["-m", "sh", "-c", &script, "sh"])
        .arg(records)
        .arg(archive)
        .arg(binary)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run unshare: {err}"))
}

/// Waits for a `spawn`ed systemd-pstore; `Err` when the namespace could not be set up. Its own
/// exit status is the caller's to judge.
pub fn finish(child: Child) -> Result<Output, String> {
    let out = child
        .wait_with_output()
        .map_err(|e| format!("cannot wait for unshare: {e}"))?;
    match out.status.code() {
        Some(NO_NAMESPACE) | None => Err(format!(
            "no private mount namespace here ({:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Some(_) => Ok(out),
    }
}

/// Runs systemd-pstore to its end; panics when it fails, `Err` when it cannot run here.
pub fn run(records: &Path, archive: &Path) -> Result<(), String> {
    let out = finish(spawn(records, archive)?)?;
    assert!(
        out.status.success(),
        "systemd-pstore failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
