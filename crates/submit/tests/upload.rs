//! `lastgasp-submit` end to end against an HTTP server on 127.0.0.1: the first upload, a retry
//! after 503 that makes no duplicate, 429 with Retry-After honoured, 413 given up with a clear
//! message, the queue surviving process restarts while the server is away, the daily limit,
//! `--dry-run`, and the Sentry and directory targets. Every run is a new process, as when the
//! timer starts the service.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::http::{Reply, Server};
use serde_json::{Value, json};
use submit::payload;
use submit::queue::{Queue, State};

struct Machine {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    ids: Vec<String>,
}

impl Machine {
    /// A machine with one saved report per lab crash kind.
    fn with_reports(kinds: &[&str]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let logs: Vec<String> = kinds.iter().map(|k| common::lab_log(k)).collect();
        let refs: Vec<&str> = logs.iter().map(String::as_str).collect();
        let (_, ids) = common::store_of(&dir.join("reports"), &refs);
        std::fs::create_dir_all(dir.join("root/etc")).unwrap();
        std::fs::write(dir.join("root/etc/hostname"), "pluto\n").unwrap();
        Self {
            _tmp: tmp,
            dir,
            ids,
        }
    }

    fn settings(&self, target: Value) -> Value {
        json!({
            "target": target,
            "token": "t0ken",
            "token_file": null,
            "ca_file": null,
            "proxy": null,
            "max_reports_per_day": 32,
            "max_bytes_per_day": 50u64 << 20,
            "scrub_patterns": [],
            "root": self.dir.join("root"),
            "reports_dir": self.dir.join("reports"),
            "queue_dir": self.queue_dir(),
        })
    }

    fn queue_dir(&self) -> PathBuf {
        self.dir.join("root/var/lib/lastgasp/submit")
    }

    fn queue(&self) -> Queue {
        Queue::open(self.queue_dir())
    }

    fn state(&self, id: &str) -> submit::queue::Entry {
        self.queue().get(id).unwrap().expect("queued")
    }
}

fn server_target(server_url: &str) -> Value {
    json!({ "kind": "server", "url": server_url })
}

/// Runs the sender once with `settings`; `--dry-run`, `--now`, `--json` as asked.
fn submit(settings: &Value, dry_run: bool, now: bool, json_out: bool) -> Output {
    let request = json!({ "settings": settings, "dry_run": dry_run, "now": now, "json": json_out });
    let mut child = Command::new(env!("CARGO_BIN_EXE_lastgasp-submit"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running lastgasp-submit");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(output)))
}

fn posts(server: &Server) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

#[test]
fn first_upload_sends_each_report_once() {
    let machine = Machine::with_reports(&["null", "bug"]);
    let server = Server::start(vec![]);
    let settings = machine.settings(server_target(&server.url()));
    let out = submit(&settings, false, false, false);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    for id in &machine.ids {
        assert!(said.contains(&format!("queued {id}")), "{said}");
        assert!(said.contains(&format!("sent {id} (")), "{said}");
    }
    let mut stored = machine.ids.clone();
    stored.sort();
    assert_eq!(server.stored(), stored);
    for request in server.requests() {
        assert_eq!(request.path, "/api/v1/reports");
        assert_eq!(request.header("authorization"), Some("Bearer t0ken"));
        assert_eq!(request.header("content-type"), Some("application/zstd"));
        let id = request.header("x-lastgasp-report-id").unwrap();
        let files = payload::contents(&request.body).unwrap();
        let manifest = files
            .iter()
            .find(|f| f.name == format!("{id}/report.json"))
            .expect("report.json in the archive");
        let manifest: Value = serde_json::from_slice(&manifest.bytes).unwrap();
        assert_eq!(manifest["id"], id);
        for file in &files {
            let text = String::from_utf8_lossy(&file.bytes);
            assert!(!text.contains("pluto"), "{}: the host name left", file.name);
        }
    }
    for id in &machine.ids {
        let entry = machine.state(id);
        assert_eq!(entry.state, State::Sent);
        assert!(entry.location.unwrap().ends_with("/signatures/s"));
        assert!(!machine.queue().archive_path(id).exists());
    }
    // A second run, even with --now, sends nothing again.
    let again = submit(&settings, false, true, true);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(posts(&server), 2);
    let report = json_of(&again);
    assert_eq!(report["queue"]["sent"], 2);
    assert_eq!(report["attempts"], json!([]));
}

#[test]
fn a_retry_after_503_makes_no_duplicate() {
    let machine = Machine::with_reports(&["warn"]);
    let id = &machine.ids[0];
    // The server stores the report but its answer is a 503: the client cannot know it got in.
    let server = Server::start(vec![Reply::StoreThen(503)]);
    let settings = machine.settings(server_target(&server.url()));
    let out = submit(&settings, false, false, true);
    assert!(
        out.status.success(),
        "a retry is not a failure: {}",
        text(&out)
    );
    let report = json_of(&out);
    assert_eq!(report["attempts"][0]["outcome"], "retry");
    let entry = machine.state(id);
    assert_eq!((entry.state, entry.attempts), (State::Pending, 1));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        // The run ended a moment before `now`: a loaded machine may take seconds to start it.
        (now + 10..=now + 60).contains(&entry.next_attempt),
        "backoff of the first retry is 30-60 s: {} from {now}",
        entry.next_attempt
    );
    assert!(entry.last_error.unwrap().contains("503"));
    // Within the backoff nothing is sent.
    let out = submit(&settings, false, false, false);
    assert!(out.status.success());
    assert_eq!(posts(&server), 1);
    // --now retries; the server already had it: one row, marked sent.
    let out = submit(&settings, false, true, true);
    assert!(out.status.success(), "{}", text(&out));
    let report = json_of(&out);
    assert_eq!(report["attempts"][0]["outcome"], "accepted");
    assert_eq!(report["attempts"][0]["duplicate"], true);
    assert_eq!(posts(&server), 2);
    assert_eq!(server.stored(), vec![id.to_string()]);
    assert_eq!(machine.state(id).state, State::Sent);
}

#[test]
fn retry_after_of_a_429_is_honoured() {
    let machine = Machine::with_reports(&["null"]);
    let id = &machine.ids[0];
    let server = Server::start(vec![Reply::Status(
        429,
        // Long enough that the next run surely starts within it, even on a loaded machine.
        vec![("Retry-After".into(), "5".into())],
        r#"{"error":"slow down"}"#.into(),
    )]);
    let settings = machine.settings(server_target(&server.url()));
    let out = submit(&settings, false, false, false);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("rate-limiting uploads (429): slow down"),
        "{}",
        text(&out)
    );
    let entry = machine.state(id);
    assert!(entry.retry_after.is_some());
    // Even --now waits for what the server asked.
    let out = submit(&settings, false, true, false);
    assert!(out.status.success());
    assert_eq!(posts(&server), 1, "sent before Retry-After passed");
    std::thread::sleep(std::time::Duration::from_millis(5100));
    let out = submit(&settings, false, true, false);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(posts(&server), 2);
    assert_eq!(machine.state(id).state, State::Sent);
}

#[test]
fn a_413_is_given_up_with_a_clear_message() {
    let machine = Machine::with_reports(&["bug"]);
    let id = &machine.ids[0];
    let server = Server::start(vec![Reply::Status(
        413,
        vec![],
        r#"{"error":"archive over 1 MiB"}"#.into(),
    )]);
    let settings = machine.settings(server_target(&server.url()));
    let out = submit(&settings, false, false, false);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains(&format!(
            "gave up on {id}: the server refuses this report as too large (413): archive over 1 MiB"
        )),
        "{said}"
    );
    assert_eq!(machine.state(id).state, State::Rejected);
    assert!(!machine.queue().archive_path(id).exists());
    let out = submit(&settings, false, true, false);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(posts(&server), 1, "a rejected report was sent again");
}

#[test]
fn the_queue_survives_restarts_while_the_server_is_away() {
    let machine = Machine::with_reports(&["null", "warn"]);
    // A port nobody listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = machine.settings(server_target(&format!("http://127.0.0.1:{port}")));
    for _ in 0..2 {
        let out = submit(&settings, false, true, false);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("no answer from"), "{}", text(&out));
    }
    for id in &machine.ids {
        let entry = machine.state(id);
        assert_eq!(entry.state, State::Pending);
        assert!(machine.queue().archive_path(id).exists());
    }
    // The first report was tried twice; the run stopped before the second each time.
    assert_eq!(machine.state(&machine.ids[0]).attempts, 2);
    assert_eq!(machine.state(&machine.ids[1]).attempts, 0);
    let server = Server::start_on(port);
    let out = submit(&settings, false, true, false);
    assert!(out.status.success(), "{}", text(&out));
    let mut stored = machine.ids.clone();
    stored.sort();
    assert_eq!(server.stored(), stored);
    assert_eq!(posts(&server), 2);
}

#[test]
fn the_daily_limit_holds_reports_back() {
    let machine = Machine::with_reports(&["null", "bug", "warn"]);
    let server = Server::start(vec![]);
    let mut settings = machine.settings(server_target(&server.url()));
    settings["max_reports_per_day"] = json!(2);
    let out = submit(&settings, false, false, true);
    assert!(out.status.success(), "{}", text(&out));
    let report = json_of(&out);
    assert_eq!(posts(&server), 2);
    assert!(
        report["stopped"]
            .as_str()
            .unwrap()
            .contains("max_reports_per_day"),
        "{report}"
    );
    assert_eq!(report["queue"]["pending"], 1);
    let out = submit(&settings, false, true, false);
    assert_eq!(posts(&server), 2, "{}", text(&out));
}

#[test]
fn dry_run_shows_every_file_and_sends_nothing() {
    let machine = Machine::with_reports(&["null"]);
    let id = &machine.ids[0];
    let server = Server::start(vec![]);
    let settings = machine.settings(server_target(&server.url()));
    let out = submit(&settings, true, false, false);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.starts_with("Dry run: nothing is queued or sent."),
        "{said}"
    );
    assert!(said.contains(&format!("=== {id}.tar.zst (")), "{said}");
    for name in ["context/journal.txt", "dmesg.txt", "report.json"] {
        assert!(
            said.contains(&format!("--- {id}/{name} (")),
            "{name}: {said}"
        );
    }
    assert!(said.contains("<hostname> systemd[1]"), "{said}");
    assert!(!said.contains("pluto"), "{said}");
    assert!(
        said.contains("BUG: kernel NULL pointer dereference"),
        "{said}"
    );
    assert_eq!(posts(&server), 0);
    assert!(!machine.queue_dir().exists(), "a dry run wrote the queue");
    let report = json_of(&submit(&settings, true, false, true));
    let files = report["previews"][0]["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    assert_eq!(files[2]["name"], format!("{id}/report.json"));
}

#[test]
fn sentry_gets_an_envelope_fingerprinted_by_signature() {
    let machine = Machine::with_reports(&["null"]);
    let id = &machine.ids[0];
    let server = Server::start(vec![]);
    let dsn = format!("http://publickey@127.0.0.1:{}/42", server.port);
    let settings = machine.settings(json!({ "kind": "sentry", "dsn": dsn }));
    let out = submit(&settings, false, false, false);
    assert!(out.status.success(), "{}", text(&out));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, "/api/42/envelope/");
    assert!(
        request
            .header("x-sentry-auth")
            .unwrap()
            .contains("sentry_key=publickey")
    );
    let envelope = sentry_types::protocol::v7::Envelope::from_slice(&request.body)
        .expect("sentry-types parses the envelope");
    let event = envelope.event().expect("an event in the envelope");
    let signature = kmsg::analyze(&common::lab_log("null")).signature;
    assert_eq!(event.fingerprint.to_vec(), vec![signature.to_string()]);
    assert_eq!(event.tags.get("report_id"), Some(id));
    assert_eq!(event.tags.get("signature"), Some(&signature));
    assert_eq!(
        event.event_id.simple().to_string(),
        submit::target::sentry::event_id(id)
    );
    let attachment = envelope
        .items()
        .find_map(|item| match item {
            sentry_types::protocol::v7::EnvelopeItem::Attachment(a) => Some(a),
            _ => None,
        })
        .expect("the archive attached");
    assert_eq!(attachment.filename, format!("{id}.tar.zst"));
    assert!(payload::contents(&attachment.buffer).is_ok());
    assert_eq!(machine.state(id).state, State::Sent);
}

#[test]
fn a_directory_gets_one_archive_per_report() {
    let machine = Machine::with_reports(&["null", "bug"]);
    let drop_dir: &Path = &machine.dir.join("drop");
    let settings = machine.settings(json!({ "kind": "directory", "path": drop_dir }));
    let out = submit(&settings, false, false, false);
    assert!(out.status.success(), "{}", text(&out));
    for id in &machine.ids {
        let archive = std::fs::read(drop_dir.join(format!("{id}.tar.zst"))).unwrap();
        assert!(!payload::contents(&archive).unwrap().is_empty());
    }
    assert_eq!(std::fs::read_dir(drop_dir).unwrap().count(), 2);
}

/// A CA, and a certificate for 127.0.0.1 and localhost it signed: (CA PEM, chain, key).
fn private_ca() -> (
    String,
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    (ca.pem(), vec![leaf.der().clone()], key)
}

#[test]
fn tls_trusts_the_configured_ca_and_nothing_unknown() {
    let machine = Machine::with_reports(&["null"]);
    let id = &machine.ids[0];
    let (ca_pem, chain, key) = private_ca();
    let server = Server::start_tls(chain, key);
    let url = format!("https://localhost:{}", server.port);
    let mut settings = machine.settings(server_target(&url));
    // Without the CA the certificate is unknown: no upload, the report stays queued.
    let out = submit(&settings, false, false, false);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("UnknownIssuer"), "{}", text(&out));
    assert_eq!(server.stored(), Vec::<String>::new());
    assert_eq!(machine.state(id).state, State::Pending);
    let ca_file = machine.dir.join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    settings["ca_file"] = json!(ca_file);
    let out = submit(&settings, false, true, false);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.stored(), vec![id.to_string()]);
    assert_eq!(machine.state(id).state, State::Sent);
}

#[test]
fn a_queued_archive_removed_by_hand_is_packed_again() {
    let machine = Machine::with_reports(&["warn"]);
    let id = &machine.ids[0];
    let server = Server::start(vec![Reply::Status(503, vec![], String::new())]);
    let settings = machine.settings(server_target(&server.url()));
    assert!(submit(&settings, false, false, false).status.success());
    std::fs::remove_file(machine.queue().archive_path(id)).unwrap();
    let out = submit(&settings, false, true, false);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("its queued archive is gone"),
        "{}",
        text(&out)
    );
    assert!(machine.queue().get(id).unwrap().is_none());
    let out = submit(&settings, false, false, false);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(machine.state(id).state, State::Sent);
    assert_eq!(server.stored(), vec![id.to_string()]);
}
