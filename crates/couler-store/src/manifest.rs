//! The manifest of a directory artifact, and the checks that keep a hostile one inside `dest`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreErrorKind};

/// Format tag, so a manifest is recognisable and its format can evolve.
pub(crate) const MANIFEST_FORMAT: &str = "couler.dev/directory/v1";

/// The largest manifest `get` accepts: protects memory against a hostile or corrupt object.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

/// A directory tree: every file (by digest) and every directory (so empty ones survive).
/// Both lists are sorted by path, so equal trees give byte-identical manifests and equal digests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    pub format: String,
    pub files: Vec<ManifestFile>,
    pub dirs: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ManifestFile {
    /// Relative, `/`-separated, no `.`/`..`/empty components.
    pub path: String,
    pub digest: String,
    pub size: u64,
    pub executable: bool,
}

impl Manifest {
    /// Checks everything `get` relies on before writing a byte: format, path shapes, digests,
    /// no duplicates, and no file used as a directory by another entry.
    pub(crate) fn validate(&self, digest: &str) -> Result<(), StoreError> {
        let bad = |why: String| {
            StoreError::new(
                StoreErrorKind::InvalidManifest,
                format!(
                    "directory manifest {digest} is invalid: {why}; the object was not written by Couler or was tampered with: delete it and store the directory again"
                ),
            )
        };
        if self.format != MANIFEST_FORMAT {
            return Err(bad(format!(
                "unknown format `{}` (expected `{MANIFEST_FORMAT}`)",
                self.format
            )));
        }
        let mut seen = BTreeSet::new();
        let mut file_paths = BTreeSet::new();
        for dir in &self.dirs {
            check_rel_path(dir).map_err(|why| bad(format!("directory `{dir}` {why}")))?;
            if !seen.insert(dir.as_str()) {
                return Err(bad(format!("`{dir}` appears twice")));
            }
        }
        for file in &self.files {
            check_rel_path(&file.path).map_err(|why| bad(format!("file `{}` {why}", file.path)))?;
            crate::digest_hex(&file.digest)
                .map_err(|_| bad(format!("file `{}` has digest `{}`", file.path, file.digest)))?;
            if !seen.insert(file.path.as_str()) {
                return Err(bad(format!("`{}` appears twice", file.path)));
            }
            file_paths.insert(file.path.as_str());
        }
        // A file may not also be an ancestor of another entry.
        for path in self.dirs.iter().chain(self.files.iter().map(|f| &f.path)) {
            let mut end = 0;
            while let Some(i) = path[end..].find('/') {
                end += i;
                if file_paths.contains(&path[..end]) {
                    return Err(bad(format!(
                        "`{}` is a file but `{path}` is inside it",
                        &path[..end]
                    )));
                }
                end += 1;
            }
        }
        Ok(())
    }
}

/// A manifest path must stay inside the destination whatever the platform: relative,
/// `/`-separated, with no empty, `.` or `..` component, no backslash and no NUL.
pub(crate) fn check_rel_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty");
    }
    if path.starts_with('/') {
        return Err("is absolute");
    }
    if path.contains('\\') || path.contains('\0') {
        return Err("contains a backslash or NUL");
    }
    for component in path.split('/') {
        match component {
            "" => return Err("has an empty component"),
            "." | ".." => return Err("has a `.` or `..` component"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_paths() {
        assert!(check_rel_path("a/b.txt").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/",
            "a\\..\\b",
        ] {
            assert!(check_rel_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_used_as_directory_is_rejected() {
        let d = format!("sha256:{}", "0".repeat(64));
        let m = Manifest {
            format: MANIFEST_FORMAT.into(),
            files: vec![
                ManifestFile {
                    path: "a".into(),
                    digest: d.clone(),
                    size: 0,
                    executable: false,
                },
                ManifestFile {
                    path: "a/b".into(),
                    digest: d,
                    size: 0,
                    executable: false,
                },
            ],
            dirs: vec![],
        };
        let err = m.validate("sha256:x").unwrap_err().to_string();
        assert!(err.contains("`a` is a file"), "{err}");
    }
}
