//! A lastgasp-server process an xtask started (the lab's fleet and netconsole scenarios, `cargo
//! xtask load`): on 127.0.0.1 with a port the kernel picks, what it announces on stdout read on a
//! thread so a server that hangs before speaking cannot hold the caller; killed on drop.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long the server may take to say where it listens.
const START_LIMIT: Duration = Duration::from_secs(60);

pub struct ServerProcess {
    child: Child,
    /// `127.0.0.1:PORT` of its HTTP listener.
    pub http: String,
    /// `127.0.0.1:PORT` of its netconsole receiver, when `--netconsole` was among the arguments.
    pub netconsole: Option<String>,
}

impl ServerProcess {
    /// Starts `binary --listen 127.0.0.1:0 ARGS`, its standard error into `log` (or nowhere),
    /// and waits until it has said where it listens (and, with `--netconsole`, where it takes
    /// datagrams).
    pub fn start<S: AsRef<OsStr>>(binary: &Path, args: &[S], log: Option<&Path>) -> Result<Self> {
        let stderr = match log {
            Some(path) => Stdio::from(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            ),
            None => Stdio::null(),
        };
        let wants_netconsole = args.iter().any(|arg| arg.as_ref() == "--netconsole");
        let child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = ServerProcess {
            child,
            http: String::new(),
            netconsole: None,
        };
        let stdout = server
            .child
            .stdout
            .take()
            .context("no pipe from the server")?;
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START_LIMIT;
        while server.http.is_empty() || (wants_netconsole && server.netconsole.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = receiver.recv_timeout(left) else {
                let log = log.map_or_else(String::new, |p| format!(" (log: {})", p.display()));
                bail!(
                    "{} did not say where it listens within {}s{log}",
                    binary.display(),
                    START_LIMIT.as_secs()
                );
            };
            if let Some(at) = line.strip_prefix("listening on http://") {
                server.http = at.trim().to_owned();
            } else if let Some(at) = line.strip_prefix("netconsole on udp://") {
                server.netconsole = Some(at.trim().to_owned());
            }
        }
        Ok(server)
    }

    /// The server's process id, for a kill the caller times itself.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the server to end (after a kill).
    pub fn wait(&mut self) {
        self.child.wait().ok();
    }
}

/// The port of `127.0.0.1:PORT`.
pub fn port(addr: &str) -> Result<u16> {
    addr.rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .with_context(|| format!("no port in the address {addr:?}"))
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
