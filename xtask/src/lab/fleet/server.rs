//! The lastgasp-server the fleet scenario's guest submits to: the workspace's own build, on
//! 127.0.0.1 with a port the kernel picks, its data, configuration and log in the run's
//! directory; read through its JSON API and dashboard with the admin token; stopped on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// What the guest uploads with (in its initramfs, never on its command line).
pub const UPLOAD_TOKEN: &str = "fleet-lab-upload-token-5f1c";
/// What the host reads with: with an admin token configured, reads need it.
const ADMIN_TOKEN: &str = "fleet-lab-admin-token-93ad";
/// How long the server may take to print its address.
const START_LIMIT: Duration = Duration::from_secs(60);

/// A lastgasp-server process this scenario started; killed on drop.
pub struct FleetServer {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl FleetServer {
    /// Starts the server with its data, `server.toml` and `server.log` under `dir`.
    pub fn start(workspace: &Path, dir: &Path) -> Result<Self> {
        let binary = crate::lab::assets::server_binary(workspace)?;
        let config = dir.join("server.toml");
        std::fs::write(
            &config,
            format!(
                "[[upload-tokens]]\nname = \"lab-fleet\"\ntoken = \"{UPLOAD_TOKEN}\"\n\n\
                 [[admin-tokens]]\nname = \"lab-host\"\ntoken = \"{ADMIN_TOKEN}\"\n"
            ),
        )
        .with_context(|| format!("writing {}", config.display()))?;
        let log = std::fs::File::create(dir.join("server.log"))?;
        let mut child = Command::new(&binary)
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(dir.join("server-data"))
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("no pipe from the server")?;
        // The first line names the address; read it on a thread so a server that hangs before
        // printing it cannot hold the scenario past its limit.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            sender.send(read).ok();
        });
        let line = receiver.recv_timeout(START_LIMIT);
        let addr = match &line {
            Ok(Ok(line)) => line
                .trim()
                .strip_prefix("listening on http://")
                .map(str::to_owned),
            _ => None,
        };
        let mut server = FleetServer {
            child,
            addr: String::new(),
        };
        match addr {
            Some(addr) => {
                server.addr = addr;
                Ok(server)
            }
            None => bail!(
                "{} did not say where it listens within {}s ({line:?}; log: {})",
                binary.display(),
                START_LIMIT.as_secs(),
                dir.join("server.log").display()
            ),
        }
    }

    /// The server's port, for the guest (slirp forwards 10.0.2.2:PORT to 127.0.0.1:PORT).
    pub fn port(&self) -> Result<u16> {
        self.addr
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .with_context(|| format!("no port in the server's address {:?}", self.addr))
    }

    /// GET `path` with the admin token, or without any token: (status, body).
    pub fn get(&self, path: &str, admin: bool) -> Result<(u16, String)> {
        let bearer = format!("Bearer {ADMIN_TOKEN}");
        let headers: &[(&str, &str)] = if admin {
            &[("Authorization", &bearer)]
        } else {
            &[]
        };
        server::load::request(&self.addr, "GET", path, headers, b"")
            .with_context(|| format!("GET {path} from the server at {}", self.addr))
    }

    /// GET `path` with the admin token; its body, which must come with 200.
    pub fn read(&self, path: &str) -> Result<String> {
        let (status, body) = self.get(path, true)?;
        if status != 200 {
            bail!("GET {path} answered {status}: {}", body.trim());
        }
        Ok(body)
    }

    /// GET `path` with the admin token, as JSON.
    pub fn json(&self, path: &str) -> Result<serde_json::Value> {
        let body = self.read(path)?;
        serde_json::from_str(&body).with_context(|| format!("GET {path} is not JSON: {body}"))
    }
}

impl Drop for FleetServer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
