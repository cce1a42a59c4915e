//! What a finished lab run must show: `lastgasp save` succeeded, made one report from the
//! backend's records, the report's log holds what the serial console printed before the crash
//! (in order, nothing doubled), and the records are gone from pstore.

use super::scenario::Scenario;
use anyhow::{Context, Result, bail, ensure};
use std::path::{Path, PathBuf};

/// The files the guest wrote to its output disk, unpacked.
pub struct Collected {
    pub dir: PathBuf,
    pub report_dir: PathBuf,
    pub manifest: serde_json::Value,
}

/// Unpacks the output disk (a tar stream written by the guest) into `dest`.
pub fn unpack(out_disk: &Path, dest: &Path) -> Result<()> {
    let disk = std::fs::File::open(out_disk)?;
    std::fs::create_dir_all(dest)?;
    tar::Archive::new(disk)
        .unpack(dest)
        .with_context(|| format!("unpacking {}", out_disk.display()))
}

fn read(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The serial console of the first boot, the one that crashed: the warm reboot starts a second
/// "Linux version" banner.
pub fn first_boot(serial: &[u8]) -> &[u8] {
    let banner: &[u8] = b"] Linux version ";
    let find = |from: usize| {
        serial
            .get(from..)?
            .windows(banner.len())
            .position(|window| window == banner)
            .map(|at| at + from)
    };
    match find(0).and_then(|first| find(first + banner.len())) {
        Some(second) => &serial[..second],
        None => serial,
    }
}

/// Kernel lines of the first boot as the serial console showed them: `(timestamp, message)`.
pub fn serial_kernel_lines(serial: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(first_boot(serial))
        .lines()
        .filter_map(|line| split_timestamp(line.trim_end_matches('\r')))
        .collect()
}

/// Splits `[    1.234567] text` (after an optional `<N>` level) into timestamp and text.
pub fn split_timestamp(line: &str) -> Option<(String, String)> {
    let line = match line.strip_prefix('<') {
        Some(rest) => rest.split_once('>')?.1,
        None => line,
    };
    let rest = line.strip_prefix('[')?;
    let (stamp, text) = rest.split_once(']')?;
    let stamp = stamp.trim();
    if !stamp.contains('.') || !stamp.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    Some((
        stamp.to_owned(),
        text.strip_prefix(' ').unwrap_or(text).to_owned(),
    ))
}

/// Checks the report collected by `scenario` against the serial console of its first boot.
pub fn verify(scenario: &Scenario, collected: &Collected, serial: &[u8]) -> Result<()> {
    let rc = read(&collected.dir.join("save.rc"))?;
    let stderr = read(&collected.dir.join("save.err")).unwrap_or_default();
    ensure!(
        rc.trim() == "0",
        "lastgasp save exited {}: {}",
        rc.trim(),
        stderr.trim()
    );

    let manifest = &collected.manifest;
    let backend = manifest["backend"].as_str().unwrap_or("");
    ensure!(
        scenario.backend.kernel_names().contains(&backend),
        "report backend is {backend:?}, expected one of {:?}",
        scenario.backend.kernel_names()
    );
    let reason = manifest["dump-reason"].as_str().unwrap_or("");
    let expected_reason = if scenario.panics { "Panic" } else { "Oops" };
    ensure!(
        reason == expected_reason,
        "dump reason is {reason:?}, expected {expected_reason:?}"
    );

    let dmesg = read(&collected.report_dir.join("dmesg.txt"))?;
    let report_lines: Vec<(String, String)> = dmesg.lines().filter_map(split_timestamp).collect();
    ensure!(
        !report_lines.is_empty(),
        "dmesg.txt has no kernel log lines"
    );
    if scenario.panics {
        ensure!(
            report_lines
                .iter()
                .any(|(_, text)| text.starts_with("Kernel panic - not syncing")),
            "dmesg.txt lacks the panic message"
        );
    }

    // Every console line from the report's first line up to the crash must be in the report,
    // in the same order.
    let console = serial_kernel_lines(serial);
    let first = &report_lines[0];
    let start = console
        .iter()
        .position(|line| line == first)
        .with_context(|| {
            let (stamp, text) = first;
            format!("the report's first line [{stamp}] {text} is not on the serial console")
        })?;
    let end_marker = if scenario.panics {
        "Kernel panic - not syncing"
    } else {
        "---[ end trace"
    };
    let end = console[start..]
        .iter()
        .position(|(_, text)| text.starts_with(end_marker))
        .map(|offset| start + offset)
        .with_context(|| format!("the serial console has no {end_marker:?} line"))?;
    // The kernel does print some lines twice with one timestamp, so "nothing doubled" means no
    // console line occurs more often in the report than on the console.
    let mut on_console = std::collections::HashMap::new();
    for line in &console {
        *on_console.entry(line).or_insert(0usize) += 1;
    }
    let mut in_report = std::collections::HashMap::new();
    for line in &report_lines {
        let count = in_report.entry(line).or_insert(0usize);
        *count += 1;
        if let Some(limit) = on_console.get(line) {
            ensure!(
                *count <= *limit,
                "dmesg.txt has the line [{}] {} more often than the console",
                line.0,
                line.1
            );
        }
    }
    let mut cursor = report_lines.iter();
    for wanted in &console[start..=end] {
        if !cursor.by_ref().any(|line| line == wanted) {
            bail!(
                "dmesg.txt lacks (or misorders) the console line [{}] {}",
                wanted.0,
                wanted.1
            );
        }
    }

    let left = read(&collected.dir.join("pstore-after.txt"))?;
    ensure!(
        left.trim().is_empty(),
        "records left in pstore after save: {}",
        left.trim()
    );
    let signature = manifest["analysis"]["signature"].as_str().unwrap_or("");
    ensure!(
        !signature.is_empty(),
        "report.json has no analysis signature"
    );
    Ok(())
}

/// For guests that cannot run lastgasp (no Rust target for their architecture here): does on
/// the host what the guest's `/init` does after the crash, over the records it copied out, so
/// the same checks apply. The records keep the guest's mtimes (tar), which pstore set to the
/// crash time.
pub fn collect_on_host(out: &Path, lastgasp: &Path) -> Result<()> {
    let root = out.join("host-root");
    let pstore = root.join("sys/fs/pstore");
    std::fs::create_dir_all(&pstore)?;
    for entry in std::fs::read_dir(out.join("pstore"))
        .with_context(|| format!("the guest copied no records to {}", out.display()))?
    {
        let entry = entry?;
        let target = pstore.join(entry.file_name());
        std::fs::copy(entry.path(), &target)?;
        let mtime = entry.metadata()?.modified()?;
        std::fs::File::options()
            .write(true)
            .open(&target)?
            .set_modified(mtime)?;
    }
    let lastgasp_at = |args: &[&str]| {
        std::process::Command::new(lastgasp)
            .arg("--root")
            .arg(&root)
            .args(args)
            .env("LASTGASP_LOG_TARGET", "stderr")
            .output()
            .with_context(|| format!("running {}", lastgasp.display()))
    };
    let save = lastgasp_at(&["save", "--json"])?;
    std::fs::write(out.join("save.json"), &save.stdout)?;
    std::fs::write(out.join("save.err"), &save.stderr)?;
    std::fs::write(
        out.join("save.rc"),
        format!("{}\n", save.status.code().unwrap_or(-1)),
    )?;
    let reports = root.join("var/lib/lastgasp/reports");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(&reports).into_iter().flatten() {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            ids.push(name);
        }
    }
    for id in &ids {
        std::fs::write(out.join("show.txt"), lastgasp_at(&["show", id])?.stdout)?;
    }
    let left: Vec<String> = std::fs::read_dir(&pstore)?
        .filter_map(|entry| Some(entry.ok()?.file_name().to_string_lossy().into_owned()))
        .collect();
    std::fs::write(out.join("pstore-after.txt"), left.join("\n"))?;
    if reports.exists() {
        std::fs::rename(&reports, out.join("reports"))?;
    }
    Ok(())
}

/// Finds the single report of a run and reads its manifest.
pub fn collected(dir: PathBuf) -> Result<Collected> {
    let reports = dir.join("reports");
    let mut ids: Vec<PathBuf> = std::fs::read_dir(&reports)
        .with_context(|| {
            format!(
                "the guest wrote no reports directory ({})",
                reports.display()
            )
        })?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.join("report.json").exists())
        .collect();
    ids.sort();
    ensure!(ids.len() == 1, "expected one report, found {}", ids.len());
    let report_dir = ids.remove(0);
    let manifest = serde_json::from_str(&read(&report_dir.join("report.json"))?)
        .with_context(|| format!("parsing {}/report.json", report_dir.display()))?;
    Ok(Collected {
        dir,
        report_dir,
        manifest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_split_with_and_without_level() {
        assert_eq!(
            split_timestamp("<4>[   12.345678] WARNING: x"),
            Some(("12.345678".into(), "WARNING: x".into()))
        );
        assert_eq!(
            split_timestamp("[    0.000000] Linux"),
            Some(("0.000000".into(), "Linux".into()))
        );
        assert_eq!(split_timestamp("LASTGASP-LAB: collecting"), None);
        assert_eq!(split_timestamp("[ok] done"), None);
    }

    #[test]
    fn serial_lines_stop_at_the_second_boot() {
        let serial = "[    0.000000] Linux version 6.1\r\n[    2.000000] b\n\
                      [    0.000000] Linux version 6.1\n[    1.000000] c\n";
        assert_eq!(serial_kernel_lines(serial.as_bytes()).len(), 2);
    }
}
