//! HDFS through WebHDFS, the NameNode's REST API: opendal's `webhdfs` service, plus the one
//! call it does not expose, RENAME.
//!
//! HDFS shows a file under its name from the moment it is created, growing while it is
//! written, and a writer that dies leaves it there, short. A blob must never be visible before
//! it is whole, so blobs are written under `.tmp/` and renamed into place: a rename is one
//! atomic NameNode operation, and HDFS never renames over an existing file, so a blob that is
//! there is whole. Tested against `tests/support/webhdfs_standin.py` (no HDFS can run on the
//! machines this is built on): docs/artifacts.md.

use std::time::Duration;

use opendal::Operator;
use serde::Deserialize;

/// Where opendal writes the blocks of a multi-part upload before concatenating them (under
/// the store's root, beside the blobs' own staging names). opendal renames the concatenated
/// file to its target without reading RENAME's boolean; that target is a staging name in
/// `.tmp/`, which the blocks' CREATE made, and the RENAME in [`Renamer::publish`] does read it:
/// an upload that went nowhere fails there.
pub(crate) const BLOCK_DIR: &str = ".tmp/blocks/";

/// Requests a rename is retried on (a 5xx or a dropped connection), as opendal's layer does.
const RENAME_TRIES: u32 = 5;

/// Issues RENAME against one store's NameNode.
#[derive(Debug)]
pub(crate) struct Renamer {
    client: reqwest::Client,
    /// `http(s)://host:port`, no trailing slash.
    endpoint: String,
    /// The store's root, absolute, no trailing slash (`""` for `/`).
    root: String,
    user: Option<String>,
}

#[derive(Deserialize)]
struct BooleanResp {
    boolean: bool,
}

impl Renamer {
    pub(crate) fn new(
        endpoint: &str,
        root: &str,
        user: Option<&str>,
    ) -> Result<Renamer, reqwest::Error> {
        Ok(Renamer {
            client: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(60))
                .build()?,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            root: root.trim_end_matches('/').to_string(),
            user: user.map(str::to_string),
        })
    }

    /// Makes the blob written at `staged` visible under `key` (both relative to the root).
    /// A `key` already there holds the same bytes (keys are digests): `staged` is dropped.
    pub(crate) async fn publish(
        &self,
        op: &Operator,
        staged: &str,
        key: &str,
    ) -> Result<(), String> {
        if self.rename(staged, key).await? {
            return Ok(());
        }
        // HDFS answers `false`, not an error, when the target exists or its parent does not.
        if !op.exists(key).await.map_err(|e| e.to_string())? {
            if let Some((parent, _)) = key.rsplit_once('/') {
                op.create_dir(&format!("{parent}/"))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            if self.rename(staged, key).await? {
                return Ok(());
            }
            if !op.exists(key).await.map_err(|e| e.to_string())? {
                return Err(format!(
                    "the NameNode refused to rename {} to {}",
                    self.abs(staged),
                    self.abs(key)
                ));
            }
        }
        let _ = op.delete(staged).await;
        Ok(())
    }

    /// One RENAME: `Ok(false)` is HDFS's own refusal (see [`Renamer::publish`]).
    async fn rename(&self, from: &str, to: &str) -> Result<bool, String> {
        let mut url = format!(
            "{}/webhdfs/v1{}?op=RENAME&destination={}",
            self.endpoint,
            encode(&self.abs(from)),
            encode(&self.abs(to))
        );
        if let Some(user) = &self.user {
            url.push_str("&user.name=");
            url.push_str(&encode(user));
        }
        let mut wait = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            let retry = attempt < RENAME_TRIES;
            match self.client.put(&url).body("").send().await {
                Ok(resp) if resp.status().is_success() => {
                    let body = resp.bytes().await.map_err(|e| e.to_string())?;
                    return serde_json::from_slice::<BooleanResp>(&body)
                        .map(|b| b.boolean)
                        .map_err(|e| {
                            format!("RENAME answered something other than a boolean: {e}")
                        });
                }
                Ok(resp) if resp.status().is_server_error() && retry => {}
                Ok(resp) => {
                    let status = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    return Err(format!("RENAME failed: {status}: {}", body.trim()));
                }
                // A rename that went through before its answer was lost answers `false` when
                // retried, which `publish` reads as done: retrying is safe.
                Err(e) if retry && (e.is_connect() || e.is_timeout() || e.is_request()) => {}
                Err(e) => return Err(format!("RENAME failed: {e}")),
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
            attempt += 1;
        }
    }

    fn abs(&self, key: &str) -> String {
        format!("{}/{}", self.root, key.trim_start_matches('/'))
    }
}

/// A staging name under `.tmp/` for a blob on its way to `key`, unique to this write.
pub(crate) fn staging_key(key: &str) -> String {
    let name = key.rsplit('/').next().unwrap_or("blob");
    format!(
        "{}{name}.{}",
        crate::TMP_PREFIX,
        crate::files::unique_suffix()
    )
}

/// Percent-encodes a path or a query value, keeping `/` and RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_values_are_percent_encoded() {
        assert_eq!(encode("/a b/c&d=e?f"), "/a%20b/c%26d%3De%3Ff");
        assert_eq!(encode("blobs/sha256/ab/x-y_z.~"), "blobs/sha256/ab/x-y_z.~");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn staging_keys_are_unique_and_under_tmp() {
        let a = staging_key("blobs/sha256/ab/abcd");
        let b = staging_key("blobs/sha256/ab/abcd");
        assert_ne!(a, b);
        assert!(a.starts_with(".tmp/abcd."), "{a}");
    }
}
