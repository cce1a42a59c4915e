//! `cargo xtask load` (issue 10, item 12): lastgasp-server under a bounded upload load on
//! loopback, with SQLite and with PostgreSQL (a throwaway cluster of Debian's postgresql):
//! rate and latency against the goals (1000 uploads/s, p99 under 50 ms on 2 cores), then a
//! server SIGKILLed mid-load and restarted must still hold every upload it acknowledged, and the
//! totals must count every report once.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use server::load::{self, Summary};

use crate::bench::workspace_root;
use crate::server_process::ServerProcess;
use crate::shell;

const TOKEN: &str = "load-test-token-0123456789";
const GOAL_PER_SECOND: f64 = 1000.0;
const GOAL_P99_MS: f64 = 50.0;

#[derive(clap::Args)]
pub struct LoadArgs {
    /// Uploads in the measured run (each a distinct report made from the real corpus logs).
    #[arg(long, default_value_t = 5000)]
    reports: usize,
    /// Connections uploading at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Which database(s): sqlite, postgres or both.
    #[arg(long, default_value = "both", value_parser = ["sqlite", "postgres", "both"])]
    database: String,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
    /// Load the debug build (what `cargo test` built) instead of building the release one: for
    /// CI, which checks that nothing is lost or counted twice; its rates are not the server's.
    #[arg(long, conflicts_with = "server")]
    debug: bool,
    /// Load this lastgasp-server binary instead of building one (to compare two builds in the
    /// same conditions, e.g. one saved before a change).
    #[arg(long, value_name = "FILE")]
    server: Option<std::path::PathBuf>,
}

#[derive(Debug, serde::Serialize)]
struct Outcome {
    database: String,
    run: Summary,
    /// Reports the server counts after the run; must equal the uploads.
    counted: u64,
    /// Uploads of the kill phase acknowledged before the SIGKILL.
    acknowledged_before_kill: usize,
    /// Of those, missing after the restart; must be 0.
    lost_after_kill: usize,
    /// Reports counted once every kill-phase upload was sent again; must be all of them.
    counted_after_resend: u64,
    meets_rate_goal: bool,
    meets_p99_goal: bool,
}

/// CI's run: the debug server `cargo test` already built (no release build of its own), at a
/// size big enough that uploads race each other and the SIGKILL lands mid-load, small enough for
/// well under a minute per database on a busy 2-core machine (a debug server does about 60/s
/// there). Fails on anything acknowledged lost or a report not counted exactly once; rates are
/// printed, never asserted.
pub fn ci() -> Result<()> {
    run(&LoadArgs {
        reports: 600,
        concurrency: 32,
        database: "both".into(),
        json: false,
        debug: true,
        server: None,
    })
}

pub fn run(args: &LoadArgs) -> Result<()> {
    let root = workspace_root()?;
    let binary = match &args.server {
        Some(binary) => binary.clone(),
        None => {
            let profile = if args.debug { "debug" } else { "release" };
            eprintln!("building lastgasp-server ({profile})");
            // `--bin`: the workspace's features, as xtask's own build and `cargo test` resolve
            // them, so a debug build only links the binary.
            let mut build = Command::new("cargo");
            build
                .current_dir(&root)
                .args(["build", "--bin", "lastgasp-server"]);
            if !args.debug {
                build.arg("--release");
            }
            shell::run(&mut build)?;
            root.join("target").join(profile).join("lastgasp-server")
        }
    };
    eprintln!("loading {}", binary.display());
    let logs = corpus_logs(&root)?;
    let kill_phase = (args.reports / 2).max(1);
    eprintln!("making {} report archives", args.reports + kill_phase);
    let main = Arc::new(load::archives(&logs, 0, args.reports));
    let killed = Arc::new(load::archives(&logs, args.reports as u64, kill_phase));
    let databases = match args.database.as_str() {
        "both" => vec!["sqlite", "postgres"],
        one => vec![one],
    };
    let mut outcomes = Vec::new();
    for database in &databases {
        outcomes.push(one_database(
            &root, &binary, database, args, &main, &killed,
        )?);
    }
    // Removed only now: on ext4 without a journal, inodes freed moments before
    // are passed over one by one when a file is created, so deleting one run's thousands of
    // archives slowed the next run's uploads.
    for database in &databases {
        let _ = std::fs::remove_dir_all(work_dir(&root, database));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        print_table(&outcomes, args);
    }
    for o in &outcomes {
        if o.counted != args.reports as u64 || o.lost_after_kill > 0 {
            bail!(
                "{}: {} of {} reports counted, {} acknowledged uploads lost after the kill",
                o.database,
                o.counted,
                args.reports,
                o.lost_after_kill
            );
        }
        if o.acknowledged_before_kill == 0 {
            bail!(
                "{}: no upload was acknowledged before the SIGKILL, so nothing was checked",
                o.database
            );
        }
        if o.counted_after_resend != (args.reports + kill_phase) as u64 {
            bail!(
                "{}: {} reports counted after sending the kill phase again, {} expected",
                o.database,
                o.counted_after_resend,
                args.reports + kill_phase
            );
        }
    }
    Ok(())
}

fn one_database(
    root: &Path,
    binary: &Path,
    database: &str,
    args: &LoadArgs,
    main: &Arc<Vec<(String, Vec<u8>)>>,
    killed: &Arc<Vec<(String, Vec<u8>)>>,
) -> Result<Outcome> {
    let work = work_dir(root, database);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let config = work.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[[upload-tokens]]\nname = \"load\"\ntoken = \"{TOKEN}\"\nper-minute = 100000000\n"
        ),
    )?;
    let cluster = match database {
        "postgres" => Some(
            server::pgcluster::Cluster::start()
                .map_err(|why| anyhow::anyhow!("cannot start PostgreSQL: {why}"))?,
        ),
        _ => None,
    };
    let url = cluster.as_ref().map_or_else(
        || format!("sqlite:{}", work.join("lastgasp.db").display()),
        |c| c.url(),
    );
    let data = work.join("data");
    let mut server = Server::start(binary, &data, &url, &config)?;

    eprintln!(
        "{database}: {} uploads over {} connections",
        main.len(),
        args.concurrency
    );
    let started = Instant::now();
    let sent = load::run(&server.addr, TOKEN, main.clone(), args.concurrency)?;
    let summary = Summary::of(&sent, started.elapsed());
    let counted = server.reports()?;

    eprintln!("{database}: SIGKILL during {} more uploads", killed.len());
    let child_id = server.process.id();
    // The kill lands once a tenth of the phase is acknowledged, so there is always something
    // acknowledged to look for afterwards, however fast or slow the server is.
    let acked = Arc::new(AtomicUsize::new(0));
    let (watched, kill_after) = (acked.clone(), (killed.len() / 10).max(1));
    let killer = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        while watched.load(Ordering::Relaxed) < kill_after && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        // The server's own pid, which this task started.
        let _ = Command::new("kill")
            .args(["-KILL", &child_id.to_string()])
            .status();
    });
    let during = load::run_counting(
        &server.addr,
        TOKEN,
        killed.clone(),
        args.concurrency,
        &acked,
    )?;
    killer.join().ok();
    server.process.wait();
    let server = Server::start(binary, &data, &url, &config)?;
    let acknowledged: Vec<&str> = during
        .iter()
        .filter(|s| load::acknowledged(s))
        .map(|s| s.id.as_str())
        .collect();
    let mut lost = 0;
    for id in &acknowledged {
        let (status, _) = load::request(
            &server.addr,
            "GET",
            &format!("/api/v1/reports/{id}"),
            &[],
            b"",
        )?;
        if status != 200 {
            lost += 1;
        }
    }
    let again = load::run(&server.addr, TOKEN, killed.clone(), args.concurrency)?;
    if let Some(bad) = again.iter().find(|s| !load::acknowledged(s)) {
        bail!(
            "{database}: resending {} after the restart got {:?}",
            bad.id,
            bad.status
        );
    }
    let counted_after_resend = server.reports()?;
    drop(server);
    drop(cluster);
    Ok(Outcome {
        database: database.to_owned(),
        meets_rate_goal: summary.per_second >= GOAL_PER_SECOND,
        meets_p99_goal: summary.p99_ms < GOAL_P99_MS,
        run: summary,
        counted,
        acknowledged_before_kill: acknowledged.len(),
        lost_after_kill: lost,
        counted_after_resend,
    })
}

/// Where the run on `database` keeps its server's data.
fn work_dir(root: &Path, database: &str) -> PathBuf {
    root.join(format!("target/load/{database}-{}", std::process::id()))
}

/// One boot log of every kind of the real corpus (tests/fixtures/kmsg/<arch>/<kind>/boot1.log).
fn corpus_logs(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("tests/fixtures/kmsg");
    let mut logs = Vec::new();
    for arch in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let arch = arch?.path();
        if !arch.is_dir() {
            continue;
        }
        for kind in std::fs::read_dir(&arch)? {
            let log = kind?.path().join("boot1.log");
            if let Ok(bytes) = std::fs::read(&log) {
                logs.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    if logs.is_empty() {
        bail!("no boot1.log under {}", dir.display());
    }
    Ok(logs)
}

/// A lastgasp-server process this task started; killed on drop.
struct Server {
    process: ServerProcess,
    addr: String,
}

impl Server {
    fn start(binary: &Path, data: &Path, url: &str, config: &Path) -> Result<Self> {
        let args = [
            OsStr::new("--data"),
            data.as_os_str(),
            OsStr::new("--database"),
            OsStr::new(url),
            OsStr::new("--config"),
            config.as_os_str(),
        ];
        let process = ServerProcess::start(binary, &args, None)?;
        Ok(Server {
            addr: process.http.clone(),
            process,
        })
    }

    /// The reports the server holds (its /metrics gauge).
    fn reports(&self) -> Result<u64> {
        let (status, text) = load::request(&self.addr, "GET", "/metrics", &[], b"")?;
        if status != 200 {
            bail!("/metrics answered {status}");
        }
        text.lines()
            .find_map(|l| l.strip_prefix("lastgasp_reports ")?.trim().parse().ok())
            .context("no lastgasp_reports in /metrics")
    }
}

fn print_table(outcomes: &[Outcome], args: &LoadArgs) {
    println!(
        "{} uploads, {} connections, goals: >= {GOAL_PER_SECOND} uploads/s, p99 < {GOAL_P99_MS} ms",
        args.reports, args.concurrency
    );
    println!(
        "| database | uploads/s | p50 ms | p99 ms | max ms | answers | counted | acked before kill | lost | counted after resend |"
    );
    println!("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|");
    for o in outcomes {
        let answers: Vec<String> = o
            .run
            .by_status
            .iter()
            .map(|(status, n)| format!("{status}: {n}"))
            .collect();
        println!(
            "| {} | {:.0} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {} |",
            o.database,
            o.run.per_second,
            o.run.p50_ms,
            o.run.p99_ms,
            o.run.max_ms,
            answers.join(", "),
            o.counted,
            o.acknowledged_before_kill,
            o.lost_after_kill,
            o.counted_after_resend
        );
    }
}
