//! `StoreError`: what failed, on which path or object, and how to fix it.

use std::fmt;
use std::io;
use std::path::Path;

/// The class of a [`StoreError`], for callers that react differently (a cache miss is `NotFound`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The configuration cannot be used (unsupported storage kind, bad endpoint, ...).
    Config,
    /// A digest string is not `sha256:<64 lowercase hex>`.
    InvalidDigest,
    /// No object with this digest is stored.
    NotFound,
    /// A stored object's content does not match its digest.
    Corrupt,
    /// A directory manifest is malformed or would write outside its destination.
    InvalidManifest,
    /// The input cannot be stored as it is (a symlink leaving the directory, a socket, ...).
    InvalidInput,
    /// The source changed while it was being stored.
    Changed,
    /// The disk (or quota) is full.
    NoSpace,
    /// Any other local I/O failure.
    Io,
    /// The storage backend (S3, ...) failed.
    Backend,
}

/// An artifact-store failure. `Display` names the operation, the path or object, and a fix.
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StoreError {
    pub(crate) fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// A local I/O error while doing `what` on `path`; disk-full gets its own kind and fix.
    pub(crate) fn io(what: &str, path: &Path, err: io::Error) -> Self {
        if is_no_space(&err) {
            return StoreError::new(
                StoreErrorKind::NoSpace,
                format!(
                    "no space left on device while {what} {}; free space or set --cache-size",
                    path.display()
                ),
            )
            .with_source(err);
        }
        let hint = match err.kind() {
            io::ErrorKind::PermissionDenied => "; check the permissions of the path and its parent",
            io::ErrorKind::NotFound => "; check that the path exists",
            _ => "",
        };
        StoreError::new(
            StoreErrorKind::Io,
            format!("{what} {}: {err}{hint}", path.display()),
        )
        .with_source(err)
    }

    /// A backend error while doing `what` on object `key`.
    pub(crate) fn backend(what: &str, key: &str, err: opendal::Error) -> Self {
        if let Some(io_err) = find_io_error(&err)
            && is_no_space(io_err)
        {
            return StoreError::new(
                StoreErrorKind::NoSpace,
                format!(
                    "no space left on device while {what} object {key}; free space or set --cache-size"
                ),
            )
            .with_source(err);
        }
        let (kind, hint) = match err.kind() {
            // Writes create their object: a missing one means a missing bucket.
            opendal::ErrorKind::NotFound if what.starts_with("storing") => (
                StoreErrorKind::Backend,
                "; the bucket does not exist: create it or fix its name",
            ),
            opendal::ErrorKind::NotFound => (StoreErrorKind::NotFound, "; it is not in the store"),
            opendal::ErrorKind::PermissionDenied => (
                StoreErrorKind::Backend,
                "; check the credentials and the bucket's access policy (docs/artifacts.md lists the variables each store reads)",
            ),
            opendal::ErrorKind::ConfigInvalid => (
                StoreErrorKind::Config,
                "; check the storage configuration: that the bucket exists, and the endpoint and region",
            ),
            _ => (
                StoreErrorKind::Backend,
                "; check that the storage endpoint is reachable and the bucket exists",
            ),
        };
        StoreError::new(kind, format!("{what} object {key}: {err}{hint}")).with_source(err)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

fn is_no_space(err: &io::Error) -> bool {
    // ENOSPC (28) and EDQUOT (122 on Linux): both mean "make room".
    err.kind() == io::ErrorKind::StorageFull
        || err.kind() == io::ErrorKind::QuotaExceeded
        || matches!(err.raw_os_error(), Some(28) | Some(122))
}

fn find_io_error(err: &opendal::Error) -> Option<&io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = cur {
        if let Some(io_err) = e.downcast_ref::<io::Error>() {
            return Some(io_err);
        }
        cur = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_full_says_how_to_fix() {
        let err = StoreError::io(
            "writing",
            Path::new("/cache/blobs/x"),
            io::Error::from_raw_os_error(28),
        );
        assert_eq!(err.kind(), StoreErrorKind::NoSpace);
        assert_eq!(
            err.to_string(),
            "no space left on device while writing /cache/blobs/x; free space or set --cache-size"
        );
        let backend = opendal::Error::new(opendal::ErrorKind::Unexpected, "write failed")
            .set_source(io::Error::from_raw_os_error(28));
        let err = StoreError::backend("storing", "/cache/blobs/y", backend);
        assert_eq!(err.kind(), StoreErrorKind::NoSpace, "{err}");
    }

    #[test]
    fn permission_denied_names_path_and_fix() {
        let err = StoreError::io(
            "creating",
            Path::new("/ro/store"),
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        let msg = err.to_string();
        assert!(msg.starts_with("creating /ro/store: "), "{msg}");
        assert!(msg.contains("check the permissions"), "{msg}");
    }
}
