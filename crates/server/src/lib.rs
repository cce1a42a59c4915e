//! lastgasp-server: receives crash reports from many machines (`lastgasp submit`), checks them,
//! stores the archives content-addressed on disk and their facts in SQLite or PostgreSQL, and
//! ranks the fleet's kernel crashes by signature in a JSON API and a server-rendered dashboard.
//!
//! Modules: `ingest` (the upload parser), `blobs` (archives on disk), `db` (the database),
//! `api` and `dashboard` (the handlers), `app` (routes, auth, headers), `config`, `metrics`,
//! `ratelimit`, `error`; `netconsole` (the UDP receiver that makes reports of crashes it sees
//! in kernel logs sent with netconsole) and `archive` (the report archives it makes).

pub mod api;
pub mod app;
pub mod archive;
pub mod blobs;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod ingest;
pub mod load;
pub mod metrics;
pub mod netconsole;
pub mod pgcluster;
pub mod ratelimit;

use std::net::SocketAddr;
use std::path::Path;

pub use app::{AppState, Shared, app, served_routes};

/// Opens the database and the archive directory under `data_dir` and returns the state to serve.
pub async fn open(
    database: &str,
    data_dir: &Path,
    config: config::Config,
) -> Result<Shared, db::DbError> {
    let db = db::Db::connect(database).await?;
    ingest::warm_up();
    Ok(AppState::new(db, blobs::Blobs::new(data_dir), config))
}

/// Serves `state` on `listener` until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
