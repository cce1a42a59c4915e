//! Level-31 dumps of a vmcore, by lastgasp (`lastgasp capture`, each compression) or by
//! makedumpfile (`-c` zlib, `-l` lzo): the files the compatibility checks open and the benchmark
//! times.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The dump level the checks and the benchmark use: everything makedumpfile can leave out is
/// left out.
pub const LEVEL: u8 = 31;

/// Who writes the dump, and how it is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Maker {
    Lastgasp(Compression),
    Makedumpfile(Compression),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Compression {
    Zstd,
    Zlib,
    Lzo,
}

impl Compression {
    /// lastgasp's name for it (`[kdump] compression`, `capture --compression`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Zlib => "zlib",
            Compression::Lzo => "lzo",
        }
    }

    /// makedumpfile's flag for it.
    fn makedumpfile_flag(self) -> &'static str {
        match self {
            Compression::Zstd => "-z",
            Compression::Zlib => "-c",
            Compression::Lzo => "-l",
        }
    }
}

impl Maker {
    /// lastgasp's three compressions.
    pub const LASTGASP: [Maker; 3] = [
        Maker::Lastgasp(Compression::Zstd),
        Maker::Lastgasp(Compression::Zlib),
        Maker::Lastgasp(Compression::Lzo),
    ];
    /// makedumpfile's two that Debian's build has (its `-z` writes pages uncompressed there).
    pub const MAKEDUMPFILE: [Maker; 2] = [
        Maker::Makedumpfile(Compression::Zlib),
        Maker::Makedumpfile(Compression::Lzo),
    ];

    /// A short name: `lastgasp-zstd`, `makedumpfile-c`.
    pub fn key(self) -> String {
        match self {
            Maker::Lastgasp(c) => format!("lastgasp-{}", c.name()),
            Maker::Makedumpfile(c) => format!("makedumpfile{}", c.makedumpfile_flag()),
        }
    }

    /// The command that writes this dump of `vmcore` at `level` into the empty directory `out`.
    pub fn command(self, programs: &Programs, vmcore: &Path, out: &Path, level: u8) -> Command {
        match self {
            Maker::Lastgasp(c) => {
                let mut cmd = Command::new(&programs.lastgasp);
                cmd.arg("capture")
                    .arg("--vmcore")
                    .arg(vmcore)
                    .arg("--out")
                    .arg(out)
                    .arg("--dump-level")
                    .arg(level.to_string())
                    .arg("--compression")
                    .arg(c.name());
                cmd
            }
            Maker::Makedumpfile(c) => {
                let mut cmd = Command::new(&programs.makedumpfile);
                cmd.arg(c.makedumpfile_flag())
                    .arg("-d")
                    .arg(level.to_string())
                    .arg(vmcore)
                    .arg(out.join(MAKEDUMPFILE_OUT));
                cmd
            }
        }
    }

    /// The dump a finished [`Maker::command`] left in `out`.
    pub fn output(self, out: &Path) -> Result<PathBuf> {
        match self {
            Maker::Makedumpfile(_) => {
                let path = out.join(MAKEDUMPFILE_OUT);
                if !path.is_file() {
                    bail!("makedumpfile left no {}", path.display());
                }
                Ok(path)
            }
            Maker::Lastgasp(_) => find_file(out, LASTGASP_DUMP, 3)?.with_context(|| {
                format!(
                    "lastgasp capture left no {LASTGASP_DUMP} under {}",
                    out.display()
                )
            }),
        }
    }
}

/// What makedumpfile writes, in the output directory.
const MAKEDUMPFILE_OUT: &str = "dumpfile";
/// What `lastgasp capture` writes (in a directory per crash under `--out`).
pub const LASTGASP_DUMP: &str = "vmcore.kdump";

/// The binaries that make dumps.
pub struct Programs {
    pub lastgasp: PathBuf,
    pub makedumpfile: PathBuf,
}

/// The first file named `name` under `dir`, at most `depth` directories down.
pub fn find_file(dir: &Path, name: &str, depth: usize) -> Result<Option<PathBuf>> {
    let direct = dir.join(name);
    if direct.is_file() {
        return Ok(Some(direct));
    }
    if depth == 0 {
        return Ok(None);
    }
    let mut subdirs = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            subdirs.push(entry.path());
        }
    }
    subdirs.sort();
    for sub in subdirs {
        if let Some(found) = find_file(&sub, name, depth - 1)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Makes the dump at `level` in `out` (emptied first) and returns its path.
pub fn make(
    maker: Maker,
    programs: &Programs,
    vmcore: &Path,
    out: &Path,
    level: u8,
) -> Result<PathBuf> {
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("emptying {}", out.display()))?;
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let output = maker
        .command(programs, vmcore, out, level)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running the {} dump", maker.key()))?;
    if !output.status.success() {
        // The tools print progress first and the reason last.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .unwrap_or_default();
        bail!(
            "{} exited {}: {}",
            maker.key(),
            output.status,
            reason.trim()
        );
    }
    maker.output(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_tool_and_compression() {
        let keys: Vec<String> = Maker::LASTGASP
            .iter()
            .chain(&Maker::MAKEDUMPFILE)
            .map(|m| m.key())
            .collect();
        assert_eq!(
            keys,
            [
                "lastgasp-zstd",
                "lastgasp-zlib",
                "lastgasp-lzo",
                "makedumpfile-c",
                "makedumpfile-l"
            ]
        );
    }

    #[test]
    fn the_lastgasp_dump_is_found_in_its_crash_directory() {
        let dir = std::env::temp_dir().join(format!("compat-find-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let crash = dir.join("20261201T041743Z-0123abcd");
        std::fs::create_dir_all(&crash).unwrap();
        let maker = Maker::Lastgasp(Compression::Zstd);
        assert!(maker.output(&dir).is_err());
        std::fs::write(crash.join(LASTGASP_DUMP), b"KDUMP   ").unwrap();
        assert_eq!(maker.output(&dir).unwrap(), crash.join(LASTGASP_DUMP));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
