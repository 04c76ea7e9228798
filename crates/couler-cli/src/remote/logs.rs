//! `couler logs RUN STEP --server URL [--follow]`: `GET …/steps/{node}/logs`, the bytes the
//! local `couler logs` prints, copied to standard output as they arrive (with `--follow` the
//! server keeps the answer open until the step has ended).

use super::{Client, Failure, run_path, segment, with_client};
use crate::exit::{FAILED, INVALID, OK};
use crate::say::tell;
use crate::state_dir::Output;
use reqwest::Method;
use std::io::Write;

/// `couler logs RUN STEP --server URL`
pub fn logs(url: &str, id: &str, step: &str, follow: bool, output: Output) -> u8 {
    if output == Output::Json {
        tell!(
            "error: --output json with --server: a server sends a step's log as text; drop --output json"
        );
        return INVALID;
    }
    let mut path = format!("{}/steps/{}/logs", run_path(id), segment(step));
    if follow {
        path.push_str("?follow=true");
    }
    with_client(url, async |c: &Client| {
        let mut resp = c.send(Method::GET, &path, None).await?;
        let mut out = std::io::stdout().lock();
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(bytes)) => bytes,
                Ok(None) => return Ok(OK),
                Err(e) => {
                    return Err(Failure::Other {
                        message: format!("the log {url}{path} was cut short: {}", super::chain(&e)),
                        code: FAILED,
                    });
                }
            };
            if let Err(e) = out.write_all(&chunk).and_then(|()| out.flush()) {
                // The reader went away (`| head`): the end, quietly, as the local command.
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(OK);
                }
                return Err(Failure::Other {
                    message: format!("cannot print the log {url}{path}: {e}"),
                    code: FAILED,
                });
            }
        }
    })
}
