//! The JSON API (`/api/v1/...`, `/metrics`): upload, the ranked signatures, one signature, one
//! report, health, metrics and the OpenAPI description.

use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::{Shared, rfc3339, url_escape};
use crate::config::Role;
use crate::db::{By, Count, Filter, Inserted, ReportRow, SignatureFacts, SignatureSummary};
use crate::error::ApiError;
use crate::ingest::{self, Upload};
use crate::metrics::Outcome;

/// Header a client may send with the report id it uploads; it must match report.json's.
pub const REPORT_ID_HEADER: &str = "x-lastgasp-report-id";
/// Most signatures one list answer holds.
const MAX_LIMIT: i64 = 1000;

pub async fn upload(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let answer = upload_inner(&state, &headers, body).await;
    let outcome = match &answer {
        Ok((StatusCode::CREATED, _)) => Outcome::Created,
        Ok(_) => Outcome::Duplicate,
        Err(ApiError::Conflict(_)) => Outcome::Conflict,
        Err(ApiError::TooLarge(_)) => Outcome::TooLarge,
        Err(ApiError::RateLimited { .. }) => Outcome::RateLimited,
        Err(ApiError::Unauthorized | ApiError::Forbidden(_)) => Outcome::Unauthorized,
        Err(ApiError::Internal(_)) => Outcome::Error,
        Err(_) => Outcome::Rejected,
    };
    state.metrics.upload(outcome);
    if outcome == Outcome::Created {
        state.metrics.ingest_time(started.elapsed());
    }
    answer.map(|(status, body)| (status, Json(body)).into_response())
}

async fn upload_inner(
    state: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<(StatusCode, Value), ApiError> {
    let (token_name, per_minute) = match state.caller(headers)? {
        Role::Upload { name, per_minute } => (name, per_minute),
        Role::Admin { .. } => return Err(ApiError::Forbidden("admin tokens cannot upload")),
    };
    state
        .limiter
        .check(&token_name, per_minute, Instant::now())
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.split(';').next().map(str::trim) != Some("application/zstd") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type must be application/zstd, not {content_type:?}"
        )));
    }
    let limit = state.limits.max_upload;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(size) = declared.filter(|size| *size > limit) {
        return Err(ingest::IngestError::TooLarge { size, limit }.into());
    }
    let data = read_body(body, limit).await?;
    state.metrics.received(data.len() as u64);
    let limits = state.limits;
    let (upload, data) = tokio::task::spawn_blocking(move || {
        ingest::parse(&data, &limits).map(|upload| (upload, data))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("ingest task: {e}")))??;
    if let Some(claimed) = headers.get(REPORT_ID_HEADER)
        && claimed.as_bytes() != upload.id().as_bytes()
    {
        return Err(ApiError::BadRequest(format!(
            "{REPORT_ID_HEADER} does not match report.json's id {}",
            upload.id()
        )));
    }
    store(state, upload, data, &token_name).await
}

/// Stores a parsed report (its archive under `--data`, its row in the database) for the caller
/// `token_name`: 201 when new, 200 when these bytes were stored before, 409 when the id was
/// stored with other bytes. Uploads and the netconsole receiver both end here.
pub async fn store(
    state: &Shared,
    upload: Upload,
    data: Vec<u8>,
    token_name: &str,
) -> Result<(StatusCode, Value), ApiError> {
    if let Some(existing) = state.db.report(upload.id()).await? {
        return same_or_conflict(&existing, &upload.sha256);
    }
    let blobs = state.blobs.clone();
    let sha = upload.sha256.clone();
    let stored = tokio::task::spawn_blocking(move || blobs.put(&sha, &data))
        .await
        .map_err(|e| ApiError::Internal(format!("archive task: {e}")))?
        .map_err(|e| ApiError::Internal(format!("writing archive {}: {e}", upload.sha256)))?;
    // The archive is durable before the row that points at it is committed.
    if let Err(e) = state.blobs.sync().await {
        if stored {
            forget_archive(state, &upload.sha256).await;
        }
        return Err(ApiError::Internal(format!(
            "syncing archive {}: {e}",
            upload.sha256
        )));
    }
    let (row, facts) = rows(&upload, token_name);
    match state.db.insert(&row, &facts).await {
        Ok(Inserted::New) => {
            tracing::info!(
                id = row.id,
                signature = row.signature,
                token = token_name,
                "report stored"
            );
            Ok((StatusCode::CREATED, answer(&row, false)))
        }
        Ok(Inserted::Existing(existing)) => {
            // Another server stored this id between our look-up and our insert.
            let answer = same_or_conflict(&existing, &row.archive_sha256);
            if answer.is_err() && stored {
                forget_archive(state, &row.archive_sha256).await;
            }
            answer
        }
        Err(error) => {
            if stored {
                forget_archive(state, &row.archive_sha256).await;
            }
            Err(error.into())
        }
    }
}

/// Reads the body, refusing it as soon as it passes `limit` bytes.
async fn read_body(mut body: Body, limit: u64) -> Result<Vec<u8>, ApiError> {
    let mut data = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        if let Ok(chunk) = frame.into_data() {
            let size = (data.len() + chunk.len()) as u64;
            if size > limit {
                return Err(ingest::IngestError::TooLarge { size, limit }.into());
            }
            data.extend_from_slice(&chunk);
        }
    }
    Ok(data)
}

/// Removes an archive this request wrote when no report ended up using it.
async fn forget_archive(state: &Shared, sha256: &str) {
    if let Ok(false) = state.db.archive_used(sha256).await
        && let Err(e) = state.blobs.remove(sha256)
    {
        tracing::warn!("removing unused archive {sha256}: {e}");
    }
}

fn same_or_conflict(existing: &ReportRow, sha256: &str) -> Result<(StatusCode, Value), ApiError> {
    if existing.archive_sha256 == sha256 {
        Ok((StatusCode::OK, answer(existing, true)))
    } else {
        Err(ApiError::Conflict(format!(
            "report {} was uploaded before with other content",
            existing.id
        )))
    }
}

fn answer(row: &ReportRow, duplicate: bool) -> Value {
    json!({
        "id": row.id,
        "signature": row.signature,
        "duplicate": duplicate,
        "url": format!("/signatures/{}", url_escape(&row.signature)),
    })
}

/// The database rows of an accepted upload. The server's own analysis decides the signature;
/// the client's is kept beside it.
fn rows(upload: &Upload, token_name: &str) -> (ReportRow, SignatureFacts) {
    let a = &upload.analysis;
    let m = &upload.manifest;
    let received = jiff::Timestamp::now().as_second();
    let crash_time = m
        .crash_time
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second());
    let row = ReportRow {
        id: m.id.clone(),
        archive_sha256: upload.sha256.clone(),
        archive_bytes: i64::try_from(upload.bytes).unwrap_or(i64::MAX),
        signature: a.signature.clone(),
        client_signature: upload.client_signature.clone(),
        class: a.class.clone(),
        kernel_release: a
            .kernel_release
            .clone()
            .or_else(|| m.kernel_release.clone())
            .unwrap_or_default(),
        hardware: a.hardware.as_deref().map(machine_model).unwrap_or_default(),
        crash_time,
        received,
        seen: crash_time.unwrap_or(received),
        token_name: token_name.to_owned(),
    };
    let facts = SignatureFacts {
        class: a.class.clone(),
        title: a.title.clone(),
        function: a.function.clone(),
        frames: a.signature_frames.clone(),
    };
    (row, facts)
}

/// The machine model of a `Hardware name:` line: what comes before ", BIOS <version> <date>",
/// which differs between firmware updates of one model and would split its counts.
pub fn machine_model(hardware: &str) -> String {
    hardware
        .split_once(", BIOS ")
        .map_or(hardware, |(model, _)| model)
        .trim()
        .to_owned()
}

/// Query string of the list endpoints and the dashboard; empty values mean "any".
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ListQuery {
    pub release: Option<String>,
    pub hardware: Option<String>,
    pub class: Option<String>,
    /// RFC 3339 time or YYYY-MM-DD (UTC), inclusive.
    pub since: Option<String>,
    /// RFC 3339 time or YYYY-MM-DD (UTC), exclusive.
    pub until: Option<String>,
    pub limit: Option<i64>,
}

impl ListQuery {
    pub fn filter(&self) -> Result<Filter, ApiError> {
        let some = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        Ok(Filter {
            release: some(&self.release),
            hardware: some(&self.hardware),
            class: some(&self.class),
            since: some(&self.since)
                .map(|s| parse_time("since", &s))
                .transpose()?,
            until: some(&self.until)
                .map(|s| parse_time("until", &s))
                .transpose()?,
            signature: None,
        })
    }

    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(100),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::BadRequest(format!(
                "limit {n} is outside 1..={MAX_LIMIT}"
            ))),
        }
    }
}

fn parse_time(name: &str, value: &str) -> Result<i64, ApiError> {
    if let Ok(t) = value.parse::<jiff::Timestamp>() {
        return Ok(t.as_second());
    }
    value
        .parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp().as_second())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{name}={value:?} is neither an RFC 3339 time nor a YYYY-MM-DD date"
            ))
        })
}

pub fn query_of(query: Result<Query<ListQuery>, QueryRejection>) -> Result<ListQuery, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::BadRequest(e.body_text().replace('\n', " ")))
}

fn summary_json(s: &SignatureSummary) -> Value {
    json!({
        "signature": s.signature,
        "class": s.class,
        "title": s.title,
        "function": s.function,
        "count": s.count,
        "first_seen": rfc3339(s.first_seen),
        "last_seen": rfc3339(s.last_seen),
        "releases": s.releases,
        "hardware": s.hardware,
        "url": format!("/signatures/{}", url_escape(&s.signature)),
    })
}

pub async fn signatures(
    State(state): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    state.require_read(&headers)?;
    let query = query_of(query)?;
    let ranked = state.db.ranked(&query.filter()?, query.limit()?).await?;
    Ok(Json(json!({
        "signatures": ranked.iter().map(summary_json).collect::<Vec<_>>(),
    })))
}

/// Everything the API and the dashboard show about one signature.
#[derive(Debug, Clone)]
pub struct SignatureView {
    pub summary: SignatureSummary,
    pub facts: SignatureFacts,
    pub representative: String,
    pub log: Option<String>,
    pub by_release: Vec<Count>,
    pub by_hardware: Vec<Count>,
    /// (day number since the epoch, reports).
    pub daily: Vec<(i64, i64)>,
}

pub async fn signature_view(state: &Shared, signature: &str) -> Result<SignatureView, ApiError> {
    let not_found = || ApiError::NotFound(format!("no signature {signature:?}"));
    let (facts, representative) = state.db.signature(signature).await?.ok_or_else(not_found)?;
    let filter = Filter {
        signature: Some(signature.to_owned()),
        ..Filter::default()
    };
    let summary = state
        .db
        .ranked(&filter, 1)
        .await?
        .into_iter()
        .next()
        .ok_or_else(not_found)?;
    let log = report_log(state, &representative).await;
    let daily = state
        .db
        .counts(By::Day, &filter)
        .await?
        .into_iter()
        .filter_map(|c| Some((c.value.parse().ok()?, c.count)))
        .collect();
    Ok(SignatureView {
        summary,
        facts,
        representative,
        log,
        by_release: state.db.counts(By::Release, &filter).await?,
        by_hardware: state.db.counts(By::Hardware, &filter).await?,
        daily,
    })
}

/// The log of report `id`, read back from its archive (which passed the same checks on upload).
async fn report_log(state: &Shared, id: &str) -> Option<String> {
    let row = state.db.report(id).await.ok()??;
    archive_log(state, row.archive_sha256).await
}

/// The log inside the stored archive `archive_sha256`; None when it cannot be read.
pub async fn archive_log(state: &Shared, archive_sha256: String) -> Option<String> {
    let blobs = state.blobs.clone();
    let limits = state.limits;
    tokio::task::spawn_blocking(move || {
        let data = blobs.get(&archive_sha256).ok()?;
        ingest::parse(&data, &limits).ok().map(|u| u.log)
    })
    .await
    .ok()?
}

pub async fn signature(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(signature): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.require_read(&headers)?;
    let view = signature_view(&state, &signature).await?;
    let mut body = summary_json(&view.summary);
    body["frames"] = json!(view.facts.frames);
    body["representative"] = json!({ "id": view.representative, "log": view.log });
    body["by_release"] = json!(view.by_release);
    body["by_hardware"] = json!(view.by_hardware);
    body["daily"] = view
        .daily
        .iter()
        .map(|(day, count)| json!({ "day": day_name(*day), "count": count }))
        .collect();
    Ok(Json(body))
}

/// A day number since the epoch as YYYY-MM-DD.
pub fn day_name(day: i64) -> String {
    rfc3339(day * 86_400).get(..10).unwrap_or("?").to_owned()
}

pub async fn report(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.require_read(&headers)?;
    let row = state
        .db
        .report(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no report {id:?}")))?;
    Ok(Json(json!({
        "id": row.id,
        "signature": row.signature,
        "client_signature": row.client_signature,
        "class": row.class,
        "kernel_release": row.kernel_release,
        "hardware": row.hardware,
        "crash_time": row.crash_time.map(rfc3339),
        "received": rfc3339(row.received),
        "archive_sha256": row.archive_sha256,
        "sender": row.token_name,
        "url": format!("/signatures/{}", url_escape(&row.signature)),
    })))
}

pub async fn health(State(state): State<Shared>) -> Result<Json<Value>, ApiError> {
    state.db.totals().await?;
    Ok(Json(json!({ "status": "ok" })))
}

pub async fn metrics(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.require_read(&headers)?;
    let (reports, signatures) = state.db.totals().await?;
    let text = state.metrics.render(reports, signatures);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// The OpenAPI description, kept by hand next to the code; `tests/openapi.rs` checks that it
/// and the route table name the same routes.
pub const OPENAPI: &str = include_str!("../openapi.json");

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
