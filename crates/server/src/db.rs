//! The database: SQLite (one file, the default) or PostgreSQL, through sqlx's `Any` driver so
//! one set of statements and one migration serve both. Every value is bound as a parameter
//! (`$n`, which both backends read); the only SQL put together at run time is the list of
//! filter conditions, from fixed strings.

use serde::Serialize;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

mod batch;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database {url}: {error}")]
    Connect { url: String, error: sqlx::Error },
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
    #[error("database URL {0:?} is neither sqlite:PATH nor postgres://...")]
    Url(String),
}

#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    sqlite: bool,
    /// The group-commit task's queue (see `batch`).
    writer: tokio::sync::mpsc::Sender<batch::Job>,
}

/// One report as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    pub id: String,
    pub archive_sha256: String,
    pub archive_bytes: i64,
    pub signature: String,
    pub client_signature: Option<String>,
    pub class: String,
    pub kernel_release: String,
    pub hardware: String,
    pub crash_time: Option<i64>,
    pub received: i64,
    pub seen: i64,
    pub token_name: String,
}

/// What a signature row holds besides its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureFacts {
    pub class: String,
    pub title: String,
    pub function: Option<String>,
    pub frames: Vec<String>,
}

/// The outcome of `insert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// A report with this id was there already (maybe from another server): its row.
    Existing(Box<ReportRow>),
}

/// Filters of the ranked list; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub release: Option<String>,
    pub hardware: Option<String>,
    pub class: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    pub signature: Option<String>,
}

/// One line of the ranked list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureSummary {
    pub signature: String,
    pub class: String,
    pub title: String,
    pub function: Option<String>,
    pub count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub releases: i64,
    pub hardware: i64,
}

/// A value and how many reports have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub value: String,
    pub count: i64,
}

/// Columns reports can be counted by; the names are fixed strings, never input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Release,
    Hardware,
    /// Day number since the epoch (seen / 86400).
    Day,
}

impl By {
    fn expr(self) -> &'static str {
        match self {
            Self::Release => "r.kernel_release",
            Self::Hardware => "r.hardware",
            Self::Day => "CAST(r.seen / 86400 AS TEXT)",
        }
    }
}

enum Arg {
    Text(String),
    Int(i64),
}

const REPORT_COLUMNS: &str = "id, archive_sha256, archive_bytes, signature, client_signature, \
    class, kernel_release, hardware, crash_time, received, seen, token_name";

impl Db {
    /// Opens `url` (`sqlite:PATH`, created when missing, or `postgres://...`) and brings its
    /// schema up to date. Several servers may do this at once on one PostgreSQL: sqlx takes an
    /// advisory lock around migrations.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        if !sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return Err(DbError::Url(url.to_owned()));
        }
        let full = if sqlite && !url.contains('?') {
            format!("{url}?mode=rwc")
        } else {
            url.to_owned()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 8 })
            .connect(&full)
            .await
            .map_err(|error| DbError::Connect {
                url: redact(url),
                error,
            })?;
        if sqlite {
            // Readers do not wait for the writer; the setting stays with the file.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        MIGRATOR.run(&pool).await?;
        let writer = batch::spawn(pool.clone());
        Ok(Self {
            pool,
            sqlite,
            writer,
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Adds a report (and its signature, the first time one is seen). An id already there is
    /// left alone and its row returned. Returns once the row is committed: concurrent calls
    /// share one transaction (see `batch`).
    pub async fn insert(
        &self,
        row: &ReportRow,
        facts: &SignatureFacts,
    ) -> Result<Inserted, DbError> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        let job = batch::Job {
            row: row.clone(),
            facts: facts.clone(),
            done,
        };
        if self.writer.send(job).await.is_err() {
            return Err(sqlx::Error::PoolClosed.into());
        }
        outcome.await.map_err(|_| sqlx::Error::PoolClosed)?
    }

    pub async fn report(&self, id: &str) -> Result<Option<ReportRow>, DbError> {
        report_in(&self.pool, id).await
    }

    /// Whether any report's archive is `sha256` (before an archive file is removed).
    pub async fn archive_used(&self, sha256: &str) -> Result<bool, DbError> {
        let row = sqlx::query("SELECT COUNT(*) FROM reports WHERE archive_sha256 = $1")
            .bind(sha256)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    pub async fn totals(&self) -> Result<(i64, i64), DbError> {
        let row =
            sqlx::query("SELECT (SELECT COUNT(*) FROM reports), (SELECT COUNT(*) FROM signatures)")
                .fetch_one(&self.pool)
                .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Signatures ranked by how many reports match `filter`, most first.
    pub async fn ranked(
        &self,
        filter: &Filter,
        limit: i64,
    ) -> Result<Vec<SignatureSummary>, DbError> {
        let (conditions, mut args) = conditions(filter);
        args.push(Arg::Int(limit));
        let sql = format!(
            "SELECT r.signature, s.class, s.title, s.function, COUNT(*) AS n, \
             MIN(r.seen) AS first_seen, MAX(r.seen) AS last_seen, \
             COUNT(DISTINCT r.kernel_release) AS releases, COUNT(DISTINCT r.hardware) AS machines \
             FROM reports r JOIN signatures s ON s.signature = r.signature \
             WHERE {conditions} \
             GROUP BY r.signature, s.class, s.title, s.function \
             ORDER BY n DESC, last_seen DESC, r.signature LIMIT ${}",
            args.len()
        );
        let rows = bind_all(sqlx::query(&sql), args)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SignatureSummary {
                    signature: r.try_get(0)?,
                    class: r.try_get(1)?,
                    title: r.try_get(2)?,
                    function: r.try_get(3)?,
                    count: r.try_get(4)?,
                    first_seen: r.try_get(5)?,
                    last_seen: r.try_get(6)?,
                    releases: r.try_get(7)?,
                    hardware: r.try_get(8)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// How many reports matching `filter` have each value of `by`, most first (by day: oldest first).
    pub async fn counts(&self, by: By, filter: &Filter) -> Result<Vec<Count>, DbError> {
        let (conditions, args) = conditions(filter);
        let order = if by == By::Day {
            "MIN(r.seen)"
        } else {
            "COUNT(*) DESC, 1"
        };
        let sql = format!(
            "SELECT {expr}, COUNT(*) FROM reports r WHERE {conditions} GROUP BY {expr} \
             ORDER BY {order}",
            expr = by.expr()
        );
        let rows = bind_all(sqlx::query(&sql), args)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(count_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// The signature's stored facts and the id of its first report.
    pub async fn signature(
        &self,
        signature: &str,
    ) -> Result<Option<(SignatureFacts, String)>, DbError> {
        let row = sqlx::query(
            "SELECT class, title, function, frames, representative FROM signatures \
             WHERE signature = $1",
        )
        .bind(signature)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let frames: String = row.try_get(3)?;
        Ok(Some((
            SignatureFacts {
                class: row.try_get(0)?,
                title: row.try_get(1)?,
                function: row.try_get(2)?,
                frames: serde_json::from_str(&frames).unwrap_or_default(),
            },
            row.try_get(4)?,
        )))
    }

    /// The kernel release whose first report came last: "this release" of the dashboard.
    pub async fn newest_release(&self) -> Result<Option<String>, DbError> {
        let row = sqlx::query(
            "SELECT kernel_release FROM reports WHERE kernel_release <> '' \
             GROUP BY kernel_release ORDER BY MIN(received) DESC, kernel_release DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Signatures seen on `release` and on no other release, most reports first.
    pub async fn new_in_release(&self, release: &str) -> Result<Vec<Count>, DbError> {
        let rows = sqlx::query(
            "SELECT r.signature, COUNT(*) FROM reports r WHERE r.kernel_release = $1 \
             AND NOT EXISTS (SELECT 1 FROM reports o WHERE o.signature = r.signature \
             AND o.kernel_release <> $1) \
             GROUP BY r.signature ORDER BY COUNT(*) DESC, r.signature",
        )
        .bind(release)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(count_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}

async fn report_in(pool: &AnyPool, id: &str) -> Result<Option<ReportRow>, DbError> {
    let sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.map(|r| report_row(&r)).transpose().map_err(Into::into)
}

/// The row already stored under `id`, after an insert of it conflicted.
async fn existing(pool: &AnyPool, id: &str) -> Result<Inserted, DbError> {
    let row = report_in(pool, id)
        .await?
        .ok_or_else(|| sqlx::Error::Protocol(format!("report {id} conflicted but is not there")))?;
    Ok(Inserted::Existing(Box::new(row)))
}

/// A `(value, count)` row of a breakdown query.
fn count_row(r: &AnyRow) -> Result<Count, sqlx::Error> {
    Ok(Count {
        value: r.try_get(0)?,
        count: r.try_get(1)?,
    })
}

fn report_row(r: &AnyRow) -> Result<ReportRow, sqlx::Error> {
    Ok(ReportRow {
        id: r.try_get(0)?,
        archive_sha256: r.try_get(1)?,
        archive_bytes: r.try_get(2)?,
        signature: r.try_get(3)?,
        client_signature: r.try_get(4)?,
        class: r.try_get(5)?,
        kernel_release: r.try_get(6)?,
        hardware: r.try_get(7)?,
        crash_time: r.try_get(8)?,
        received: r.try_get(9)?,
        seen: r.try_get(10)?,
        token_name: r.try_get(11)?,
    })
}

/// `filter` as a WHERE clause with numbered parameters, and the values to bind in order.
fn conditions(filter: &Filter) -> (String, Vec<Arg>) {
    let mut parts: Vec<String> = vec!["1 = 1".into()];
    let mut args = Vec::new();
    let mut add = |prefix: &str, arg: Arg| {
        args.push(arg);
        parts.push(format!("{prefix}${}", args.len()));
    };
    let text = |v: &Option<String>| v.clone().map(Arg::Text);
    for (prefix, value) in [
        ("r.kernel_release = ", text(&filter.release)),
        ("r.hardware = ", text(&filter.hardware)),
        ("r.class = ", text(&filter.class)),
        ("r.seen >= ", filter.since.map(Arg::Int)),
        ("r.seen < ", filter.until.map(Arg::Int)),
        ("r.signature = ", text(&filter.signature)),
    ] {
        if let Some(value) = value {
            add(prefix, value);
        }
    }
    (parts.join(" AND "), args)
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for arg in args {
        query = match arg {
            Arg::Text(s) => query.bind(s),
            Arg::Int(i) => query.bind(i),
        };
    }
    query
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite:/x/y.db"), "sqlite:/x/y.db");
    }

    #[test]
    fn filters_become_numbered_parameters() {
        let filter = Filter {
            release: Some("6.1".into()),
            until: Some(5),
            signature: Some("s".into()),
            ..Filter::default()
        };
        let (sql, args) = conditions(&filter);
        assert_eq!(
            sql,
            "1 = 1 AND r.kernel_release = $1 AND r.seen < $2 AND r.signature = $3"
        );
        assert_eq!(args.len(), 3);
    }
}
