//! PostgreSQL: a cluster of Debian's `postgresql` started in a tempdir (unix socket only, as the
//! `postgres` user when run as root), and two server instances on it receiving the same reports
//! at the same time: every report is stored once, every upload answered, nothing counted twice.
//! Fails, saying why, when the cluster cannot be started.

mod common;

use std::path::Path;

use axum::http::StatusCode;
use common::*;

async fn instance(url: &str, data: &Path) -> server::Shared {
    server::open(url, data, config())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgres_lose_and_double_nothing() {
    let cluster = server::pgcluster::Cluster::start()
        .unwrap_or_else(|why| panic!("cannot start PostgreSQL: {why}"));
    let shared = tempfile::tempdir().unwrap();
    // Both migrate at once, as two servers started together would.
    let url = cluster.url();
    let (a, b) = tokio::join!(instance(&url, shared.path()), instance(&url, shared.path()));
    assert!(!a.db.is_sqlite());

    let reports: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| {
            let log = format!(
                "<6>[    0.{i}] boot {i}\n{}",
                oops_log(&format!("fn_{}", i % 4), "6.1.0-1-amd64", "QEMU")
            );
            archive(&log, 1_764_547_200 + i * 3600)
        })
        .collect();
    // Every report goes to both instances at the same time.
    let mut tasks = Vec::new();
    for (id, body) in &reports {
        for state in [&a, &b] {
            let (state, id, body) = (state.clone(), id.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let answer = upload(&state, body).await;
                (id, answer.status, answer.text())
            }));
        }
    }
    let mut created = std::collections::BTreeMap::<String, usize>::new();
    for task in tasks {
        let (id, status, text) = task.await.unwrap();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "{id}: {status} {text}"
        );
        *created.entry(id).or_default() += usize::from(status == StatusCode::CREATED);
    }
    assert!(created.values().all(|n| *n == 1), "{created:?}");
    assert_eq!(created.len(), reports.len());
    assert_eq!(a.db.totals().await.unwrap(), (30, 4));
    let files = a.blobs.files().unwrap();
    assert_eq!(files.len(), 30, "{files:?}");

    // Both instances give the same ranking, and every query of the API runs on PostgreSQL.
    let list_a = get(&a, "/api/v1/signatures").await.json();
    let list_b = get(&b, "/api/v1/signatures").await.json();
    assert_eq!(list_a, list_b);
    let counts: Vec<i64> = list_a["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [8, 8, 7, 7]);
    let sig = list_a["signatures"][0]["signature"].as_str().unwrap();
    let one = get(&b, &format!("/api/v1/signatures/{sig}")).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text());
    assert_eq!(one.json()["daily"].as_array().unwrap().len(), 2);
    let filtered = get(
        &a,
        "/api/v1/signatures?release=6.1.0-1-amd64&since=2025-12-01",
    )
    .await;
    assert_eq!(filtered.json()["signatures"].as_array().unwrap().len(), 4);
    let index = get(&b, "/").await;
    assert_eq!(index.status, StatusCode::OK, "{}", index.text());
    assert!(index.text().contains("New in 6.1.0-1-amd64"));
    a.db.close().await;
    b.db.close().await;
}
