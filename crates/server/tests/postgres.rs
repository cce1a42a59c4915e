//! PostgreSQL: a cluster of Debian's `postgresql` started in a tempdir (unix socket only, as the
//! `postgres` user when run as root), and two server instances on it receiving the same reports
//! at the same time: every report is stored once, every upload answered, nothing counted twice.
//! Fails, saying why, when the cluster cannot be started.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::http::StatusCode;
use common::*;

/// A throwaway PostgreSQL cluster; stopped on drop.
struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    user: Option<String>,
}

impl Cluster {
    fn start() -> Result<Self, String> {
        let bin = pg_bin().ok_or(
            "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb \
             (apt-get install postgresql; .ci/run does)",
        )?;
        let dir = tempfile::Builder::new()
            .prefix("lgpg")
            .tempdir_in("/tmp")
            .map_err(|e| format!("tempdir: {e}"))?;
        // initdb refuses to run as root: the cluster belongs to the postgres user then.
        let user = if is_root() {
            let uid = id_of("-u")?;
            let gid = id_of("-g")?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", dir.path().display()))?;
            Some("postgres".to_owned())
        } else {
            None
        };
        let cluster = Self { dir, bin, user };
        let data = cluster.dir.path().join("data");
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "lastgasp".as_ref(),
                "--auth=trust".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let options = format!(
            "-k {} -c listen_addresses='' -c fsync=off",
            cluster.dir.path().display()
        );
        let log = cluster.dir.path().join("log");
        cluster.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-o".as_ref(),
                options.as_ref(),
                "start".as_ref(),
            ],
        )?;
        Ok(cluster)
    }

    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
        let program = self.bin.join(tool);
        let mut command = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        command.args(args).current_dir(self.dir.path());
        let output = command
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
            Err(format!(
                "{} failed ({}): {}{}\n{log}",
                program.display(),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    fn url(&self) -> String {
        format!(
            "postgres://lastgasp@localhost/postgres?host={}",
            self.dir.path().display()
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "stop".as_ref(),
            ],
        );
    }
}

/// The newest installed PostgreSQL's bin directory.
fn pg_bin() -> Option<PathBuf> {
    let mut bins: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let path = e.ok()?.path();
            let version = path.file_name()?.to_str()?.parse().ok()?;
            let bin = path.join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    bins.sort();
    bins.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// The postgres user's uid (`-u`) or gid (`-g`).
fn id_of(flag: &str) -> Result<u32, String> {
    let output = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .map_err(|e| format!("id: {e}"))?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|_| "no postgres user (the postgresql package creates it)".to_owned())
}

async fn instance(url: &str, data: &Path) -> server::Shared {
    server::open(url, data, config())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgres_lose_and_double_nothing() {
    let cluster = Cluster::start().unwrap_or_else(|why| panic!("cannot start PostgreSQL: {why}"));
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
