//! The netconsole receiver: the lab's real serial log of a NULL dereference panic, sent as
//! plain and as extended (fragmented, out of order) datagrams, gives the signature the
//! analysis corpus expects; the binary turns the same datagrams over real UDP into a stored
//! report the API shows; and the parser never panics and reassembles fragments in any order.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use server::netconsole::datagram::{self, Datagram, Fragment, Header, Reassembly};
use server::netconsole::{Captured, Limits, Receiver};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/kmsg/x86_64/null"
);

fn serial_log() -> String {
    let path = format!("{FIXTURE}/serial1.log");
    let log = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // The first boot only: the fixture goes on into the reboot that collected the report.
    let text = String::from_utf8_lossy(&log).into_owned();
    let end = text.find("Rebooting in").expect("the panic reboots");
    let end = end + text[end..].find('\n').expect("a whole line");
    text[..=end].to_owned()
}

fn expected_signature() -> String {
    let path = format!("{FIXTURE}/expected.json");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
            .unwrap();
    json["signature"].as_str().unwrap().to_owned()
}

/// The log as plain netconsole sends it: at most 1000 bytes a datagram, lines cut anywhere.
fn plain_datagrams(log: &str) -> Vec<Vec<u8>> {
    log.as_bytes().chunks(1000).map(<[u8]>::to_vec).collect()
}

/// The log as extended netconsole sends it: one record per line, lines over 80 bytes in
/// 50-byte fragments sent last first. Lines without a timestamp (the lab's own) are left out.
fn extended_datagrams(log: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut seq = 0;
    for line in log.lines() {
        let Some((stamp, text)) = line.strip_prefix('[').and_then(|l| l.split_once("] ")) else {
            continue;
        };
        let Some((secs, usecs)) = stamp.trim().split_once('.') else {
            continue;
        };
        let ts: u64 = secs.parse::<u64>().unwrap() * 1_000_000 + usecs.parse::<u64>().unwrap();
        let head = format!("4,{seq},{ts},-");
        seq += 1;
        let body = format!("{}\n", text.replace('\\', "\\x5c"));
        if body.len() <= 80 {
            out.push(format!("{head};{body}").into_bytes());
            continue;
        }
        let pieces: Vec<Vec<u8>> = (0..body.len())
            .step_by(50)
            .map(|at| {
                let end = (at + 50).min(body.len());
                let mut d = format!("{head},ncfrag={at}/{};", body.len()).into_bytes();
                d.extend_from_slice(&body.as_bytes()[at..end]);
                d
            })
            .collect();
        out.extend(pieces.into_iter().rev());
    }
    out
}

fn receive_all(datagrams: &[Vec<u8>]) -> Vec<Captured> {
    let mut receiver = Receiver::new(Limits::default());
    let from = SocketAddr::from(([10, 0, 2, 15], 6665));
    let t0 = Instant::now();
    let mut captured: Vec<Captured> = datagrams
        .iter()
        .filter_map(|d| receiver.receive(from, d, t0))
        .collect();
    captured.extend(
        receiver
            .tick(t0 + Duration::from_secs(60))
            .into_iter()
            .map(|(_, c)| c),
    );
    captured
}

#[test]
fn plain_and_extended_give_the_corpus_signature_once() {
    let log = serial_log();
    let expected = expected_signature();
    for (form, datagrams) in [
        ("plain", plain_datagrams(&log)),
        ("extended", extended_datagrams(&log)),
    ] {
        let captured = receive_all(&datagrams);
        assert_eq!(captured.len(), 1, "{form}: {} reports", captured.len());
        assert_eq!(captured[0].analysis.signature, expected, "{form}");
        assert!(
            captured[0].gaps.is_empty(),
            "{form}: {:?}",
            captured[0].gaps
        );
        assert!(
            captured[0]
                .log
                .contains("Kernel panic - not syncing: Fatal exception")
        );
    }
}

/// The server binary, started with the netconsole receiver on a free UDP port.
struct Server {
    child: Child,
    http: String,
    udp: SocketAddr,
}

impl Server {
    fn start(data: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lastgasp-server"))
            .args(["--listen", "127.0.0.1:0", "--netconsole", "127.0.0.1:0"])
            .arg("--data")
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut http, mut udp) = (None, None);
        while http.is_none() || udp.is_none() {
            let mut line = String::new();
            assert!(out.read_line(&mut line).unwrap() > 0, "the server stopped");
            if let Some(at) = line.trim().strip_prefix("listening on http://") {
                http = Some(at.to_owned());
            } else if let Some(at) = line.trim().strip_prefix("netconsole on udp://") {
                udp = Some(at.parse().unwrap());
            }
        }
        Self {
            child,
            http: http.unwrap(),
            udp: udp.unwrap(),
        }
    }

    fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, body) = server::load::request(&self.http, "GET", path, &[], b"").unwrap();
        (status, serde_json::from_str(&body).unwrap_or_default())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_binary_stores_a_crash_sent_over_udp_as_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let log = serial_log();
    for datagram in extended_datagrams(&log) {
        socket.send_to(&datagram, server.udp).unwrap();
        // Loopback drops nothing at this pace, but a full receive buffer would.
        std::thread::sleep(Duration::from_micros(200));
    }
    let expected = expected_signature();
    let path = format!("/api/v1/signatures/{}", server::app::url_escape(&expected));
    let deadline = Instant::now() + Duration::from_secs(60);
    let view = loop {
        let (status, body) = server.get(&path);
        if status == 200 {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "no report of {expected} after 60 s (last answer {status})"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let id = view["representative"]["id"].as_str().unwrap().to_owned();
    let (status, report) = server.get(&format!("/api/v1/reports/{id}"));
    assert_eq!(status, 200, "{report}");
    let from = socket.local_addr().unwrap();
    assert_eq!(report["sender"], format!("netconsole {from}"));
    assert_eq!(report["class"], "null-pointer-dereference");
    assert_eq!(report["kernel_release"], "6.1.0-56-amd64");
    // The same boot's oops and panic again (as plain text, same sender): it already panicked,
    // so nothing new is reported.
    let crash = &log[log.find("BUG: kernel NULL").expect("the oops")..];
    for datagram in plain_datagrams(crash) {
        socket.send_to(&datagram, server.udp).unwrap();
    }
    std::thread::sleep(Duration::from_secs(5));
    let (_, list) = server.get("/api/v1/signatures");
    let total: u64 = list["signatures"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .map(|s| s["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 1, "{list}");
    let (status, metrics) =
        server::load::request(&server.http, "GET", "/metrics", &[], b"").unwrap();
    assert_eq!(status, 200);
    assert!(
        metrics.contains("lastgasp_netconsole_reports_total 1\n"),
        "{metrics}"
    );
    let taken = metrics
        .lines()
        .find_map(|l| l.strip_prefix("lastgasp_netconsole_datagrams_total{outcome=\"taken\"} "))
        .and_then(|n| n.parse::<usize>().ok());
    let sent = extended_datagrams(&log).len() + plain_datagrams(crash).len();
    assert_eq!(taken, Some(sent), "{metrics}");
}

fn header(seq: u64) -> Header {
    Header {
        priority: 4,
        seq,
        ts_usec: 1,
        flags: '-',
        release: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_datagrams_are_taken_without_a_panic(
        datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..40)
    ) {
        server::fuzzing::check_netconsole(&datagrams.join(&0xff_u8));
    }

    #[test]
    fn extended_headers_round_trip(
        priority in 0u32..200, seq in any::<u32>(), ts in any::<u32>(), cont in any::<bool>(),
        text in "[ -~]{0,200}",
    ) {
        let flags = if cont { 'c' } else { '-' };
        let data = format!("{priority},{seq},{ts},{flags};{}\n", text.replace('\\', "\\x5c"));
        let Ok(Datagram::Record { header, body }) = datagram::parse(data.as_bytes()) else {
            panic!("{data:?} is not a record");
        };
        prop_assert_eq!((header.priority, header.seq, header.ts_usec), (priority, seq.into(), ts.into()));
        prop_assert_eq!(datagram::record_text(body), vec![text.trim_end_matches('\r').to_owned()]);
    }

    #[test]
    fn fragments_in_any_order_reassemble(
        body in proptest::collection::vec(any::<u8>(), 1..2000),
        size in 1usize..300,
        order in any::<proptest::sample::Index>(),
        keys in proptest::collection::vec(any::<u64>(), 0..64),
    ) {
        let total = body.len();
        let mut pieces: Vec<usize> = (0..total).step_by(size).collect();
        // A permutation of the pieces picked by the keys.
        let mut keyed: Vec<(u64, usize)> = pieces
            .iter()
            .enumerate()
            .map(|(i, &at)| (keys.get(i).copied().unwrap_or(i as u64), at))
            .collect();
        keyed.sort_unstable();
        pieces = keyed.into_iter().map(|(_, at)| at).collect();
        let mut r = Reassembly::default();
        let mut done = None;
        for (i, &at) in pieces.iter().enumerate() {
            let end = (at + size).min(total);
            let got = r.add(&header(7), Fragment { offset: at, total }, &body[at..end]);
            if i + 1 < pieces.len() {
                prop_assert!(got.is_none());
            } else {
                done = got;
            }
        }
        let (h, whole) = done.expect("the last fragment completes the record");
        prop_assert_eq!(h.seq, 7);
        prop_assert_eq!(whole, body.clone());
        prop_assert_eq!(r.waiting(), 0);

        // One fragment missing: nothing comes out, and it waits (bounded) without a panic.
        let skip = order.index(pieces.len());
        let mut r = Reassembly::default();
        for (i, &at) in pieces.iter().enumerate() {
            if i == skip { continue; }
            let end = (at + size).min(total);
            let got = r.add(&header(8), Fragment { offset: at, total }, &body[at..end]);
            prop_assert!(got.is_none());
        }
        prop_assert!(r.waiting() <= 1);
    }
}
