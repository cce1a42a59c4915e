//! The lastgasp-server the fleet scenario's guest submits to: the workspace's own build, on
//! 127.0.0.1 with a port the kernel picks, its data, configuration and log in the run's
//! directory; read through its JSON API and dashboard with the admin token; stopped on drop.

use std::ffi::OsStr;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::server_process::{self, ServerProcess};

/// What the guest uploads with (in its initramfs, never on its command line).
pub const UPLOAD_TOKEN: &str = "fleet-lab-upload-token-5f1c";
/// What the host reads with: with an admin token configured, reads need it.
const ADMIN_TOKEN: &str = "fleet-lab-admin-token-93ad";

/// The lastgasp-server this scenario started; killed on drop.
pub struct FleetServer {
    process: ServerProcess,
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
        let args = [
            OsStr::new("--data"),
            dir.join("server-data").as_os_str(),
            OsStr::new("--config"),
            config.as_os_str(),
        ]
        .map(OsStr::to_os_string);
        let process = ServerProcess::start(&binary, &args, Some(&dir.join("server.log")))?;
        Ok(FleetServer { process })
    }

    /// The server's port, for the guest (slirp forwards 10.0.2.2:PORT to 127.0.0.1:PORT).
    pub fn port(&self) -> Result<u16> {
        server_process::port(&self.process.http)
    }

    /// GET `path` with the admin token, or without any token: (status, body).
    pub fn get(&self, path: &str, admin: bool) -> Result<(u16, String)> {
        let bearer = format!("Bearer {ADMIN_TOKEN}");
        let headers: &[(&str, &str)] = if admin {
            &[("Authorization", &bearer)]
        } else {
            &[]
        };
        let addr = &self.process.http;
        server::load::request(addr, "GET", path, headers, b"")
            .with_context(|| format!("GET {path} from the server at {addr}"))
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
