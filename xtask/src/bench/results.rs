//! What a benchmark run found: per record set, each tool's timing summary and what it produced,
//! plus the ratios the doc headlines.

use std::time::Duration;

use super::machine::Machine;
use super::stats::{Summary, net_ratio, ratio};
use super::tools::{Produced, Tool};

pub struct Bench {
    /// The command line that made these numbers, as typed.
    pub command: String,
    pub iterations: usize,
    pub machine: Machine,
    pub sets: Vec<SetResult>,
    pub elapsed: Duration,
}

pub struct SetResult {
    pub key: String,
    pub title: String,
    pub origin: String,
    pub files: usize,
    pub bytes: u64,
    pub crashes: usize,
    pub tools: Vec<ToolResult>,
}

pub struct ToolResult {
    pub tool: Tool,
    pub summary: Summary,
    pub produced: Produced,
}

impl SetResult {
    pub fn get(&self, tool: Tool) -> Option<&ToolResult> {
        self.tools.iter().find(|t| t.tool == tool)
    }

    fn median(&self, tool: Tool) -> Option<Duration> {
        self.get(tool).map(|t| t.summary.median)
    }

    /// lastgasp's median over systemd-pstore's: below 1 means lastgasp was faster.
    pub fn ratio(&self) -> Option<f64> {
        ratio(
            self.median(Tool::Lastgasp)?,
            self.median(Tool::SystemdPstore)?,
        )
    }

    /// lastgasp's minimum over systemd-pstore's: the runs least disturbed by the machine's
    /// other work. On a busy machine it can tell another story than the medians.
    pub fn min_ratio(&self) -> Option<f64> {
        let min = |tool| self.get(tool).map(|t| t.summary.min);
        ratio(min(Tool::Lastgasp)?, min(Tool::SystemdPstore)?)
    }

    /// The same ratio with the namespace wrapper's median taken out of both.
    pub fn net_ratio(&self) -> Option<f64> {
        net_ratio(
            self.median(Tool::Lastgasp)?,
            self.median(Tool::SystemdPstore)?,
            self.median(Tool::Namespace)?,
        )
    }
}

/// A small finished run, for the output tests.
#[cfg(test)]
pub fn sample() -> Bench {
    let row = |tool, median_ms, units| ToolResult {
        tool,
        summary: Summary {
            runs: 3,
            median: Duration::from_millis(median_ms),
            min: Duration::from_millis(median_ms - 1),
        },
        produced: Produced {
            units,
            files: 2,
            bytes: 2048,
            signatures: units,
            distinct_signatures: 1,
        },
    };
    let fact = |s: &str| s.to_owned();
    Bench {
        command: "cargo xtask bench --iterations 3 --write-doc".into(),
        iterations: 3,
        machine: Machine {
            date: fact("2026-11-26 04:00 UTC"),
            cpu: fact("CPU"),
            cores: 2,
            kernel: fact("6.1.0"),
            filesystem: fact("ext4"),
            work_dir: fact("/tmp"),
            records_filesystem: fact("tmpfs"),
            records_dir: fact("/dev/shm"),
            lastgasp: fact("lastgasp 0.1.0"),
            commit: fact("abc1234"),
            systemd: fact("252"),
            unshare: fact("unshare 2.38"),
            rustc: fact("rustc 1.95.0"),
        },
        sets: vec![SetResult {
            key: "ramoops".into(),
            title: "ramoops pair".into(),
            origin: "fixtures".into(),
            files: 2,
            bytes: 4096,
            crashes: 1,
            tools: vec![
                row(Tool::Namespace, 5, 0),
                row(Tool::Lastgasp, 9, 1),
                row(Tool::SystemdPstore, 13, 1),
            ],
        }],
        elapsed: Duration::from_secs(10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tool: Tool, median_ms: u64) -> ToolResult {
        let d = Duration::from_millis(median_ms);
        ToolResult {
            tool,
            summary: Summary {
                runs: 1,
                median: d,
                min: d,
            },
            produced: Produced::default(),
        }
    }

    #[test]
    fn ratios_compare_lastgasp_to_systemd() {
        let set = SetResult {
            key: "k".into(),
            title: "t".into(),
            origin: "o".into(),
            files: 1,
            bytes: 1,
            crashes: 1,
            tools: vec![
                row(Tool::Namespace, 2),
                row(Tool::Lastgasp, 6),
                row(Tool::SystemdPstore, 10),
            ],
        };
        assert_eq!(set.ratio(), Some(0.6));
        assert_eq!(set.net_ratio(), Some(0.5));
        assert_eq!(set.min_ratio(), Some(0.6));
        let partial = SetResult {
            tools: vec![row(Tool::Lastgasp, 6)],
            ..set
        };
        assert_eq!(partial.ratio(), None);
    }
}
