//! A loopback **stand-in for the Kubernetes API server** (no real one can run on this machine):
//! a small HTTP/1.1 server, keep-alive included, that hands each request (method, path without
//! the query, JSON body) to the test's handler and writes back its status code and JSON reply.
//! The handler decides what the "cluster" does; every request is logged for the assertions.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Value,
}

pub type Log = Arc<Mutex<Vec<Request>>>;

pub type Handler = Arc<dyn Fn(&Request) -> (u16, Value) + Send + Sync>;

/// Starts the server on 127.0.0.1; returns its URL and the request log.
pub fn serve(handler: Handler) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let url = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let log: Log = Arc::default();
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (seen, handler) = (seen.clone(), handler.clone());
            std::thread::spawn(move || connection(stream, &seen, &handler));
        }
    });
    (url, log)
}

/// A Kubernetes `Status` reply (`NotFound`, `AlreadyExists`, …).
pub fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
               "status": if code < 300 { "Success" } else { "Failure" },
               "message": message, "reason": reason, "code": code}),
    )
}

/// A kubeconfig file naming the server (no credentials: the stand-in checks none).
pub fn kubeconfig(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: standin\n  cluster:\n    server: {url}\nusers:\n- name: standin\n  user: {{}}\ncontexts:\n- name: standin\n  context:\n    cluster: standin\n    user: standin\n    namespace: default\ncurrent-context: standin\n"
    );
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn connection(stream: TcpStream, log: &Log, handler: &Handler) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default();
        let path = target.split('?').next().unwrap_or_default().to_string();
        let request = Request {
            method,
            path,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        };
        if let Ok(mut l) = log.lock() {
            l.push(request.clone());
        }
        let (code, reply) = handler(&request);
        let text = reply.to_string();
        let written = write!(
            out,
            "HTTP/1.1 {code} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            if code < 300 { "OK" } else { "Error" },
            text.len()
        );
        if written.is_err() {
            return;
        }
    }
}
