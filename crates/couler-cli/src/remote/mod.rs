//! The CLI as a client of a Couler server (`couler server`, docs/server.md): `--server URL` or
//! `COULER_SERVER` turns `submit`, `runs`, `status`, `logs`, `stop` and `resume` into requests
//! to its `/api/v1`, with the bearer token in `COULER_TOKEN`. This file holds the flag, the HTTP
//! client and what its failures tell the user; the commands are in the files beside it.

mod logs;
mod runs;
mod watch;

pub use logs::logs;
pub use runs::{forget, runs, status, stop};
pub use watch::{Submission, resume, submit};

use crate::exit::{FAILED, INVALID};
use crate::say::tell;
use clap::Args;
use serde_json::Value;
use std::time::Duration;

/// `--server URL`, shared by the commands that can act on a Couler server's runs.
#[derive(Args)]
pub struct ServerArg {
    /// Act on the runs of the Couler server at this URL (`couler server`) instead of the state
    /// directory [default: $COULER_SERVER, unless --state-dir is given]; the bearer token is
    /// $COULER_TOKEN
    #[arg(long, value_name = "URL", conflicts_with = "state_dir")]
    server: Option<String>,
}

impl ServerArg {
    /// `--server`, else `$COULER_SERVER` (set and not empty) unless `--state-dir` was given.
    pub fn url(&self, state: &crate::state_dir::StateArg) -> Option<String> {
        self.server
            .clone()
            .or_else(|| if state.given() { None } else { from_env() })
    }
}

/// `$COULER_SERVER`, when set and not empty.
pub fn from_env() -> Option<String> {
    std::env::var("COULER_SERVER")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Why a request to the server did not give what was asked.
pub enum Failure {
    /// No answer at all: nothing listens, a bad host, a TLS failure.
    Unreachable(String),
    /// An answer with an error status: its `{error, detail}`.
    Status {
        code: u16,
        error: String,
        detail: String,
    },
    /// Something else: an unreadable answer, a write that failed (already worded).
    Other { message: String, code: u8 },
}

/// A client of one server: its base URL and the token from `COULER_TOKEN`.
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client of `url` (`http://` or `https://`, no path but an optional trailing `/`).
    pub fn new(url: &str) -> Result<Client, String> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!(
                "--server `{url}`: give the Couler server's URL, e.g. http://127.0.0.1:8080"
            ));
        }
        // reqwest is built with rustls and no crypto provider of its own (as couler-store).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        let token = std::env::var("COULER_TOKEN").ok().filter(|t| !t.is_empty());
        Ok(Client { base, token, http })
    }

    /// Sends a request to `path` (under the base URL); an answer of 2xx, else its failure.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<reqwest::Response, Failure> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::Unreachable(chain(&e)))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let field = |k: &str| v[k].as_str().map(str::to_string);
        Err(Failure::Status {
            code: status.as_u16(),
            error: field("error")
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string()),
            detail: field("detail").unwrap_or(text),
        })
    }

    /// A request whose answer is JSON.
    pub async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let resp = self.send(method, path, body).await?;
        let text = resp
            .text()
            .await
            .map_err(|e| Failure::Unreachable(chain(&e)))?;
        serde_json::from_str(&text).map_err(|e| Failure::Other {
            message: format!(
                "the server at {} answered {path} with no JSON: {e}",
                self.base
            ),
            code: FAILED,
        })
    }

    /// `GET path` as JSON.
    pub async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.json(reqwest::Method::GET, path, None).await
    }

    /// Says what `f` means (on stderr) and returns the exit code: the local commands' code for
    /// the same situation (exit.rs): the user's input or setup (an unreachable server as a
    /// missing state directory, a refused token, an unknown run, a request the run's state
    /// forbids) is INVALID; the server's own failure FAILED.
    pub fn report(&self, f: Failure) -> u8 {
        let base = &self.base;
        match f {
            Failure::Unreachable(cause) => {
                let help = if cause.contains("certificate") {
                    "this machine does not trust the server's certificate: if a private CA signed it, set SSL_CERT_FILE to that CA's PEM file"
                } else {
                    "start it with `couler server`, or check --server and COULER_SERVER"
                };
                tell!("error: cannot reach the Couler server at {base}: {cause}\n  = help: {help}");
                INVALID
            }
            Failure::Status {
                code: 401, detail, ..
            } => {
                let why = match self.token {
                    None => "COULER_TOKEN is not set",
                    Some(_) => "the server does not know the token in COULER_TOKEN",
                };
                tell!(
                    "error: the Couler server at {base} needs a token: {why} ({detail})\n  = help: set COULER_TOKEN to a token from `couler server token create --user NAME --role viewer|editor|admin` (run where the server's database is)"
                );
                INVALID
            }
            Failure::Status {
                code,
                error,
                detail,
            } if code >= 500 => {
                tell!("error: the Couler server at {base} failed ({code} {error}): {detail}");
                FAILED
            }
            Failure::Status { error, detail, .. } => {
                tell!("error: {error}: {detail}");
                INVALID
            }
            Failure::Other { message, code } => {
                tell!("error: {message}");
                code
            }
        }
    }
}

/// What went wrong under an error: its innermost cause ("Connection refused (os error 111)",
/// a DNS or TLS failure), which reqwest's own text ("error sending request …") hides.
fn chain(e: &dyn std::error::Error) -> String {
    let mut root = e;
    while let Some(c) = root.source() {
        root = c;
    }
    root.to_string()
}

/// Runs a server command: the client of `url`, a single-threaded async runtime, `go`, and
/// the exit code (its failure reported).
pub fn with_client<F>(url: &str, go: F) -> u8
where
    F: AsyncFnOnce(&Client) -> Result<u8, Failure>,
{
    let client = match Client::new(url) {
        Ok(c) => c,
        Err(e) => {
            tell!("error: {e}");
            return INVALID;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tell!("error: cannot start the async runtime: {e}");
            return FAILED;
        }
    };
    match rt.block_on(go(&client)) {
        Ok(code) => code,
        Err(f) => client.report(f),
    }
}

/// A path segment (a run id or step name) escaped for a URL: every byte outside the unreserved
/// set is percent-encoded, so `train[2]` and any odd name reach the server as written.
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path of run `id` under `/api/v1`.
pub fn run_path(id: &str) -> String {
    format!("/api/v1/runs/{}", segment(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_escaped_so_odd_names_stay_one_segment() {
        assert_eq!(segment("train[2]"), "train%5B2%5D");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
        assert_eq!(segment("hello-3f2a9c1e"), "hello-3f2a9c1e");
    }

    #[test]
    fn a_url_without_a_scheme_is_refused_with_an_example() {
        let Err(e) = Client::new("127.0.0.1:8080") else {
            panic!("accepted a URL without a scheme");
        };
        assert!(e.contains("http://127.0.0.1:8080"), "{e}");
    }
}
