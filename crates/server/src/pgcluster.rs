//! A throwaway PostgreSQL cluster of the distribution's `postgresql` (initdb and pg_ctl from
//! /usr/lib/postgresql/<newest>/bin) in a temporary directory, reachable only by its unix
//! socket there; run as the `postgres` user when we are root (initdb refuses root). For the
//! tests and `cargo xtask load`; stopped and removed on drop.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    user: Option<String>,
}

impl Cluster {
    /// Creates and starts a cluster in a new directory under /tmp (short: the socket path must
    /// fit in 107 bytes); the error says what is missing or what failed, with the server's log.
    pub fn start() -> Result<Self, String> {
        let bin = pg_bin().ok_or(
            "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb \
             (apt-get install postgresql; .ci/run does)",
        )?;
        let dir = PathBuf::from(format!(
            "/tmp/lgpg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // initdb refuses to run as root: the cluster belongs to the postgres user then.
        let user = if is_root() {
            let uid = id_of("-u")?;
            let gid = id_of("-g")?;
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", dir.display()))?;
            Some("postgres".to_owned())
        } else {
            None
        };
        let cluster = Self { dir, bin, user };
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "lastgasp".as_ref(),
                "--auth=trust".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let options = format!(
            "-k {} -c listen_addresses='' -c max_connections=200",
            cluster.dir.display()
        );
        let log = cluster.dir.join("log");
        cluster.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-o".as_ref(),
                options.as_ref(),
                "start".as_ref(),
            ],
        )?;
        Ok(cluster)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database URL (unix socket in the cluster's directory, user `lastgasp`, trust auth).
    pub fn url(&self) -> String {
        format!(
            "postgres://lastgasp@localhost/postgres?host={}",
            self.dir.display()
        )
    }

    fn run(&self, tool: &str, args: &[&OsStr]) -> Result<(), String> {
        let program = self.bin.join(tool);
        let mut command = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        command.args(args).current_dir(&self.dir);
        let output = command
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
            Err(format!(
                "{} failed ({}): {}{}\n{log}",
                program.display(),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "stop".as_ref(),
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed PostgreSQL's bin directory.
fn pg_bin() -> Option<PathBuf> {
    let mut bins: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let path = e.ok()?.path();
            let version = path.file_name()?.to_str()?.parse().ok()?;
            let bin = path.join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    bins.sort();
    bins.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// The postgres user's uid (`-u`) or gid (`-g`).
fn id_of(flag: &str) -> Result<u32, String> {
    let output = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .map_err(|e| format!("id: {e}"))?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|_| "no postgres user (the postgresql package creates it)".to_owned())
}
