//! What the test services' guardian shells (support/postgres.rs, support/airflow_server.rs)
//! share: each prints `ready DIR` once its service is up, then holds it until its standard
//! input (a pipe only the test binary holds) closes.

use std::io::{BufRead, BufReader};
use std::process::ChildStdout;

/// The guardian's `ready DIR`: the directory, or everything it said instead.
pub fn ready(stdout: ChildStdout) -> Result<String, String> {
    let mut said = String::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(dir) = line.strip_prefix("ready ") {
            return Ok(dir.to_string());
        }
        said.push_str(&line);
        said.push('\n');
    }
    Err(said)
}
