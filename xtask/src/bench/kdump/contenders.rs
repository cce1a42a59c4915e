//! The kdump contenders: three readers of a vmcore's log and five writers of a level-31 dump,
//! each as the command line it runs and the file whose size it is judged by.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::compat::dumps::{Compression, LEVEL, Maker, Programs as DumpPrograms};

/// Where the tools are.
pub struct Programs {
    pub lastgasp: PathBuf,
    pub makedumpfile: PathBuf,
    pub vmcore_dmesg: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTool {
    Lastgasp,
    Makedumpfile,
    VmcoreDmesg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contender {
    Log(LogTool),
    Dump(Maker),
}

/// The log readers, lastgasp first.
pub const LOG: [Contender; 3] = [
    Contender::Log(LogTool::Lastgasp),
    Contender::Log(LogTool::Makedumpfile),
    Contender::Log(LogTool::VmcoreDmesg),
];

/// The dump writers, lastgasp's first.
pub const DUMP: [Contender; 5] = [
    Contender::Dump(Maker::Lastgasp(Compression::Zstd)),
    Contender::Dump(Maker::Lastgasp(Compression::Zlib)),
    Contender::Dump(Maker::Lastgasp(Compression::Lzo)),
    Contender::Dump(Maker::Makedumpfile(Compression::Zlib)),
    Contender::Dump(Maker::Makedumpfile(Compression::Lzo)),
];

/// The pairs whose ratios the benchmark reports: lastgasp first, its peer second.
pub const LOG_PAIRS: [(Contender, Contender); 2] = [(LOG[0], LOG[1]), (LOG[0], LOG[2])];
pub const DUMP_PAIRS: [(Contender, Contender); 4] = [
    (DUMP[0], DUMP[3]),
    (DUMP[0], DUMP[4]),
    (DUMP[1], DUMP[3]),
    (DUMP[2], DUMP[4]),
];

/// The file a log reader writes its text to (through standard output or its own argument).
const LOG_FILE: &str = "dmesg.txt";

/// A command ready for [`super::measure::run`].
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub stdout: Option<PathBuf>,
}

impl Contender {
    pub fn key(self) -> String {
        match self {
            Contender::Log(LogTool::Lastgasp) => "lastgasp dmesg".into(),
            Contender::Log(LogTool::Makedumpfile) => "makedumpfile --dump-dmesg".into(),
            Contender::Log(LogTool::VmcoreDmesg) => "vmcore-dmesg".into(),
            Contender::Dump(maker) => match maker {
                Maker::Lastgasp(c) => format!("lastgasp capture {}", c.name()),
                Maker::Makedumpfile(Compression::Zlib) => "makedumpfile -c".into(),
                Maker::Makedumpfile(Compression::Lzo) => "makedumpfile -l".into(),
                Maker::Makedumpfile(Compression::Zstd) => "makedumpfile -z".into(),
            },
        }
    }

    pub fn is_lastgasp(self) -> bool {
        matches!(
            self,
            Contender::Log(LogTool::Lastgasp) | Contender::Dump(Maker::Lastgasp(_))
        )
    }

    /// The command that runs this contender on `vmcore`, writing into the empty `out`.
    pub fn invocation(self, programs: &Programs, vmcore: &Path, out: &Path) -> Invocation {
        let log_file = out.join(LOG_FILE);
        match self {
            Contender::Log(LogTool::Lastgasp) => Invocation {
                program: programs.lastgasp.clone(),
                args: vec!["dmesg".into(), vmcore.into()],
                stdout: Some(log_file),
            },
            Contender::Log(LogTool::Makedumpfile) => Invocation {
                program: programs.makedumpfile.clone(),
                args: vec!["--dump-dmesg".into(), vmcore.into(), log_file.into()],
                stdout: None,
            },
            Contender::Log(LogTool::VmcoreDmesg) => Invocation {
                program: programs.vmcore_dmesg.clone(),
                args: vec![vmcore.into()],
                stdout: Some(log_file),
            },
            Contender::Dump(maker) => {
                let dump_programs = DumpPrograms {
                    lastgasp: programs.lastgasp.clone(),
                    makedumpfile: programs.makedumpfile.clone(),
                };
                let cmd = maker.command(&dump_programs, vmcore, out, LEVEL);
                Invocation {
                    program: PathBuf::from(cmd.get_program()),
                    args: cmd.get_args().map(OsString::from).collect(),
                    stdout: None,
                }
            }
        }
    }

    /// The file a finished run left in `out`: the log text or the dump.
    pub fn output(self, out: &Path) -> Result<PathBuf> {
        match self {
            Contender::Log(_) => Ok(out.join(LOG_FILE)),
            Contender::Dump(maker) => maker.output(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programs() -> Programs {
        Programs {
            lastgasp: "/lg".into(),
            makedumpfile: "/mk".into(),
            vmcore_dmesg: "/vd".into(),
        }
    }

    #[test]
    fn every_pair_puts_lastgasp_against_a_peer() {
        for (a, b) in LOG_PAIRS.iter().chain(&DUMP_PAIRS) {
            assert!(a.is_lastgasp() && !b.is_lastgasp(), "{a:?} {b:?}");
        }
    }

    #[test]
    fn command_lines_are_the_documented_ones() {
        let out = Path::new("/o");
        let line = |c: Contender| {
            let inv = c.invocation(&programs(), Path::new("/v"), out);
            let args: Vec<String> = inv
                .args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            (
                format!("{} {}", inv.program.display(), args.join(" ")),
                inv.stdout,
            )
        };
        assert_eq!(
            line(LOG[0]),
            ("/lg dmesg /v".into(), Some("/o/dmesg.txt".into()))
        );
        assert_eq!(
            line(LOG[1]),
            ("/mk --dump-dmesg /v /o/dmesg.txt".into(), None)
        );
        assert_eq!(
            line(DUMP[0]).0,
            "/lg capture --vmcore /v --out /o --dump-level 31 --compression zstd"
        );
        assert_eq!(line(DUMP[4]).0, "/mk -l -d 31 /v /o/dumpfile");
        assert_eq!(DUMP[3].key(), "makedumpfile -c");
    }
}
