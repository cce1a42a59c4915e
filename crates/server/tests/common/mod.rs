//! Helpers of the server's tests: report archives made the way `lastgasp export` makes them, a
//! server state on SQLite in a tempdir, and requests through the router without a socket.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use server::config::{Config, Token};
use tower::ServiceExt;

pub const UPLOAD_TOKEN: &str = "upload-token-0123456789";
pub const ADMIN_TOKEN: &str = "admin-token-0123456789";

/// The project's real crash logs: tests/fixtures/kmsg/<arch>/<kind>/*.log.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kmsg")
}

/// Uploads the project's real corpus: kind k (in path order) gets `1 + k % 4` of its logs
/// uploaded, an hour apart from 2025-12-01, so counts differ and ranking shows. Each upload must
/// be created with its kind's golden signature; returns the reports each signature got.
pub async fn upload_corpus(state: &server::Shared) -> BTreeMap<String, i64> {
    let mut kinds = Vec::new();
    for arch in std::fs::read_dir(corpus_dir()).unwrap() {
        let arch = arch.unwrap().path();
        if !arch.is_dir() {
            continue;
        }
        for kind in std::fs::read_dir(&arch).unwrap() {
            kinds.push(kind.unwrap().path());
        }
    }
    kinds.sort();
    assert!(
        kinds.len() >= 20,
        "only {} kinds in the corpus",
        kinds.len()
    );
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    let mut time = 1_764_547_200;
    for (k, kind) in kinds.iter().enumerate() {
        let golden: serde_json::Value =
            serde_json::from_slice(&std::fs::read(kind.join("expected.json")).unwrap()).unwrap();
        let signature = golden["signature"].as_str().unwrap().to_owned();
        let mut logs: Vec<_> = std::fs::read_dir(kind)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        logs.sort();
        let take = (1 + k % 4).min(logs.len());
        for log in &logs[..take] {
            let text = String::from_utf8_lossy(&std::fs::read(log).unwrap()).into_owned();
            time += 3600;
            let (_, body) = archive(&text, time);
            let answer = upload(state, body).await;
            assert_eq!(
                answer.status,
                StatusCode::CREATED,
                "{}: {}",
                log.display(),
                answer.text()
            );
            assert_eq!(
                answer.json()["signature"],
                signature.as_str(),
                "{}",
                log.display()
            );
        }
        assert!(
            expected.insert(signature.clone(), take as i64).is_none(),
            "two kinds share {signature}"
        );
    }
    expected
}

/// A report of `log` exported as .tar.zst, with `crash_time` (Unix seconds). Returns its id and
/// the archive bytes.
pub fn archive(log: &str, crash_time: i64) -> (String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let store = report::Store::open(dir.path().join("reports"));
    let analysis = kmsg::analyze(log);
    let kdump = report::KdumpEntry {
        vmcore_bytes: 0,
        log_complete: true,
        warnings: Vec::new(),
        dump: None,
    };
    let new = report::NewReport::from_kdump(
        log.as_bytes().to_vec(),
        Some(crash_time),
        kdump,
        None,
        Some(analysis),
    );
    let written = store.write(&new).unwrap();
    let out = dir.path().join("r.tar.zst");
    store.export(&written.id, &out, false, false).unwrap();
    (written.id, std::fs::read(out).unwrap())
}

/// A tiny oops whose function and hardware name are chosen by the test.
pub fn oops_log(function: &str, release: &str, hardware: &str) -> String {
    format!(
        "<1>[   27.1] BUG: kernel NULL pointer dereference, address: 0000000000000010\n\
         <4>[   27.1] Oops: 0002 [#1] PREEMPT SMP NOPTI\n\
         <4>[   27.1] CPU: 0 PID: 85 Comm: sh Tainted: G           O       {release} #1 Debian\n\
         <4>[   27.1] Hardware name: {hardware}, BIOS 1.16.2-debian-1.16.2-1 04/01/2014\n\
         <4>[   27.1] RIP: 0010:{function}+0x5/0x10 [mymod]\n\
         <4>[   27.1] Call Trace:\n\
         <4>[   27.1]  <TASK>\n\
         <4>[   27.1]  my_caller+0x2d/0x1a0 [mymod]\n\
         <4>[   27.1]  vfs_write+0x2ad/0x3f0\n\
         <4>[   27.1]  </TASK>\n\
         <0>[   27.2] Kernel panic - not syncing: Fatal exception\n"
    )
}

pub fn config() -> Config {
    Config {
        upload_tokens: vec![Token {
            name: "fleet".into(),
            token: UPLOAD_TOKEN.into(),
            per_minute: 100_000,
        }],
        ..Config::default()
    }
}

/// A server state on a fresh SQLite database in `dir`.
pub async fn state(dir: &Path, config: Config) -> server::Shared {
    let url = format!("sqlite:{}", dir.join("db.sqlite").display());
    server::open(&url, &dir.join("data"), config).await.unwrap()
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn send(state: &server::Shared, request: Request<Body>) -> Answer {
    let response: Response<Body> = server::app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

pub async fn upload(state: &server::Shared, body: Vec<u8>) -> Answer {
    upload_with(state, UPLOAD_TOKEN, body).await
}

pub async fn upload_with(state: &server::Shared, token: &str, body: Vec<u8>) -> Answer {
    let request = Request::post("/api/v1/reports")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/zstd")
        .body(Body::from(body))
        .unwrap();
    send(state, request).await
}

pub async fn get(state: &server::Shared, uri: &str) -> Answer {
    send(state, Request::get(uri).body(Body::empty()).unwrap()).await
}

/// zstd of `tar`.
pub fn zst(tar: &[u8]) -> Vec<u8> {
    zstd::encode_all(tar, 3).unwrap()
}
