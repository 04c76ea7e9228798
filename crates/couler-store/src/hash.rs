//! Digests: `sha256:<hex>` names, blob keys, and hashing a file as it streams.

use crate::{BLOB_PREFIX, READ_CHUNK, StoreError, StoreErrorKind};
use sha2::{Digest, Sha256};
use std::path::Path;
use tokio::io::AsyncReadExt;

/// The hex part of a `sha256:<64 lowercase hex>` digest.
pub(crate) fn digest_hex(digest: &str) -> Result<&str, StoreError> {
    match digest.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(hex)
        }
        _ => Err(StoreError::new(
            StoreErrorKind::InvalidDigest,
            format!(
                "`{digest}` is not an artifact digest; expected `sha256:` followed by 64 lowercase hex digits"
            ),
        )),
    }
}

pub(crate) fn blob_key(hex: &str) -> String {
    format!("{BLOB_PREFIX}{}/{hex}", &hex[..2])
}

/// The hex of a listed key when it is exactly a blob's key.
pub(crate) fn blob_hex_of_key(key: &str) -> Option<&str> {
    let rest = key.trim_start_matches('/').strip_prefix(BLOB_PREFIX)?;
    let (shard, hex) = rest.split_once('/')?;
    let valid = hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && shard == &hex[..2];
    valid.then_some(hex)
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Streams a file through SHA-256; returns the hex digest and the byte count.
pub(crate) async fn hash_file(path: &Path) -> Result<(String, u64), StoreError> {
    let mut reader = HashingReader::open(path).await?;
    while reader.next_chunk().await?.is_some() {}
    Ok(reader.finish())
}

/// Reads a file chunk by chunk, hashing what it hands out.
pub(crate) struct HashingReader<'p> {
    path: &'p Path,
    file: tokio::fs::File,
    hasher: Sha256,
    buf: Vec<u8>,
    size: u64,
}

impl<'p> HashingReader<'p> {
    pub(crate) async fn open(path: &'p Path) -> Result<Self, StoreError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| StoreError::io("reading", path, e))?;
        Ok(HashingReader {
            path,
            file,
            hasher: Sha256::new(),
            buf: vec![0u8; READ_CHUNK],
            size: 0,
        })
    }

    /// The next chunk, already hashed; `None` at the end of the file.
    pub(crate) async fn next_chunk(&mut self) -> Result<Option<&[u8]>, StoreError> {
        let n = self
            .file
            .read(&mut self.buf)
            .await
            .map_err(|e| StoreError::io("reading", self.path, e))?;
        if n == 0 {
            return Ok(None);
        }
        self.hasher.update(&self.buf[..n]);
        self.size += n as u64;
        Ok(Some(&self.buf[..n]))
    }

    /// The hex digest and byte count of everything read.
    pub(crate) fn finish(self) -> (String, u64) {
        (to_hex(&self.hasher.finalize()), self.size)
    }
}
