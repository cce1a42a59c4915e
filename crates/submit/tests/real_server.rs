//! The sender against the real lastgasp-server (crates/server) on 127.0.0.1:0 with SQLite: the
//! lab's real crashes go in scrubbed, the server accepts the archives (it checks every file
//! against report.json's sizes and digests), recomputes the same signatures, and ranks them, two
//! boots of one crash under one signature. With the queue lost, sending everything again makes
//! no second row: the archives come out byte for byte the same and the server says duplicate.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

const TOKEN: &str = "fleet-upload-token-0123456789";

/// The server binary: beside this test's directory in the target dir (cargo test --workspace
/// builds it), else built now.
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let binary = dir.join("lastgasp-server");
    if !binary.is_file() {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--quiet", "-p", "lastgasp-server"])
            .current_dir(common::workspace())
            .status()
            .expect("running cargo build -p lastgasp-server");
        assert!(status.success(), "building lastgasp-server failed");
    }
    assert!(
        binary.is_file(),
        "no lastgasp-server at {}",
        binary.display()
    );
    binary
}

struct RunningServer {
    child: Child,
    url: String,
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path) -> RunningServer {
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!("[[upload-tokens]]\nname = \"test\"\ntoken = \"{TOKEN}\"\nper-minute = 600\n"),
    )
    .unwrap();
    let data = dir.join("data");
    let mut child = Command::new(server_binary())
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data")
        .arg(&data)
        .arg("--database")
        .arg(format!("sqlite:{}", dir.join("db.sqlite").display()))
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting lastgasp-server");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("lastgasp-server ended before listening")
            .unwrap();
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.trim().to_string();
        }
    };
    // Keep reading its stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    RunningServer { child, url }
}

fn get(url: &str) -> Value {
    let mut response = ureq::get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
}

fn submit(settings: &Value) -> Value {
    let request = json!({ "settings": settings, "dry_run": false, "now": true, "json": true });
    let mut child = Command::new(env!("CARGO_BIN_EXE_lastgasp-submit"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn boot_log(kind: &str, boot: u32) -> String {
    std::fs::read_to_string(
        common::workspace().join(format!("tests/fixtures/kmsg/x86_64/{kind}/boot{boot}.log")),
    )
    .unwrap()
}

#[test]
fn the_real_server_takes_the_reports_and_ranks_them_by_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_server(tmp.path());
    let logs = [
        boot_log("null", 1),
        boot_log("null", 2),
        boot_log("bug", 1),
        boot_log("warn", 1),
    ];
    let refs: Vec<&str> = logs.iter().map(String::as_str).collect();
    let (_, ids) = common::store_of(&tmp.path().join("reports"), &refs);
    std::fs::create_dir_all(tmp.path().join("root/etc")).unwrap();
    std::fs::write(tmp.path().join("root/etc/hostname"), "pluto\n").unwrap();
    let queue = tmp.path().join("queue");
    let settings = json!({
        "target": { "kind": "server", "url": server.url },
        "token": TOKEN, "token_file": null, "ca_file": null, "proxy": null,
        "max_reports_per_day": 32, "max_bytes_per_day": 50u64 << 20,
        "scrub_patterns": [],
        "root": tmp.path().join("root"),
        "reports_dir": tmp.path().join("reports"),
        "queue_dir": queue,
    });

    let first = submit(&settings);
    let attempts = first["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 4, "{first}");
    for attempt in attempts {
        assert_eq!(attempt["outcome"], "accepted", "{attempt}");
        assert_eq!(attempt["duplicate"], false, "{attempt}");
    }
    let signature = |log: &str| kmsg::analyze(log).signature;
    for (id, log) in ids.iter().zip(&logs) {
        let stored = get(&format!("{}/api/v1/reports/{id}", server.url));
        assert_eq!(stored["signature"], signature(log), "{stored}");
        assert_eq!(stored["client_signature"], signature(log), "{stored}");
    }
    let ranked = get(&format!("{}/api/v1/signatures", server.url));
    let counts: Vec<(String, u64)> = ranked["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["signature"].as_str().unwrap().to_string(),
                s["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts.len(), 3, "{ranked}");
    assert_eq!(
        counts[0],
        (signature(&logs[0]), 2),
        "two boots of one crash rank first"
    );
    assert_eq!(signature(&logs[0]), signature(&logs[1]));

    // The queue lost (a reinstalled machine): everything is packed and sent again, and the
    // server recognises every report.
    std::fs::remove_dir_all(&queue).unwrap();
    let again = submit(&settings);
    for attempt in again["attempts"].as_array().unwrap() {
        assert_eq!(attempt["outcome"], "accepted", "{attempt}");
        assert_eq!(attempt["duplicate"], true, "{attempt}");
    }
    let ranked = get(&format!("{}/api/v1/signatures", server.url));
    let total: u64 = ranked["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 4, "a report counted twice: {ranked}");
}
