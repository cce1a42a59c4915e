//! The load generator behind `cargo xtask load`: report archives made in memory the way
//! `lastgasp export` makes them (a distinct report per upload, from real logs), uploads over
//! loopback on keep-alive connections with their latencies, and a small blocking HTTP client
//! for the checks around a run. Only loopback addresses are ever given to it.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One upload body: the report `lastgasp export` would write for `log` with a first line that
/// carries `nonce`, so every nonce makes another report id.
pub fn archive(log: &str, crash_time: i64, nonce: u64) -> (String, Vec<u8>) {
    let log = format!("<6>[    0.000000] lastgasp load {nonce}\n{log}");
    let sha = hex::encode(Sha256::digest(log.as_bytes()));
    let id = report::report_id(Some(crash_time), &[&sha]);
    let files = [crate::archive::File {
        name: "dmesg.txt",
        data: log.as_bytes(),
    }];
    let analysis = kmsg::analyze(&log);
    let time =
        jiff::Timestamp::from_second(crash_time).map_or_else(|_| String::new(), |t| t.to_string());
    let manifest = report::Manifest {
        format_version: report::FORMAT_VERSION,
        id: id.clone(),
        created: time.clone(),
        source: "kdump".into(),
        backend: None,
        dump_reason: Some("Panic".into()),
        crash_time: Some(time),
        kernel_release: analysis.kernel_release.clone(),
        partial: false,
        dumps: Vec::new(),
        records: Vec::new(),
        gaps: Vec::new(),
        files: crate::archive::entries(&files),
        kdump: Some(report::KdumpEntry {
            vmcore_bytes: 0,
            log_complete: true,
            warnings: Vec::new(),
            dump: None,
        }),
        analysis: Some(analysis),
        context: Vec::new(),
    };
    let body = crate::archive::tar_zst(&manifest, &files).unwrap_or_default();
    (id, body)
}

/// `n` distinct archives cycling through `logs`, one hour of crash time apart, made on every
/// core. `first` offsets the nonces, so two calls with disjoint ranges never share an id.
pub fn archives(logs: &[String], first: u64, n: usize) -> Vec<(String, Vec<u8>)> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = n.div_ceil(threads.max(1)).max(1);
    let indices: Vec<usize> = (0..n).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = indices
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|&i| {
                            let nonce = first + i as u64;
                            let log = &logs[i % logs.len().max(1)];
                            archive(log, 1_764_547_200 + (nonce as i64 % 2000) * 3600, nonce)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// What became of one upload: its HTTP status, or `None` when the connection failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub id: String,
    pub status: Option<u16>,
    pub micros: u64,
}

/// Uploads every archive to `addr` over `concurrency` keep-alive connections and returns each
/// outcome, in no particular order. A connection that fails is opened again for the next
/// upload; the failed upload is reported with no status, not retried.
pub fn run(
    addr: &str,
    token: &str,
    archives: Arc<Vec<(String, Vec<u8>)>>,
    concurrency: usize,
) -> io::Result<Vec<Sent>> {
    run_counting(addr, token, archives, concurrency, &Arc::default())
}

/// `run`, adding one to `acknowledged` as each upload is acknowledged, so another thread can
/// act once the server has taken responsibility for some (a kill mid-load that surely lands
/// after acknowledgements, however slow the server is).
pub fn run_counting(
    addr: &str,
    token: &str,
    archives: Arc<Vec<(String, Vec<u8>)>>,
    concurrency: usize,
    acknowledged: &Arc<AtomicUsize>,
) -> io::Result<Vec<Sent>> {
    // One client thread: the server under test gets the other cores.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..concurrency.max(1) {
            let (next, archives, acked) = (next.clone(), archives.clone(), acknowledged.clone());
            let (addr, token) = (addr.to_owned(), token.to_owned());
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                let mut stream: Option<tokio::net::TcpStream> = None;
                while let Some((id, body)) = archives.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let started = Instant::now();
                    let status = upload(&mut stream, &addr, &token, id, body).await;
                    match status {
                        Ok(200 | 201) => {
                            acked.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(_) => stream = None,
                    }
                    out.push(Sent {
                        id: id.clone(),
                        status: status.ok(),
                        micros: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                    });
                }
                out
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.map_err(io::Error::other)?);
        }
        Ok(all)
    })
}

/// One POST on the kept-alive connection (opened first when there is none); its status.
async fn upload(
    stream: &mut Option<tokio::net::TcpStream>,
    addr: &str,
    token: &str,
    id: &str,
    body: &[u8],
) -> io::Result<u16> {
    if stream.is_none() {
        let s = tokio::net::TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        *stream = Some(s);
    }
    let s = stream
        .as_mut()
        .ok_or_else(|| io::Error::other("no connection"))?;
    let head = format!(
        "POST /api/v1/reports HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/zstd\r\nX-Lastgasp-Report-Id: {id}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let exchange = async {
        s.write_all(head.as_bytes()).await?;
        s.write_all(body).await?;
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 4096];
        loop {
            if let Some((status, length, header_end)) = parse_head(&buf)? {
                while buf.len() < header_end + length {
                    let n = s.read(&mut chunk).await?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                return Ok(status);
            }
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}

/// (status, Content-Length, where the body starts) once `buf` holds the whole head.
fn parse_head(buf: &[u8]) -> io::Result<Option<(u16, usize, usize)>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed HTTP answer");
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    Ok(Some((status, length, end + 4)))
}

/// One request on a new connection, blocking: (status, body). For the checks around a run and
/// the binary's tests.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let (status, length, start) = parse_head(&answer)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no HTTP answer"))?;
    let end = (start + length).min(answer.len());
    Ok((
        status,
        String::from_utf8_lossy(&answer[start..end]).into_owned(),
    ))
}

/// Rate and latencies of a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    pub uploads: usize,
    /// Answered 201 or 200.
    pub acknowledged: usize,
    /// Answers by status ("201", "429", ...; "transport" for failed connections).
    pub by_status: BTreeMap<String, usize>,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    pub fn of(sent: &[Sent], elapsed: Duration) -> Self {
        let mut micros: Vec<u64> = sent.iter().map(|s| s.micros).collect();
        micros.sort_unstable();
        let at = |q: f64| {
            let i = ((micros.len() as f64 * q).ceil() as usize).clamp(1, micros.len().max(1)) - 1;
            micros.get(i).map_or(0.0, |m| *m as f64 / 1000.0)
        };
        let mut by_status = BTreeMap::new();
        for s in sent {
            let key = s
                .status
                .map_or_else(|| "transport".to_owned(), |c| c.to_string());
            *by_status.entry(key).or_insert(0) += 1;
        }
        let seconds = elapsed.as_secs_f64();
        Self {
            uploads: sent.len(),
            acknowledged: sent.iter().filter(|s| acknowledged(s)).count(),
            by_status,
            seconds,
            per_second: if seconds > 0.0 {
                sent.len() as f64 / seconds
            } else {
                0.0
            },
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: micros.last().map_or(0.0, |m| *m as f64 / 1000.0),
        }
    }
}

/// The server took responsibility for this upload.
pub fn acknowledged(sent: &Sent) -> bool {
    matches!(sent.status, Some(200 | 201))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_distinct_and_accepted_by_the_parser() {
        let log = "<1>[ 1.0] BUG: kernel NULL pointer dereference, address: 0000000000000010\n\
                   <4>[ 1.0] RIP: 0010:f+0x5/0x10\n"
            .to_owned();
        let made = archives(&[log], 7, 5);
        assert_eq!(made.len(), 5);
        let ids: std::collections::BTreeSet<_> = made.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(ids.len(), 5);
        for (id, body) in &made {
            let upload = crate::ingest::parse(body, &crate::ingest::Limits::default()).unwrap();
            assert_eq!(upload.id(), id);
        }
    }

    #[test]
    fn heads_are_parsed_once_complete() {
        assert_eq!(parse_head(b"HTTP/1.1 201 Created\r\nconte").unwrap(), None);
        let head = b"HTTP/1.1 201 Created\r\ncontent-length: 7\r\n\r\n{\"a\":1}";
        assert_eq!(parse_head(head).unwrap(), Some((201, 7, head.len() - 7)));
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }

    #[test]
    fn summary_percentiles() {
        let sent: Vec<Sent> = (1..=100)
            .map(|i| Sent {
                id: i.to_string(),
                status: Some(if i == 100 { 500 } else { 201 }),
                micros: i * 1000,
            })
            .collect();
        let s = Summary::of(&sent, Duration::from_secs(2));
        assert_eq!((s.p50_ms, s.p99_ms, s.max_ms), (50.0, 99.0, 100.0));
        assert_eq!(s.acknowledged, 99);
        assert_eq!(s.per_second, 50.0);
        assert_eq!(s.by_status["500"], 1);
    }
}
