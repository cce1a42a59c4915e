//! Group commit for report inserts: uploads arriving together share one transaction, so one
//! commit (one WAL fsync on SQLite, one WAL flush on PostgreSQL) makes a whole batch durable.
//! One task per database takes everything queued while the previous commit ran; nobody is
//! answered before the commit that holds their row, so an acknowledged report is exactly as
//! durable as with a transaction of its own.

use std::collections::HashSet;

use sqlx::{AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

use super::{DbError, Inserted, REPORT_COLUMNS, ReportRow, SignatureFacts};

/// Most reports one transaction takes: bounds how long the first of them waits for the last.
const MAX_BATCH: usize = 64;

/// One report waiting for its commit.
#[derive(Debug)]
pub(super) struct Job {
    pub row: ReportRow,
    pub facts: SignatureFacts,
    pub done: oneshot::Sender<Result<Inserted, DbError>>,
}

/// Starts the committing task on the current runtime; it ends when every sender is gone.
pub(super) fn spawn(pool: AnyPool) -> mpsc::Sender<Job> {
    let (sender, receiver) = mpsc::channel(MAX_BATCH * 4);
    tokio::spawn(run(pool, receiver));
    sender
}

async fn run(pool: AnyPool, mut receiver: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let batch = std::mem::take(&mut jobs);
        let pairs: Vec<(&ReportRow, &SignatureFacts)> =
            batch.iter().map(|job| (&job.row, &job.facts)).collect();
        match insert_together(&pool, &pairs).await {
            Ok(outcomes) => {
                for (job, outcome) in batch.into_iter().zip(outcomes) {
                    // The caller may have gone (client hung up): its row is stored all the same.
                    let _ = job.done.send(Ok(outcome));
                }
            }
            Err(error) => {
                // The whole transaction rolled back: each report alone gets its own outcome,
                // so one bad row costs the others a retry, never their data.
                tracing::warn!(
                    "batch of {} reports failed ({error}); one by one",
                    pairs.len()
                );
                for job in batch {
                    let outcome = insert_together(&pool, &[(&job.row, &job.facts)])
                        .await
                        .map(|mut one| one.remove(0));
                    let _ = job.done.send(outcome);
                }
            }
        }
    }
}

/// Inserts every pair in one transaction of two statements (the reports, then the signatures
/// first seen), so a batch costs the database four round trips whatever its size. Ids already
/// stored, or repeated in the batch, come back as `Existing` with the stored row, read after
/// the commit.
async fn insert_together(
    pool: &AnyPool,
    pairs: &[(&ReportRow, &SignatureFacts)],
) -> Result<Vec<Inserted>, DbError> {
    // The first of an id's copies is the one tried; a later copy is a duplicate whatever
    // happens to the first.
    let mut seen = HashSet::new();
    let tried: Vec<&(&ReportRow, &SignatureFacts)> = pairs
        .iter()
        .filter(|(row, _)| seen.insert(row.id.as_str()))
        .collect();
    let mut tx = pool.begin().await?;
    let sql = format!(
        "INSERT INTO reports ({REPORT_COLUMNS}) VALUES {} ON CONFLICT (id) DO NOTHING RETURNING id",
        placeholders(tried.len(), 12)
    );
    let mut query = sqlx::query(&sql);
    for (row, _) in &tried {
        query = query
            .bind(&row.id)
            .bind(&row.archive_sha256)
            .bind(row.archive_bytes)
            .bind(&row.signature)
            .bind(row.client_signature.as_deref())
            .bind(&row.class)
            .bind(&row.kernel_release)
            .bind(&row.hardware)
            .bind(row.crash_time)
            .bind(row.received)
            .bind(row.seen)
            .bind(&row.token_name);
    }
    let stored: HashSet<String> = query
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    // A signature's representative is its first new report.
    let mut signatures = HashSet::new();
    let first_of_signature: Vec<&(&ReportRow, &SignatureFacts)> = tried
        .iter()
        .copied()
        .filter(|(row, _)| stored.contains(&row.id) && signatures.insert(row.signature.as_str()))
        .collect();
    if !first_of_signature.is_empty() {
        let sql = format!(
            "INSERT INTO signatures (signature, class, title, function, frames, representative) \
             VALUES {} ON CONFLICT (signature) DO NOTHING",
            placeholders(first_of_signature.len(), 6)
        );
        let mut query = sqlx::query(&sql);
        for (row, facts) in &first_of_signature {
            let frames = serde_json::to_string(&facts.frames).unwrap_or_else(|_| "[]".into());
            query = query
                .bind(&row.signature)
                .bind(&facts.class)
                .bind(&facts.title)
                .bind(facts.function.as_deref())
                .bind(frames)
                .bind(&row.id);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    let mut outcomes = Vec::with_capacity(pairs.len());
    let mut answered = HashSet::new();
    for (row, _) in pairs {
        // Only the first copy of a stored id is the new one.
        let new = stored.contains(&row.id) && answered.insert(row.id.as_str());
        outcomes.push(if new {
            Inserted::New
        } else {
            super::existing(pool, &row.id).await?
        });
    }
    Ok(outcomes)
}

/// `($1, ..., $width), ($width+1, ...), ...` for `rows` rows.
fn placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::{Db, Inserted, ReportRow, SignatureFacts};

    fn row(i: usize) -> (ReportRow, SignatureFacts) {
        let row = ReportRow {
            id: format!("2025-12-01T00-00-00Z-{i:08x}"),
            archive_sha256: format!("{i:064x}"),
            archive_bytes: 10,
            signature: format!("panic-f{}-00000000", i % 3),
            client_signature: None,
            class: "panic".into(),
            kernel_release: "6.12".into(),
            hardware: String::new(),
            crash_time: None,
            received: 1,
            seen: 1,
            token_name: "t".into(),
        };
        let facts = SignatureFacts {
            class: "panic".into(),
            title: "Kernel panic".into(),
            function: None,
            frames: Vec::new(),
        };
        (row, facts)
    }

    #[test]
    fn placeholders_number_every_row() {
        assert_eq!(super::placeholders(2, 2), "($1, $2), ($3, $4)");
    }

    /// Many uploads at once, each id twice (the second racing the first, often in the same
    /// transaction): every id is stored once, one call says New and the other Existing with
    /// the stored row, and each committed row is there when its call returns.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_inserts_share_commits_and_count_each_report_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let db = Db::connect(&url).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let (row, facts) = row(i / 2);
                let outcome = db.insert(&row, &facts).await.unwrap();
                assert_eq!(db.report(&row.id).await.unwrap().as_ref(), Some(&row));
                (row, outcome)
            }));
        }
        let mut new = 0;
        for task in tasks {
            match task.await.unwrap() {
                (_, Inserted::New) => new += 1,
                (row, Inserted::Existing(existing)) => assert_eq!(*existing, row),
            }
        }
        assert_eq!(new, 100);
        assert_eq!(db.totals().await.unwrap(), (100, 3));
    }
}
