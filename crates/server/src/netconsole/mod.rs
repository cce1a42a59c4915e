//! The netconsole receiver (`--netconsole ADDR`): a UDP listener for machines and VMs without
//! pstore, whose kernels send their log with netconsole. It keeps a bounded window of each
//! sender's recent lines (`window`), reads plain and extended datagrams (`datagram`), and turns
//! a crash it sees into a report stored exactly like an upload: an archive in the export
//! layout, checked by the upload parser, stored by `api::store` under the caller name
//! `netconsole <sender address>`, with `source: "netconsole"` in its report.json.

pub mod datagram;
pub mod window;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::app::Shared;
use crate::archive;
use crate::ingest::{self, IngestError, Upload};
pub use window::{Captured, Limits, Window};

/// The `[netconsole]` table of server.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Settings {
    /// UDP address to listen on; `--netconsole` overrides it. None: no receiver.
    pub listen: Option<String>,
    pub max_lines: usize,
    pub max_bytes: usize,
    pub max_senders: usize,
    pub quiet_seconds: u64,
    pub max_wait_seconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        let d = Limits::default();
        Self {
            listen: None,
            max_lines: d.max_lines,
            max_bytes: d.max_bytes,
            max_senders: d.max_senders,
            quiet_seconds: d.quiet.as_secs(),
            max_wait_seconds: d.max_wait.as_secs(),
        }
    }
}

impl Settings {
    /// Every limit at least 1, and the longest wait no shorter than the quiet gap.
    pub fn check(&self) -> Result<(), String> {
        let zero = [
            ("max-lines", self.max_lines as u64),
            ("max-bytes", self.max_bytes as u64),
            ("max-senders", self.max_senders as u64),
            ("quiet-seconds", self.quiet_seconds),
            ("max-wait-seconds", self.max_wait_seconds),
        ]
        .into_iter()
        .find(|(_, v)| *v == 0);
        if let Some((name, _)) = zero {
            return Err(format!("[netconsole] {name} must be at least 1"));
        }
        if self.max_wait_seconds < self.quiet_seconds {
            return Err("[netconsole] max-wait-seconds is shorter than quiet-seconds".into());
        }
        Ok(())
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_lines: self.max_lines,
            max_bytes: self.max_bytes,
            max_senders: self.max_senders,
            quiet: Duration::from_secs(self.quiet_seconds),
            max_wait: Duration::from_secs(self.max_wait_seconds),
        }
    }
}

/// Every sender's window.
#[derive(Debug)]
pub struct Receiver {
    limits: Limits,
    senders: HashMap<SocketAddr, Window>,
    /// Datagrams the parser refused, from every sender.
    refused: u64,
}

impl Receiver {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            senders: HashMap::new(),
            refused: 0,
        }
    }

    /// Takes one datagram from `from`; a new sender past `max_senders` makes the one heard
    /// from least recently be forgotten.
    pub fn receive(&mut self, from: SocketAddr, data: &[u8], now: Instant) -> Option<Captured> {
        if !self.senders.contains_key(&from) && self.senders.len() >= self.limits.max_senders {
            let oldest = self
                .senders
                .iter()
                .min_by_key(|(_, w)| w.last_heard)
                .map(|(addr, _)| *addr);
            if let Some(addr) = oldest {
                tracing::info!(sender = %addr, "netconsole: sender forgotten for a new one");
                self.senders.remove(&addr);
            }
        }
        let window = self.senders.entry(from).or_insert_with(|| Window::new(now));
        let before = window.refused;
        let captured = window.receive(data, &self.limits, now);
        self.refused += window.refused - before;
        captured
    }

    /// Datagrams the parser refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// The crashes whose time has come (see `Window::tick`).
    pub fn tick(&mut self, now: Instant) -> Vec<(SocketAddr, Captured)> {
        let limits = self.limits;
        self.senders
            .iter_mut()
            .filter_map(|(addr, w)| w.tick(&limits, now).map(|c| (*addr, c)))
            .collect()
    }

    pub fn senders(&self) -> usize {
        self.senders.len()
    }
}

/// The caller name a sender's reports are stored under.
pub fn caller_name(from: SocketAddr) -> String {
    format!("netconsole {from}")
}

/// The report archive of a captured crash, `received` (Unix seconds) being its time, read back
/// through the upload parser: the same checks and analysis an upload gets.
pub fn report(
    captured: &Captured,
    received: i64,
    limits: &ingest::Limits,
) -> Result<(Upload, Vec<u8>), IngestError> {
    let log = captured.log.as_bytes();
    let sha = hex::encode(Sha256::digest(log));
    let time =
        jiff::Timestamp::from_second(received).map_or_else(|_| String::new(), |t| t.to_string());
    let files = [archive::File {
        name: "dmesg.txt",
        data: log,
    }];
    let a = &captured.analysis;
    let manifest = report::Manifest {
        format_version: report::FORMAT_VERSION,
        id: report::report_id(Some(received), &[&sha]),
        created: time.clone(),
        source: "netconsole".into(),
        backend: None,
        dump_reason: a.panic_message.as_ref().map(|_| "Panic".to_owned()),
        crash_time: Some(time),
        kernel_release: a.kernel_release.clone(),
        partial: !captured.gaps.is_empty(),
        dumps: Vec::new(),
        records: Vec::new(),
        gaps: captured.gaps.clone(),
        files: archive::entries(&files),
        kdump: None,
        analysis: Some(a.clone()),
        context: Vec::new(),
    };
    let body = archive::tar_zst(&manifest, &files)
        .map_err(|e| IngestError::Tar(format!("making the netconsole report: {e}")))?;
    let upload = ingest::parse(&body, limits)?;
    Ok((upload, body))
}

/// Stores one captured crash of `from` as a report; logs what became of it.
async fn store(state: &Shared, from: SocketAddr, captured: Captured) {
    let received = jiff::Timestamp::now().as_second();
    let limits = state.limits;
    let made = tokio::task::spawn_blocking(move || report(&captured, received, &limits)).await;
    let (upload, body) = match made {
        Ok(Ok(made)) => made,
        Ok(Err(e)) => {
            tracing::warn!(sender = %from, "netconsole: crash not stored: {e}");
            return;
        }
        Err(e) => {
            tracing::error!(sender = %from, "netconsole: report task: {e}");
            return;
        }
    };
    let id = upload.id().to_owned();
    match crate::api::store(state, upload, body, &caller_name(from)).await {
        Ok((status, answer)) => {
            if status == axum::http::StatusCode::CREATED {
                state.metrics.netconsole_report();
            }
            tracing::info!(
                sender = %from,
                id,
                signature = answer["signature"].as_str().unwrap_or(""),
                "netconsole: crash stored as a report"
            );
        }
        Err(e) => tracing::warn!(sender = %from, id, "netconsole: crash not stored: {e}"),
    }
}

/// How often waiting crashes are looked at.
const TICK: Duration = Duration::from_millis(250);
/// Largest datagram read; the kernel sends at most about 1000 bytes.
const MAX_DATAGRAM: usize = 64 << 10;

/// Receives on `socket` until `shutdown` resolves, storing every crash it sees into `state`.
pub async fn run(
    socket: tokio::net::UdpSocket,
    state: Shared,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut receiver = Receiver::new(limits);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        let due = tokio::select! {
            () = &mut shutdown => return,
            got = socket.recv_from(&mut buf) => match got {
                Ok((n, from)) => {
                    let refused = receiver.refused();
                    let captured = receiver.receive(from, &buf[..n], Instant::now());
                    state.metrics.netconsole_datagram(receiver.refused() > refused);
                    captured.map(|c| vec![(from, c)]).unwrap_or_default()
                }
                Err(e) => {
                    // ICMP errors of earlier sends and the like; the socket stays usable.
                    tracing::debug!("netconsole: receiving: {e}");
                    Vec::new()
                }
            },
            _ = ticks.tick() => receiver.tick(Instant::now()),
        };
        for (from, captured) in due {
            tracing::info!(
                sender = %from,
                class = captured.analysis.class,
                "netconsole: crash seen"
            );
            store(&state, from, captured).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 2, 15], port))
    }

    #[test]
    fn senders_are_bounded_and_the_quietest_goes() {
        let mut r = Receiver::new(Limits {
            max_senders: 3,
            ..Limits::default()
        });
        let t0 = Instant::now();
        for port in 0..5u16 {
            r.receive(
                addr(port),
                b"[    1.000000] hello\n",
                t0 + Duration::from_secs(port.into()),
            );
        }
        assert_eq!(r.senders(), 3);
        assert!(!r.senders.contains_key(&addr(0)) && !r.senders.contains_key(&addr(1)));
        assert!(r.senders.contains_key(&addr(4)));
        assert_eq!(r.refused(), 0);
        r.receive(addr(4), b"4,1,2,x;bad flags", t0);
        assert_eq!(r.refused(), 1);
    }

    #[test]
    fn settings_are_checked() {
        assert!(Settings::default().check().is_ok());
        let zero = Settings {
            max_lines: 0,
            ..Settings::default()
        };
        assert!(zero.check().unwrap_err().contains("max-lines"));
        let short = Settings {
            quiet_seconds: 10,
            max_wait_seconds: 5,
            ..Settings::default()
        };
        assert!(short.check().is_err());
    }

    #[test]
    fn a_capture_becomes_a_report_the_upload_parser_accepts() {
        let log = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/kmsg/x86_64/null/serial1.log"
        ));
        let log = log.unwrap_or_else(|e| panic!("the corpus's console log: {e}"));
        let captured = Captured {
            analysis: kmsg::analyze(&log),
            log,
            gaps: vec!["netconsole: 3 extended records never arrived (sequence gaps)".into()],
        };
        let (upload, body) = report(&captured, 1_764_547_200, &ingest::Limits::default()).unwrap();
        assert_eq!(upload.manifest.source, "netconsole");
        assert!(upload.manifest.partial);
        assert_eq!(upload.analysis.signature, captured.analysis.signature);
        assert_eq!(upload.log, captured.log);
        assert_eq!(upload.bytes, body.len() as u64);
        assert!(upload.id().starts_with("20251201T000000Z-"));
        assert_eq!(caller_name(addr(6665)), "netconsole 10.0.2.15:6665");
    }
}
