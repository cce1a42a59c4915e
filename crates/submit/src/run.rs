//! One run of `lastgasp submit`: queue every report not queued yet (scrubbed and packed once),
//! then send the queued reports that are due, oldest first, within the daily limits. A retry
//! answer (429, 5xx, no answer) schedules that report's next attempt and ends the run, since
//! the target is in trouble; a rejection marks that report and goes on; refused credentials end
//! the run with the reports still queued. `--dry-run` does the scrubbing and packing only and
//! shows every file that would leave, writing nothing.

use std::path::{Path, PathBuf};

use report::Store;
use serde::Serialize;

use crate::backoff;
use crate::error::{Error, Result};
use crate::http::Client;
use crate::identifiers;
use crate::limits::{Ledger, Verdict};
use crate::payload::{self, ArchivedFile, Payload};
use crate::queue::{Entry, Queue, State, Summary};
pub use crate::settings::Request;
use crate::settings::{Settings, Target};
use crate::target::{self, Outcome};

/// What happened to one report in this run.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub id: String,
    pub signature: Option<String>,
    pub bytes: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// For a retry: when the next attempt is due, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<u64>,
}

/// One report as it would leave, for `--dry-run`.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub id: String,
    pub signature: Option<String>,
    /// The archive's name at the target and its size.
    pub archive: String,
    pub bytes: u64,
    pub files: Vec<PreviewFile>,
    /// Report files that are not text and stay behind.
    pub left_out: Vec<String>,
    /// Already queued (the archive made then is what goes).
    pub queued: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviewFile {
    pub name: String,
    pub bytes: u64,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub target: String,
    pub destination: String,
    pub dry_run: bool,
    /// Reports queued by this run.
    pub queued: Vec<String>,
    pub attempts: Vec<Attempt>,
    pub previews: Vec<Preview>,
    /// Why the run stopped before the queue was empty (rate limit, target trouble).
    pub stopped: Option<String>,
    /// Reports skipped because they could not be read, with why.
    pub skipped: Vec<String>,
    pub queue: Summary,
}

impl RunReport {
    /// Something needs a person: a report refused for good, or credentials refused.
    pub fn failed(&self) -> bool {
        self.attempts.iter().any(|a| {
            matches!(
                a.outcome,
                Outcome::Rejected { .. } | Outcome::Refused { .. }
            )
        })
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A scratch directory for packing, removed when dropped.
struct Staging(PathBuf);

impl Staging {
    fn new(parent: &Path) -> Result<Self> {
        let dir = parent.join(format!(".staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        Ok(Self(dir))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn run(request: &Request) -> Result<RunReport> {
    let settings = &request.settings;
    settings.check()?;
    let queue = Queue::open(&settings.queue_dir);
    let mut report = RunReport {
        target: settings.target.name().to_string(),
        destination: settings.target.describe(),
        dry_run: request.dry_run,
        queued: Vec::new(),
        attempts: Vec::new(),
        previews: Vec::new(),
        stopped: None,
        skipped: Vec::new(),
        queue: Summary::default(),
    };
    // A dry run writes nothing: it packs in a scratch directory of its own, outside the queue.
    let _lock = if request.dry_run {
        None
    } else {
        Some(queue.lock()?)
    };
    let staging = if request.dry_run {
        Staging::new(&std::env::temp_dir())?
    } else {
        Staging::new(queue.dir())?
    };
    let now = unix_now();
    enqueue(request, &queue, &staging.0, now, &mut report)?;
    if request.dry_run {
        preview_queued(request, &queue, now, &mut report)?;
    } else {
        send_due(request, &queue, now, &mut report)?;
    }
    report.queue = queue.summary()?;
    Ok(report)
}

/// Scrubs and queues every saved report not queued before (in a dry run: previews it).
fn enqueue(
    request: &Request,
    queue: &Queue,
    staging: &Path,
    now: u64,
    report: &mut RunReport,
) -> Result<()> {
    let settings = &request.settings;
    let store = Store::open(&settings.reports_dir);
    let listed = store.list().map_err(|source| Error::Report {
        id: settings.reports_dir.display().to_string(),
        source,
    })?;
    let ids = identifiers::collect(&settings.root);
    for item in listed {
        if let Err(why) = &item.manifest {
            report.skipped.push(format!("{}: {why}", item.id));
            continue;
        }
        if queue.get(&item.id)?.is_some() {
            continue;
        }
        let payload =
            match payload::build(&store, &item.id, &ids, &settings.scrub_patterns, staging) {
                Ok(payload) => payload,
                Err(e @ Error::Config { .. }) => return Err(e),
                Err(e) => {
                    report.skipped.push(e.to_string());
                    continue;
                }
            };
        if request.dry_run {
            report.previews.push(preview(&payload, false)?);
            continue;
        }
        let entry = Entry::new(
            &payload.id,
            payload.archive.len() as u64,
            payload.signature.clone(),
            now,
        );
        queue.add(&entry, &payload.archive)?;
        tracing::info!(id = %payload.id, bytes = entry.bytes, "report queued");
        report.queued.push(payload.id);
    }
    Ok(())
}

fn preview(payload: &Payload, queued: bool) -> Result<Preview> {
    let files = payload::contents(&payload.archive).map_err(|e| Error::Invalid {
        path: PathBuf::from(format!("{}.tar.zst", payload.id)),
        why: e.to_string(),
    })?;
    Ok(Preview {
        id: payload.id.clone(),
        signature: payload.signature.clone(),
        archive: format!("{}.tar.zst", payload.id),
        bytes: payload.archive.len() as u64,
        files: files.into_iter().map(preview_file).collect(),
        left_out: payload.left_out.clone(),
        queued,
    })
}

fn preview_file(file: ArchivedFile) -> PreviewFile {
    PreviewFile {
        bytes: file.bytes.len() as u64,
        text: String::from_utf8_lossy(&file.bytes).into_owned(),
        name: file.name,
    }
}

/// The queued reports that a real run would send now.
fn due(request: &Request, queue: &Queue, now: u64) -> Result<Vec<Entry>> {
    Ok(queue
        .entries()?
        .into_iter()
        .filter(|e| e.state == State::Pending && e.due_at(request.now) <= now)
        .collect())
}

fn preview_queued(
    request: &Request,
    queue: &Queue,
    now: u64,
    report: &mut RunReport,
) -> Result<()> {
    for entry in due(request, queue, now)? {
        let payload = Payload::from_archive(&entry.id, queue.archive(&entry.id)?)
            .map_err(Error::io(queue.archive_path(&entry.id)))?;
        report.previews.push(preview(&payload, true)?);
    }
    Ok(())
}

fn send_due(request: &Request, queue: &Queue, now: u64, report: &mut RunReport) -> Result<()> {
    let settings = &request.settings;
    let pending = due(request, queue, now)?;
    if pending.is_empty() {
        return Ok(());
    }
    let mut ledger = Ledger::load(queue.dir())?;
    let client = match settings.target {
        Target::Directory { .. } => None,
        _ => Some(Client::new(settings)?),
    };
    let token = settings.token()?;
    for mut entry in pending {
        let verdict = ledger.check(
            now,
            entry.bytes,
            settings.max_reports_per_day,
            settings.max_bytes_per_day,
        );
        let outcome = match verdict {
            Verdict::WaitUntil { until, why } => {
                report.stopped = Some(format!(
                    "rate limit: {why}; the next report may go at {}",
                    time_text(until)
                ));
                break;
            }
            Verdict::TooBig { why } => Outcome::Rejected { why },
            Verdict::Go => {
                let Ok(archive) = queue.archive(&entry.id) else {
                    // Its archive is gone (removed by hand): forget the entry, so the next run
                    // packs the report again if it is still saved.
                    queue.forget(&entry.id)?;
                    report.skipped.push(format!(
                        "{}: its queued archive is gone; queued again next run",
                        entry.id
                    ));
                    continue;
                };
                ledger.record(now, entry.bytes)?;
                send_one(
                    settings,
                    client.as_ref(),
                    token.as_deref(),
                    &entry.id,
                    archive,
                )?
            }
        };
        let next = settle(&mut entry, &outcome, now);
        queue.save(&entry)?;
        tracing::info!(id = %entry.id, ?outcome, "submit attempt");
        let stop = match &outcome {
            Outcome::Retry { why, .. } | Outcome::Refused { why } => Some(why.clone()),
            _ => None,
        };
        report.attempts.push(Attempt {
            id: entry.id.clone(),
            signature: entry.signature.clone(),
            bytes: entry.bytes,
            outcome,
            next_attempt: next,
        });
        if let Some(why) = stop {
            report.stopped = Some(why);
            break;
        }
    }
    Ok(())
}

fn send_one(
    settings: &Settings,
    client: Option<&Client>,
    token: Option<&str>,
    id: &str,
    archive: Vec<u8>,
) -> Result<Outcome> {
    match (&settings.target, client) {
        (Target::Directory { path }, _) => target::directory::send(path, id, &archive),
        (Target::Server { url }, Some(client)) => Ok(target::server::send(
            client,
            url,
            token.unwrap_or_default(),
            id,
            &archive,
        )),
        (Target::Sentry { dsn }, Some(client)) => {
            let payload = Payload::from_archive(id, archive).map_err(|e| Error::Invalid {
                path: PathBuf::from(format!("{id}.tar.zst")),
                why: e.to_string(),
            })?;
            target::sentry::send(client, dsn, &payload)
        }
        (_, None) => unreachable!("network targets always get a client"),
    }
}

/// The entry after `outcome`; for a retry, the time of the next attempt.
fn settle(entry: &mut Entry, outcome: &Outcome, now: u64) -> Option<u64> {
    match outcome {
        Outcome::Accepted { location, .. } => {
            entry.state = State::Sent;
            entry.sent_at = Some(now);
            entry.location.clone_from(location);
            entry.last_error = None;
            entry.attempts += 1;
            None
        }
        Outcome::Retry { why, retry_after } => {
            entry.attempts += 1;
            entry.next_attempt = now + backoff::next_delay(entry.attempts);
            entry.retry_after = retry_after.map(|secs| now + secs);
            entry.last_error = Some(why.clone());
            Some(entry.due_at(false))
        }
        Outcome::Rejected { why } => {
            entry.state = State::Rejected;
            entry.attempts += 1;
            entry.last_error = Some(why.clone());
            None
        }
        Outcome::Refused { why } => {
            entry.last_error = Some(why.clone());
            None
        }
    }
}

/// Unix seconds as RFC 3339 UTC.
pub fn time_text(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(|| secs.to_string(), |t| t.to_string())
}
