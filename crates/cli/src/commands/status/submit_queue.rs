//! The `submit` line of `status`: whether reports may leave this machine, where to, and the
//! queue's state (pending, sent, given up, the next attempt and the last error).

use serde::Serialize;
use submit::queue::Queue;

use crate::config::Config;

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SubmitStatus {
    pub enabled: bool,
    pub target: String,
    pub pending: usize,
    pub pending_bytes: u64,
    pub sent: usize,
    pub given_up: usize,
    /// When the first pending report may go, RFC 3339 UTC.
    pub next_attempt: Option<String>,
    pub last_error: Option<String>,
    /// The queue could not be read.
    pub error: Option<String>,
}

pub fn read(config: &Config) -> SubmitStatus {
    let submit = &config.submit;
    let (summary, error) = match Queue::open(&submit.queue_dir).summary() {
        Ok(summary) => (summary, None),
        Err(e) => (Default::default(), Some(e.to_string())),
    };
    SubmitStatus {
        enabled: submit.enabled,
        target: submit.target.name().to_string(),
        pending: summary.pending,
        pending_bytes: summary.pending_bytes,
        sent: summary.sent,
        given_up: summary.rejected,
        next_attempt: summary
            .next_attempt
            .filter(|_| summary.pending > 0)
            .and_then(|t| i64::try_from(t).ok())
            .and_then(|t| jiff::Timestamp::from_second(t).ok())
            .map(|t| t.to_string()),
        last_error: summary.last_error,
        error,
    }
}

impl SubmitStatus {
    pub fn line(&self) -> String {
        if let Some(error) = &self.error {
            return format!("queue unreadable: {error}");
        }
        let state = if self.enabled {
            format!("on, to {}", self.target)
        } else {
            "off ([submit] enabled = false)".to_string()
        };
        if self.pending + self.sent + self.given_up == 0 {
            return format!("{state}; nothing queued");
        }
        let mut line = format!(
            "{state}; {} pending ({}), {} sent, {} given up",
            self.pending,
            super::render::human(self.pending_bytes),
            self.sent,
            self.given_up
        );
        if let Some(next) = &self.next_attempt {
            line.push_str(&format!("; next attempt {next}"));
        }
        if let Some(error) = &self.last_error {
            line.push_str(&format!("; last error: {error}"));
        }
        line
    }
}
