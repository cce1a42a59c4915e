//! The Sentry target: one envelope per report, holding an event whose fingerprint is the crash
//! signature (so Sentry groups a fleet's crashes as lastgasp does) and the scrubbed archive as an
//! attachment. The event id is derived from the report id, so Sentry drops a second copy.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::payload::Payload;

/// The parts of a DSN (`https://<public key>@<host>[/<path>]/<project id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    pub scheme: String,
    pub public_key: String,
    /// Host, with the port when given.
    pub host: String,
    /// Anything between the host and the project id, without slashes around it.
    pub path: String,
    pub project_id: String,
}

impl Dsn {
    pub fn parse(dsn: &str) -> Result<Self> {
        let bad = |why: &str| Error::Config {
            key: "dsn",
            why: format!("{why} (expected https://<key>@<host>/<project id>)"),
        };
        let (scheme, rest) = dsn.split_once("://").ok_or_else(|| bad("no scheme"))?;
        if scheme != "https" && scheme != "http" {
            return Err(bad("the scheme is neither https nor http"));
        }
        let (credentials, location) = rest.split_once('@').ok_or_else(|| bad("no key"))?;
        let public_key = credentials.split(':').next().unwrap_or_default();
        let (host, path) = location
            .split_once('/')
            .ok_or_else(|| bad("no project id"))?;
        let path = path.trim_end_matches('/');
        let (prefix, project_id) = path.rsplit_once('/').unwrap_or(("", path));
        if public_key.is_empty() || host.is_empty() || project_id.is_empty() {
            return Err(bad("a part is empty"));
        }
        Ok(Self {
            scheme: scheme.to_string(),
            public_key: public_key.to_string(),
            host: host.to_string(),
            path: prefix.to_string(),
            project_id: project_id.to_string(),
        })
    }

    /// Where envelopes go.
    pub fn envelope_url(&self) -> String {
        let prefix = if self.path.is_empty() {
            String::new()
        } else {
            format!("/{}", self.path)
        };
        format!(
            "{}://{}{prefix}/api/{}/envelope/",
            self.scheme, self.host, self.project_id
        )
    }

    pub fn auth_header(&self) -> String {
        format!(
            "Sentry sentry_version=7, sentry_client=lastgasp/{}, sentry_key={}",
            env!("CARGO_PKG_VERSION"),
            self.public_key
        )
    }
}

/// 32 hex digits from the report id: the same report is always the same event.
pub fn event_id(report_id: &str) -> String {
    hex::encode(&Sha256::digest(report_id.as_bytes())[..16])
}

/// The event: fingerprint the signature, message the analysis title, the class as the
/// exception type with the signature's frames (Sentry lists the innermost frame last).
pub fn event(payload: &Payload, dsn_timestamp: &str) -> Value {
    let analysis = payload.manifest.get("analysis");
    let frames: Vec<Value> = analysis
        .and_then(|a| a.get("signature_frames"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .rev()
                .filter_map(Value::as_str)
                .map(|f| json!({ "function": f }))
                .collect()
        })
        .unwrap_or_default();
    let signature = payload
        .signature
        .clone()
        .unwrap_or_else(|| "unanalysed".into());
    let class = payload.class.clone().unwrap_or_else(|| "crash".into());
    let title = payload.title.clone().unwrap_or_else(|| class.clone());
    let mut tags = serde_json::Map::new();
    tags.insert("signature".into(), json!(signature));
    tags.insert("class".into(), json!(class));
    tags.insert("report_id".into(), json!(payload.id));
    if let Some(release) = &payload.kernel_release {
        tags.insert("kernel_release".into(), json!(release));
    }
    let mut exception = json!({ "type": class, "value": title });
    if !frames.is_empty() {
        exception["stacktrace"] = json!({ "frames": frames });
    }
    json!({
        "event_id": event_id(&payload.id),
        "timestamp": dsn_timestamp,
        "platform": "native",
        "level": "fatal",
        "logger": "lastgasp",
        "release": payload.kernel_release,
        "fingerprint": [signature],
        "message": title,
        "tags": tags,
        "exception": { "values": [exception] },
        "extra": { "report": payload.manifest },
    })
}

/// The envelope: its header, the event, the archive as an attachment.
pub fn envelope(payload: &Payload, dsn: &str, now: &str) -> Vec<u8> {
    let event = serde_json::to_vec(&event(payload, now)).expect("values serialise");
    let header = json!({ "event_id": event_id(&payload.id), "dsn": dsn, "sent_at": now });
    let mut out = Vec::with_capacity(event.len() + payload.archive.len() + 512);
    let mut line = |value: &Value| {
        out.extend_from_slice(&serde_json::to_vec(value).expect("values serialise"));
        out.push(b'\n');
    };
    line(&header);
    line(&json!({ "type": "event", "length": event.len() }));
    out.extend_from_slice(&event);
    out.push(b'\n');
    let attachment = json!({
        "type": "attachment",
        "length": payload.archive.len(),
        "filename": format!("{}.tar.zst", payload.id),
        "content_type": "application/zstd",
        "attachment_type": "event.attachment",
    });
    out.extend_from_slice(&serde_json::to_vec(&attachment).expect("values serialise"));
    out.push(b'\n');
    out.extend_from_slice(&payload.archive);
    out.push(b'\n');
    out
}

#[cfg(feature = "http")]
pub fn send(
    client: &crate::http::Client,
    dsn_text: &str,
    payload: &Payload,
) -> Result<super::Outcome> {
    use super::{Outcome, classify_failure};
    let dsn = Dsn::parse(dsn_text)?;
    let now = jiff::Timestamp::now().to_string();
    let body = envelope(payload, dsn_text, &now);
    let url = dsn.envelope_url();
    let auth = dsn.auth_header();
    let headers = [
        ("X-Sentry-Auth", auth.as_str()),
        ("Content-Type", "application/x-sentry-envelope"),
    ];
    Ok(match client.post(&url, &headers, &body) {
        Err(why) => Outcome::Retry {
            why: format!("no answer from {url}: {why}"),
            retry_after: None,
        },
        Ok(answer) if (200..300).contains(&answer.status) => Outcome::Accepted {
            duplicate: false,
            location: Some(format!("event {}", event_id(&payload.id))),
        },
        Ok(answer) => classify_failure("Sentry", answer.status, answer.retry_after, &answer.body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsns_parse_into_the_envelope_endpoint() {
        let dsn = Dsn::parse("https://abc123@o1.ingest.example.com/42").unwrap();
        assert_eq!(
            dsn.envelope_url(),
            "https://o1.ingest.example.com/api/42/envelope/"
        );
        assert!(dsn.auth_header().contains("sentry_key=abc123"));
        let dsn = Dsn::parse("http://key:secret@localhost:9000/sentry/7").unwrap();
        assert_eq!(
            dsn.envelope_url(),
            "http://localhost:9000/sentry/api/7/envelope/"
        );
        for bad in [
            "abc@host/1",
            "ftp://k@h/1",
            "https://host/1",
            "https://k@host",
        ] {
            let err = Dsn::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("[submit] dsn:"), "{bad}: {err}");
        }
    }

    #[test]
    fn event_ids_are_stable_uuids() {
        let id = event_id("20261201T100000Z-0123456789ab");
        assert_eq!(id.len(), 32);
        assert_eq!(id, event_id("20261201T100000Z-0123456789ab"));
        assert_ne!(id, event_id("20261201T100000Z-0123456789ac"));
    }
}
