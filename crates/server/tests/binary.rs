//! The `lastgasp-server` binary itself: started on 127.0.0.1:0 with a config file, it says
//! where it listens, takes an upload over real HTTP, and after a SIGKILL and a restart on the
//! same --data still has every report it acknowledged.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::*;

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(data: &Path, config: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lastgasp-server"))
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .arg("--config")
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("first line {line:?}"))
            .to_owned();
        Self { child, addr }
    }

    /// One request over a fresh connection; (status, body).
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        server::load::request(&self.addr, method, path, headers, body).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn binary_serves_and_keeps_what_it_acknowledged_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!("[[upload-tokens]]\nname = \"fleet\"\ntoken = \"{UPLOAD_TOKEN}\"\n"),
    )
    .unwrap();
    let data = dir.path().join("data");
    let bearer = format!("Bearer {UPLOAD_TOKEN}");
    let headers = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/zstd"),
    ];

    let mut server = Server::start(&data, &config);
    assert_eq!(server.request("GET", "/api/v1/health", &[], b"").0, 200);
    let mut ids = Vec::new();
    for i in 0..5 {
        let log = format!(
            "<6>[    0.{i}] boot {i}\n{}",
            oops_log("my_write", "6.1.0-1-amd64", "QEMU")
        );
        let (id, body) = archive(&log, 1_764_547_200 + i);
        let (status, answer) = server.request("POST", "/api/v1/reports", &headers, &body);
        assert_eq!(status, 201, "{answer}");
        ids.push((id, body));
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let server = Server::start(&data, &config);
    for (id, body) in &ids {
        let (status, answer) = server.request("GET", &format!("/api/v1/reports/{id}"), &[], b"");
        assert_eq!(status, 200, "{id} lost after the kill: {answer}");
        let (status, answer) = server.request("POST", "/api/v1/reports", &headers, body);
        assert_eq!(status, 200, "{answer}");
        assert!(answer.contains("\"duplicate\":true"), "{answer}");
    }
    assert!(
        data.join("lastgasp.db").exists(),
        "the default database is sqlite under --data"
    );
    let (status, answer) = server.request("POST", "/api/v1/reports", &[], b"x");
    assert_eq!(status, 401, "{answer}");
}

#[test]
fn load_generator_uploads_every_report_once_over_keep_alive_connections() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!("[[upload-tokens]]\nname = \"fleet\"\ntoken = \"{UPLOAD_TOKEN}\"\n"),
    )
    .unwrap();
    let server = Server::start(&dir.path().join("data"), &config);
    let logs = vec![
        oops_log("f_one", "6.1.0-1-amd64", "QEMU"),
        oops_log("f_two", "6.12.0-1-amd64", "QEMU"),
    ];
    let archives = std::sync::Arc::new(server::load::archives(&logs, 0, 120));
    let sent = server::load::run(&server.addr, UPLOAD_TOKEN, archives.clone(), 6).unwrap();
    assert_eq!(sent.len(), 120);
    assert!(sent.iter().all(|s| s.status == Some(201)), "{sent:?}");
    let again = server::load::run(&server.addr, UPLOAD_TOKEN, archives, 6).unwrap();
    assert!(again.iter().all(|s| s.status == Some(200)), "{again:?}");
    let (status, metrics) = server.request("GET", "/metrics", &[], b"");
    assert_eq!(status, 200);
    assert!(metrics.contains("lastgasp_reports 120\n"), "{metrics}");
    assert!(metrics.contains("lastgasp_signatures 2\n"), "{metrics}");
}
