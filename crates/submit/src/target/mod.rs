//! The places a report can go, and what their answers mean for the queue: accepted (sent, never
//! again), retry later (429, 5xx, no answer), rejected for good (413 and other 4xx: this report
//! will never be taken) or refused (401/403 and the like: the configuration is wrong, so the
//! run stops and the report stays queued).

pub mod directory;
pub mod sentry;
#[cfg(feature = "http")]
pub mod server;

use serde::Serialize;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Outcome {
    Accepted {
        /// The target already had it (an earlier attempt got through without its answer).
        duplicate: bool,
        /// Where the target shows it, when it says.
        location: Option<String>,
    },
    Retry {
        why: String,
        /// Seconds the target asked to wait.
        retry_after: Option<u64>,
    },
    Rejected {
        why: String,
    },
    Refused {
        why: String,
    },
}

/// The `error` of a JSON answer, else its first line, short.
pub fn answer_text(body: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string));
    let text = from_json.unwrap_or_else(|| body.lines().next().unwrap_or_default().to_string());
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

/// The meaning of a non-2xx status, in the words of `target`.
pub fn classify_failure(
    target: &str,
    status: u16,
    retry_after: Option<u64>,
    body: &str,
) -> Outcome {
    let said = answer_text(body);
    let said = if said.is_empty() {
        String::new()
    } else {
        format!(": {said}")
    };
    match status {
        429 => Outcome::Retry {
            why: format!("{target} is rate-limiting uploads (429){said}"),
            retry_after,
        },
        500..=599 => Outcome::Retry {
            why: format!("{target} answered {status}{said}"),
            retry_after,
        },
        413 => Outcome::Rejected {
            why: format!("{target} refuses this report as too large (413){said}"),
        },
        401 | 403 => Outcome::Refused {
            why: format!("{target} refused the credentials ({status}){said}: check token or dsn"),
        },
        400..=499 => Outcome::Rejected {
            why: format!("{target} rejected this report ({status}){said}"),
        },
        _ => Outcome::Refused {
            why: format!("{target} answered {status}{said}: check the url"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_what_the_queue_does() {
        let c = |status, body: &str| classify_failure("server", status, Some(7), body);
        assert!(matches!(
            c(429, ""),
            Outcome::Retry {
                retry_after: Some(7),
                ..
            }
        ));
        assert!(matches!(c(503, "down"), Outcome::Retry { .. }));
        match c(413, r#"{"error":"archive over 8 MiB"}"#) {
            Outcome::Rejected { why } => {
                assert_eq!(
                    why,
                    "server refuses this report as too large (413): archive over 8 MiB"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(c(400, "bad"), Outcome::Rejected { .. }));
        assert!(matches!(c(401, ""), Outcome::Refused { .. }));
        assert!(matches!(c(302, ""), Outcome::Refused { .. }));
    }
}
