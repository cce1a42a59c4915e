//! What a finished fleet run must show: the guest's save is a good ramoops report (the checks
//! every pstore scenario gets) under the committed signature of the crash; its log named the
//! machine, the dry run and the server's copy do not; the first `submit` sent it once, the second
//! sent nothing; the server's API counts it once under that signature and its dashboard shows it.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use super::server::{FleetServer, UPLOAD_TOKEN};
use super::{Machine, NAME};
use crate::lab::arch::Arch;
use crate::lab::check;
use crate::lab::guest_net;
use crate::lab::scenario::{Backend, Scenario};
use crate::lab::suite::Suite;

/// The crash-test module's crash the guest makes, and whose committed golden signature it gets.
const CRASH: &str = "null";
/// What the guest's kernel log line says besides the machine's own names (fleet-init).
const NIC_MAC: &str = "52:54:00:12:34:56";
const HOME: &str = "/home/alice";

/// The tokens `lastgasp submit` puts in place of what identifies the machine (docs/submit.md).
const TOKENS: &[&str] = &[
    "<hostname>",
    "<machine-id>",
    "<serial>",
    "<mac>",
    "<ipv4>",
    "/home/<user>",
];

fn read_text(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn read_json(dir: &Path, name: &str) -> Result<Value> {
    let text = std::fs::read_to_string(dir.join(name))
        .with_context(|| format!("the guest wrote no {name}"))?;
    serde_json::from_str(&text).with_context(|| format!("{name} is not JSON: {text}"))
}

/// The guest's `command`, whose outputs are `name.rc` and `name.err`, exited 0.
fn succeeded(out: &Path, name: &str, command: &str) -> Result<()> {
    let rc = read_text(out, &format!("{name}.rc"));
    ensure!(
        rc == "0",
        "`{command}` exited {rc:?}: {}",
        read_text(out, &format!("{name}.err"))
    );
    Ok(())
}

/// The identifiers of `machine` as they appear in the guest's kernel log.
fn identifiers(machine: &Machine) -> [&str; 6] {
    [
        machine.hostname,
        machine.machine_id,
        machine.serial,
        NIC_MAC,
        guest_net::GUEST_ADDRESS,
        HOME,
    ]
}

/// `text` (what left the machine, under `what`) holds none of the machine's identifiers, nor
/// the upload token.
fn scrubbed(what: &str, text: &str, machine: &Machine) -> Result<()> {
    for identifier in identifiers(machine).into_iter().chain([UPLOAD_TOKEN]) {
        ensure!(
            !text.contains(identifier),
            "{what} still holds {identifier:?}"
        );
    }
    Ok(())
}

/// The signature the committed corpus gives the crash-test module's `null` crash on x86_64.
fn golden_signature(workspace: &Path) -> Result<String> {
    let golden = workspace.join(format!("tests/fixtures/kmsg/x86_64/{CRASH}/expected.json"));
    let text = std::fs::read_to_string(&golden)
        .with_context(|| format!("reading {}", golden.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", golden.display()))?;
    value["signature"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{} has no signature", golden.display()))
}

/// Every check of the run; returns the summary line.
pub fn verify(
    workspace: &Path,
    server: &FleetServer,
    machine: &Machine,
    suite: Suite,
    out: &Path,
    serial: &[u8],
) -> Result<String> {
    // The save, as every ramoops scenario checks it.
    let scenario = Scenario {
        name: format!("{NAME}{}", suite.name_suffix()),
        arch: Arch::X86_64,
        suite,
        backend: Backend::Ramoops,
        crash: CRASH.to_owned(),
        panics: true,
        corpus_boot: None,
    };
    let collected = check::collected(out.to_path_buf())?;
    check::verify(&scenario, &collected, serial)?;
    let manifest = &collected.manifest;
    let id = manifest["id"].as_str().context("report.json has no id")?;
    let signature = manifest["analysis"]["signature"]
        .as_str()
        .context("report.json has no signature")?;
    let golden = golden_signature(workspace)?;
    ensure!(
        signature == golden,
        "the guest's report has signature {signature:?}, the corpus's {CRASH} crash {golden:?}"
    );
    // The saved log names the machine: else the scrubbing checks below would prove nothing.
    let saved_log = std::fs::read_to_string(collected.report_dir.join("dmesg.txt"))?;
    for identifier in identifiers(machine) {
        ensure!(
            saved_log.contains(identifier),
            "the saved dmesg.txt lacks {identifier:?}, the line the guest wrote before crashing"
        );
    }

    // The guest reached the server before submitting: else what follows fails for the network.
    ensure!(
        read_text(out, "health.json").contains("\"ok\""),
        "the guest never reached the server's health check (lab-net-up said {:?}; {})",
        read_text(out, "net.txt"),
        read_text(out, "ip.txt")
    );

    // The dry run, before submitting was on: this report, scrubbed, and nothing sent.
    succeeded(out, "dry-run", "lastgasp submit --dry-run")?;
    ensure!(
        read_text(out, "dry-run.txt").contains(id),
        "the dry run's text does not name {id}"
    );
    let dry = read_json(out, "dry-run.json")?;
    let previews = dry["previews"].as_array().cloned().unwrap_or_default();
    ensure!(
        dry["dry_run"] == true && previews.len() == 1 && previews[0]["id"] == id,
        "the dry run does not preview just {id}: {dry}"
    );
    ensure!(
        dry["attempts"].as_array().is_some_and(Vec::is_empty),
        "the dry run sent something: {}",
        dry["attempts"]
    );
    let previewed_log = previews[0]["files"]
        .as_array()
        .and_then(|files| {
            let name = format!("{id}/dmesg.txt");
            files.iter().find(|file| file["name"] == name.as_str())
        })
        .and_then(|file| file["text"].as_str())
        .context("the dry run shows no dmesg.txt")?;
    scrubbed("the dry run's dmesg.txt", previewed_log, machine)?;

    // The first submit sent it; the second had nothing to send.
    succeeded(out, "submit1", "lastgasp submit")?;
    let first = read_json(out, "submit1.json")?;
    let attempts = first["attempts"].as_array().cloned().unwrap_or_default();
    ensure!(
        attempts.len() == 1
            && attempts[0]["id"] == id
            && attempts[0]["outcome"] == "accepted"
            && attempts[0]["duplicate"] == false,
        "the first submit did not send {id} once as new: {}",
        first["attempts"]
    );
    succeeded(out, "submit2", "lastgasp submit (again)")?;
    let second = read_json(out, "submit2.json")?;
    ensure!(
        second["attempts"].as_array().is_some_and(Vec::is_empty)
            && second["queued"].as_array().is_some_and(Vec::is_empty)
            && second["queue"]["sent"] == 1
            && second["queue"]["pending"] == 0,
        "the second submit was not a no-op: {second}"
    );

    // The server: one report, under the guest's signature, scrubbed.
    let report = server.json(&format!("/api/v1/reports/{id}"))?;
    ensure!(
        report["signature"] == signature && report["client_signature"] == signature,
        "the server filed {id} under {} (client {}), the guest's is {signature:?}",
        report["signature"],
        report["client_signature"]
    );
    let ranked = server.json("/api/v1/signatures")?;
    let ranked = ranked["signatures"].as_array().cloned().unwrap_or_default();
    ensure!(
        ranked.len() == 1 && ranked[0]["signature"] == signature && ranked[0]["count"] == 1,
        "the server's ranking is not {signature} counted once: {ranked:?}"
    );
    let page = ranked[0]["url"]
        .as_str()
        .context("the ranking has no url")?;
    let one = server.json(&format!("/api/v1{page}"))?;
    ensure!(
        one["count"] == 1 && one["representative"]["id"] == id,
        "/api/v1{page} does not show {id} once: count {}, representative {}",
        one["count"],
        one["representative"]["id"]
    );
    let served_log = one["representative"]["log"]
        .as_str()
        .context("the server shows no log for the signature")?;
    scrubbed("the server's log of the report", served_log, machine)?;
    for token in TOKENS {
        ensure!(
            served_log.contains(token),
            "the server's log lacks {token:?}, which should stand for the machine's own value"
        );
    }
    ensure!(
        served_log == previewed_log,
        "what the server holds is not what the dry run showed"
    );
    let (status, _) = server.get("/api/v1/signatures", false)?;
    ensure!(
        status == 401,
        "reading without the admin token answered {status}, not 401"
    );

    // The dashboard: the top list and the signature's page, the log escaped and scrubbed.
    let top = server.read("/")?;
    ensure!(
        top.contains(signature) && top.contains(page),
        "the dashboard's top list does not show {signature}"
    );
    let html = server.read(page)?;
    ensure!(
        html.contains(signature) && html.contains(id) && html.contains("&lt;hostname&gt;"),
        "the dashboard's page {page} does not show {id} and its scrubbed log"
    );
    scrubbed(&format!("the dashboard's page {page}"), &html, machine)?;
    Ok(format!(
        "{signature}: report {id} on the server once, scrubbed; a second submit sent nothing"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MACHINE: Machine = Machine {
        hostname: "fleet-test-host",
        machine_id: "0123456789abcdef0123456789abcdef",
        serial: "TESTSERIAL9",
    };

    #[test]
    fn any_identifier_or_the_token_left_fails_the_scrub_check() {
        let clean = "machine <hostname> id <machine-id> serial number: <serial> nic <mac> \
                     addr <ipv4> config /home/<user>/.config";
        scrubbed("clean", clean, &MACHINE).unwrap();
        for left in identifiers(&MACHINE).into_iter().chain([UPLOAD_TOKEN]) {
            let text = format!("{clean} {left}");
            let err = scrubbed("the log", &text, &MACHINE).unwrap_err();
            assert!(err.to_string().contains(left), "{err}");
        }
    }

    #[test]
    fn the_golden_signature_is_the_committed_null_crash() {
        let workspace = crate::lab::workspace();
        let signature = golden_signature(&workspace).unwrap();
        assert!(
            signature.starts_with("null-pointer-dereference-lastgasp_null_write-"),
            "{signature}"
        );
    }
}
