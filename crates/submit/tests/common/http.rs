//! A small HTTP/1.1 server on 127.0.0.1 for the upload tests: it answers like a
//! lastgasp-server (201 for a new report id, 200 with `"duplicate": true` for one it has) unless
//! the test scripted other answers for the next requests, and records every request.

use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
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

    fn serve(listener: TcpListener, script: Vec<Reply>) -> Self {
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
                thread::spawn(move || {
                    let _ = handle(stream, &shared);
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

fn handle(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
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
    let request = Request {
        method,
        path,
        headers,
        body,
    };
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
    let mut out = stream;
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
