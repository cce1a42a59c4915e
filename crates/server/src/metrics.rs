//! Prometheus counters, written by hand in the text exposition format: uploads by outcome,
//! bytes received, time spent ingesting, the netconsole receiver's datagrams and reports, and
//! the database's totals read at scrape time.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// What became of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Duplicate,
    Conflict,
    Rejected,
    TooLarge,
    RateLimited,
    Unauthorized,
    Error,
}

const OUTCOMES: [(Outcome, &str); 8] = [
    (Outcome::Created, "created"),
    (Outcome::Duplicate, "duplicate"),
    (Outcome::Conflict, "conflict"),
    (Outcome::Rejected, "rejected"),
    (Outcome::TooLarge, "too_large"),
    (Outcome::RateLimited, "rate_limited"),
    (Outcome::Unauthorized, "unauthorized"),
    (Outcome::Error, "error"),
];

#[derive(Debug, Default)]
pub struct Metrics {
    uploads: [AtomicU64; 8],
    upload_bytes: AtomicU64,
    ingest_micros: AtomicU64,
    ingest_count: AtomicU64,
    /// netconsole datagrams taken and refused by the parser.
    netconsole_taken: AtomicU64,
    netconsole_refused: AtomicU64,
    /// Reports the netconsole receiver stored.
    netconsole_reports: AtomicU64,
}

impl Metrics {
    pub fn upload(&self, outcome: Outcome) {
        let i = OUTCOMES
            .iter()
            .position(|(o, _)| *o == outcome)
            .unwrap_or(0);
        self.uploads[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn received(&self, bytes: u64) {
        self.upload_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn ingest_time(&self, elapsed: std::time::Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.ingest_micros.fetch_add(micros, Ordering::Relaxed);
        self.ingest_count.fetch_add(1, Ordering::Relaxed);
    }

    /// One netconsole datagram, `refused` when the parser refused it.
    pub fn netconsole_datagram(&self, refused: bool) {
        let counter = if refused {
            &self.netconsole_refused
        } else {
            &self.netconsole_taken
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// One report the netconsole receiver stored.
    pub fn netconsole_report(&self) {
        self.netconsole_reports.fetch_add(1, Ordering::Relaxed);
    }

    pub fn uploads_of(&self, outcome: Outcome) -> u64 {
        let i = OUTCOMES
            .iter()
            .position(|(o, _)| *o == outcome)
            .unwrap_or(0);
        self.uploads[i].load(Ordering::Relaxed)
    }

    /// The exposition text, with the database's report and signature totals.
    pub fn render(&self, reports: i64, signatures: i64) -> String {
        let mut out = String::new();
        out.push_str("# HELP lastgasp_uploads_total Uploads by outcome.\n");
        out.push_str("# TYPE lastgasp_uploads_total counter\n");
        for (i, (_, label)) in OUTCOMES.iter().enumerate() {
            let n = self.uploads[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "lastgasp_uploads_total{{outcome=\"{label}\"}} {n}");
        }
        let gauge = |out: &mut String, name: &str, help: &str, kind: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        gauge(
            &mut out,
            "lastgasp_upload_bytes_total",
            "Bytes of upload bodies received.",
            "counter",
            self.upload_bytes.load(Ordering::Relaxed).to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP lastgasp_ingest_seconds Time spent checking and storing accepted uploads.\n\
             # TYPE lastgasp_ingest_seconds summary\n\
             lastgasp_ingest_seconds_sum {}\nlastgasp_ingest_seconds_count {}",
            self.ingest_micros.load(Ordering::Relaxed) as f64 / 1e6,
            self.ingest_count.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP lastgasp_netconsole_datagrams_total netconsole datagrams by outcome.\n\
             # TYPE lastgasp_netconsole_datagrams_total counter\n\
             lastgasp_netconsole_datagrams_total{{outcome=\"taken\"}} {}\n\
             lastgasp_netconsole_datagrams_total{{outcome=\"refused\"}} {}",
            self.netconsole_taken.load(Ordering::Relaxed),
            self.netconsole_refused.load(Ordering::Relaxed)
        );
        gauge(
            &mut out,
            "lastgasp_netconsole_reports_total",
            "Reports the netconsole receiver stored.",
            "counter",
            self.netconsole_reports.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut out,
            "lastgasp_reports",
            "Reports in the database.",
            "gauge",
            reports.to_string(),
        );
        gauge(
            &mut out,
            "lastgasp_signatures",
            "Distinct crash signatures in the database.",
            "gauge",
            signatures.to_string(),
        );
        out
    }
}
