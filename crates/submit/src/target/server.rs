//! The lastgasp-server target (API version 1): `POST <url>/api/v1/reports` with the upload
//! token, the archive as `application/zstd` and the report id as the idempotency key. 201 is a
//! new report, 200 with `"duplicate": true` one the server already had.

use serde::Deserialize;

use super::{Outcome, classify_failure};
use crate::http::Client;

#[derive(Debug, Deserialize)]
struct Created {
    #[serde(default)]
    duplicate: bool,
    url: Option<String>,
}

pub fn send(client: &Client, url: &str, token: &str, id: &str, archive: &[u8]) -> Outcome {
    let endpoint = format!("{}/api/v1/reports", url.trim_end_matches('/'));
    let bearer = format!("Bearer {token}");
    let headers = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/zstd"),
        ("X-Lastgasp-Report-Id", id),
    ];
    match client.post(&endpoint, &headers, archive) {
        Err(why) => Outcome::Retry {
            why: format!("no answer from {endpoint}: {why}"),
            retry_after: None,
        },
        Ok(answer) if (200..300).contains(&answer.status) => {
            let created: Option<Created> = serde_json::from_str(&answer.body).ok();
            Outcome::Accepted {
                duplicate: created.as_ref().is_some_and(|c| c.duplicate),
                location: created.and_then(|c| c.url).map(|path| {
                    if path.starts_with('/') {
                        format!("{}{path}", url.trim_end_matches('/'))
                    } else {
                        path
                    }
                }),
            }
        }
        Ok(answer) => classify_failure(
            "the server",
            answer.status,
            answer.retry_after,
            &answer.body,
        ),
    }
}
