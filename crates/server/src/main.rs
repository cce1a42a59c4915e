//! `lastgasp-server`: the fleet crash report server. See the crate's docs and `--help`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;

/// Collects lastgasp crash reports from a fleet and ranks the kernel crashes by signature.
///
/// Machines upload with `lastgasp submit` (POST /api/v1/reports with an upload token); people
/// read the dashboard at / and the JSON API under /api/v1; Prometheus scrapes /metrics.
///
/// Examples:
///
///   lastgasp-server --data /var/lib/lastgasp-server --config /etc/lastgasp/server.toml
///
///   lastgasp-server --listen 0.0.0.0:8080 --data ./data \
///       --database postgres://lastgasp@db.example/lastgasp --config server.toml
///
///   # Also receive kernel logs sent with netconsole; a machine without pstore boots with
///   #   netconsole=+6665@192.0.2.7/eth0,6666@192.0.2.1/
///   # and its crashes become reports (see docs/server.md, "netconsole").
///   lastgasp-server --data ./data --config server.toml --netconsole 0.0.0.0:6666
#[derive(Debug, Parser)]
#[command(name = "lastgasp-server", version, verbatim_doc_comment)]
struct Args {
    /// Address to listen on; port 0 picks a free port (the line `listening on http://ADDR`
    /// on stdout tells which).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Directory of the report archives (and of the SQLite database by default).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// sqlite:PATH or postgres://user@host/db. Default: sqlite:DATA/lastgasp.db.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// TOML file with upload tokens, admin tokens and limits. Without it nobody can upload.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// UDP address to receive netconsole kernel logs on (plain or extended `+` format); a
    /// crash seen in a sender's log becomes a report. Off unless given here or as `listen` in
    /// the config's [netconsole] table. Port 0 picks a free port (the line
    /// `netconsole on udp://ADDR` on stdout tells which).
    #[arg(long, value_name = "ADDR")]
    netconsole: Option<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .init();
    let args = Args::parse();
    let config = match &args.config {
        Some(path) => server::config::Config::load(path)?,
        None => {
            tracing::warn!("no --config: no upload token, every upload is refused");
            server::config::Config::default()
        }
    };
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating {}", args.data.display()))?;
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", args.data.join("lastgasp.db").display()));
    let config_netconsole = config.netconsole.clone();
    let state = server::open(&database, &args.data, config).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let netconsole = match args
        .netconsole
        .as_ref()
        .or(config_netconsole.listen.as_ref())
    {
        Some(at) => Some(
            tokio::net::UdpSocket::bind(at)
                .await
                .with_context(|| format!("netconsole: listening on udp {at}"))?,
        ),
        None => None,
    };
    println!("listening on http://{addr}");
    tracing::info!("listening on http://{addr}");
    let receiver = match netconsole {
        Some(socket) => {
            let at = socket.local_addr()?;
            println!("netconsole on udp://{at}");
            tracing::info!("netconsole on udp://{at}");
            let limits = config_netconsole.limits();
            Some(tokio::spawn(server::netconsole::run(
                socket,
                state.clone(),
                limits,
                shutdown(),
            )))
        }
        None => None,
    };
    server::serve(listener, state.clone(), shutdown()).await?;
    if let Some(receiver) = receiver {
        // It stops on the same signal; a crash being stored finishes first.
        receiver.await?;
    }
    state.db.close().await;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
