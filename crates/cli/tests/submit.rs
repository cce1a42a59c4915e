//! `lastgasp submit`, the front: off until [submit] enabled says otherwise (then it says how
//! and sends nothing), a target without its address is one line naming the key, and when on it
//! hands lastgasp-submit the effective settings, paths under --root, and passes its exit status
//! on. The sender itself is tested in crates/submit against a server on loopback.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{FakeRoot, stdout_of};
use predicates::prelude::*;

#[test]
fn off_by_default_it_says_how_to_turn_it_on() {
    let root = FakeRoot::new();
    root.cmd()
        .arg("submit")
        .assert()
        .success()
        .stdout(predicate::str::contains("Submitting crash reports is off"))
        .stdout(predicate::str::contains("enabled = true"))
        .stdout(predicate::str::contains("lastgasp submit --dry-run"));
    let out = root.cmd().args(["submit", "--json"]).output().unwrap();
    assert!(out.status.success());
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["enabled"], false);
    assert!(!root.path().join("var/lib/lastgasp/submit").exists());
}

#[test]
fn a_target_without_its_address_names_the_key() {
    let root = FakeRoot::new();
    root.file(
        "etc/lastgasp/lastgasp.toml.d/50-submit.toml",
        "[submit]\nenabled = true\ntarget = \"directory\"\n",
    );
    root.cmd()
        .arg("submit")
        .assert()
        .failure()
        .stderr("error: [submit] target = \"directory\" needs directory to be set\n");
}

#[test]
fn when_on_the_sender_gets_the_settings_and_its_status_is_passed_on() {
    let root = FakeRoot::new();
    root.file(
        "usr/lib/lastgasp/lastgasp.toml.d/50-vendor.toml",
        "[submit]\nenabled = true\nurl = \"https://crashes.example.org\"\ntoken_file = \"/etc/lastgasp/token\"\nscrub_patterns = [\"acme-[0-9]+\"]\n",
    );
    let got = root.path().join("request.json");
    let sender = root.file(
        "sender.sh",
        &format!(
            "#!/bin/sh\ncat > '{}'\necho sender ran\nexit \"${{SENDER_EXIT:-0}}\"\n",
            got.display()
        ),
    );
    std::fs::set_permissions(&sender, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = root
        .cmd()
        .env("LASTGASP_SUBMIT", &sender)
        .args(["submit", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout_of(&out), "sender ran\n");
    let request: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&got).unwrap()).unwrap();
    assert_eq!(request["dry_run"], true);
    assert_eq!(request["json"], true);
    assert_eq!(request["now"], false);
    let settings = &request["settings"];
    assert_eq!(
        settings["target"],
        serde_json::json!({"kind": "server", "url": "https://crashes.example.org"})
    );
    let under = |p: &str| root.path().join(p).display().to_string();
    assert_eq!(settings["token_file"], under("etc/lastgasp/token"));
    assert_eq!(settings["queue_dir"], under("var/lib/lastgasp/submit"));
    assert_eq!(settings["reports_dir"], under("var/lib/lastgasp/reports"));
    assert_eq!(settings["max_reports_per_day"], 32);
    assert_eq!(
        settings["scrub_patterns"],
        serde_json::json!(["acme-[0-9]+"])
    );
    // The sender's failure is the command's, without a second message.
    let out = root
        .cmd()
        .env("LASTGASP_SUBMIT", &sender)
        .env("SENDER_EXIT", "1")
        .arg("submit")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn status_shows_the_queue() {
    let root = FakeRoot::new();
    let out = root.cmd().arg("status").output().unwrap();
    assert!(
        stdout_of(&out).contains("  submit       off ([submit] enabled = false); nothing queued\n"),
        "{}",
        stdout_of(&out)
    );
    root.file(
        "etc/lastgasp/lastgasp.toml.d/50-submit.toml",
        "[submit]\nenabled = true\ntarget = \"sentry\"\ndsn = \"https://k@sentry.example.org/1\"\n",
    );
    root.file(
        "var/lib/lastgasp/submit/20261201T100000Z-0123456789ab.json",
        r#"{"version":1,"id":"20261201T100000Z-0123456789ab","state":"pending","queued_at":1764583200,"bytes":2048,"signature":"s","attempts":1,"next_attempt":1764583260,"last_error":"Sentry answered 503"}"#,
    );
    root.file(
        "var/lib/lastgasp/submit/20261201T090000Z-0123456789ac.json",
        r#"{"version":1,"id":"20261201T090000Z-0123456789ac","state":"sent","queued_at":1764579600,"bytes":100,"signature":"s","attempts":1,"next_attempt":0,"sent_at":1764579601}"#,
    );
    let out = root.cmd().arg("status").output().unwrap();
    assert!(
        stdout_of(&out).contains(
            "  submit       on, to sentry; 1 pending (2 KiB), 1 sent, 0 given up; next attempt \
             2025-12-01T10:01:00Z; last error: Sentry answered 503\n"
        ),
        "{}",
        stdout_of(&out)
    );
    let out = root.cmd().args(["status", "--json"]).output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["submit"]["pending"], 1);
    assert_eq!(status["submit"]["sent"], 1);
}

#[test]
fn config_shows_submit_without_the_token() {
    let root = FakeRoot::new();
    root.file(
        "etc/lastgasp/lastgasp.toml.d/50-submit.toml",
        "[submit]\nenabled = true\nurl = \"https://crashes.example.org\"\ntoken = \"s3cret-upload-token\"\n",
    );
    let out = root.cmd().arg("config").output().unwrap();
    assert!(out.status.success());
    let text = stdout_of(&out);
    assert!(text.contains("\n[submit]\nenabled = true  # "), "{text}");
    assert!(
        text.contains("url = \"https://crashes.example.org\"  # "),
        "{text}"
    );
    assert!(text.contains("token = \"(set)\""), "{text}");
    assert!(
        text.contains("max_reports_per_day = 32  # default"),
        "{text}"
    );
    let out = root.cmd().args(["config", "--json"]).output().unwrap();
    let json = stdout_of(&out);
    assert!(
        !text.contains("s3cret") && !json.contains("s3cret"),
        "{json}"
    );
    let config: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(config["submit"]["enabled"], true);
    assert_eq!(config["submit"]["max_bytes_per_day"], 50 << 20);
    assert!(
        config["origins"]["submit.url"]
            .as_str()
            .unwrap()
            .ends_with("50-submit.toml")
    );
}

#[test]
fn a_dry_run_works_before_submitting_is_turned_on() {
    let root = FakeRoot::new();
    let got = root.path().join("request.json");
    let sender = root.file(
        "sender.sh",
        &format!("#!/bin/sh\ncat > '{}'\n", got.display()),
    );
    std::fs::set_permissions(&sender, std::fs::Permissions::from_mode(0o755)).unwrap();
    // No target yet: the dry run says how to set one up.
    let out = root
        .cmd()
        .env("LASTGASP_SUBMIT", &sender)
        .args(["submit", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stdout_of(&out).contains("Submitting crash reports is off"));
    assert!(!got.exists());
    // A target, still off: the dry run runs; a real run does not.
    root.file(
        "etc/lastgasp/lastgasp.toml.d/50-submit.toml",
        "[submit]\ntarget = \"directory\"\ndirectory = \"/srv/drop\"\n",
    );
    let out = root
        .cmd()
        .env("LASTGASP_SUBMIT", &sender)
        .arg("submit")
        .output()
        .unwrap();
    assert!(stdout_of(&out).contains("Submitting crash reports is off"));
    assert!(!got.exists(), "a real run while off reached the sender");
    let out = root
        .cmd()
        .env("LASTGASP_SUBMIT", &sender)
        .args(["submit", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let request: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&got).unwrap()).unwrap();
    assert_eq!(request["dry_run"], true);
}
