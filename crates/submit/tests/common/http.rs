//! A small HTTP/1.1 server on 127.0.0.1 for the upload tests, plain or over TLS: it answers like
//! a lastgasp-server (201 for a new report id, 200 with `"duplicate": true` for one it has)
//! unless the test scripted other answers for the next requests, and records every request.

use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

/// An answer the test scripts for one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status, extra headers and body; the report is not stored.
    Status(u16, Vec<(String, String)>, String),
    /// Store the report as usual, then answer this status (the answer is "lost").
    StoreThen(u16),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    requests: Vec<Request>,
    stored: BTreeSet<String>,
}

pub struct Server {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl Server {
    pub fn start(script: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        Self::serve(listener, script)
    }

    /// On a port chosen before (for a server that "comes back").
    pub fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("binding 127.0.0.1:{port} again: {e}"));
        Self::serve(listener, Vec::new())
    }

    /// Over TLS with this certificate chain and key.
    pub fn start_tls(
        chain: Vec<rustls::pki_types::CertificateDer<'static>>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Self {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a valid test certificate");
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        Self::serve_with(listener, Vec::new(), Some(Arc::new(config)))
    }

    fn serve(listener: TcpListener, script: Vec<Reply>) -> Self {
        Self::serve_with(listener, script, None)
    }

    fn serve_with(
        listener: TcpListener,
        script: Vec<Reply>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&shared);
                let tls = tls.clone();
                thread::spawn(move || match tls {
                    None => {
                        let _ = handle(stream, &shared);
                    }
                    Some(config) => {
                        let Ok(connection) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        let mut tls = rustls::StreamOwned::new(connection, stream);
                        if handle(&mut tls, &shared).is_ok() {
                            tls.conn.send_close_notify();
                            let _ = tls.flush();
                        }
                    }
                });
            }
        });
        Self { port, state }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Report ids stored, each once.
    pub fn stored(&self) -> Vec<String> {
        self.state.lock().unwrap().stored.iter().cloned().collect()
    }
}

fn handle<S: Read + Write>(mut stream: S, state: &Mutex<State>) -> std::io::Result<()> {
    let request = read_request(&mut stream)?;
    answer(stream, state, request)
}

fn read_request<S: Read>(stream: S) -> std::io::Result<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Request {
        method,
        path,
        headers,
        body,
    })
}

fn answer<S: Write>(mut out: S, state: &Mutex<State>, request: Request) -> std::io::Result<()> {
    let id = request
        .header("x-lastgasp-report-id")
        .unwrap_or("")
        .to_string();
    let (status, extra, answer) = {
        let mut state = state.lock().unwrap();
        state.requests.push(request);
        let reply = state.script.pop_front();
        let fresh = |state: &mut State| state.stored.insert(id.clone());
        match reply {
            Some(Reply::Status(status, extra, body)) => (status, extra, body),
            Some(Reply::StoreThen(status)) => {
                fresh(&mut state);
                (status, Vec::new(), r#"{"error":"lost answer"}"#.to_string())
            }
            None => {
                let new = fresh(&mut state);
                let body = format!(
                    r#"{{"id":"{id}","signature":"s","duplicate":{},"url":"/signatures/s"}}"#,
                    !new
                );
                (if new { 201 } else { 200 }, Vec::new(), body)
            }
        }
    };
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.len()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(answer.as_bytes())?;
    out.flush()
}
