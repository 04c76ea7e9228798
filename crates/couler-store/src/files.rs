//! Local file helpers: walking a directory to store, and writing beside a destination then
//! renaming into place.

use crate::{StoreError, StoreErrorKind};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A file to store: its path relative to the directory, its path, whether it is executable.
pub(crate) type WalkedFile = (String, PathBuf, bool);

/// What `path` resolves to (through every symlink on the way), when that stays inside the
/// directory `root`: the rule for a symlink inside a stored directory, and for a file or
/// directory a step declares in its working directory (an output artifact or parameter that is
/// a symlink to `/etc/hostname` is refused, not stored).
pub fn contained(path: &Path, root: &Path) -> Result<PathBuf, StoreError> {
    let canonical_root =
        std::fs::canonicalize(root).map_err(|e| StoreError::io("resolving", root, e))?;
    inside(path, &canonical_root, root)
}

fn inside(path: &Path, canonical_root: &Path, root: &Path) -> Result<PathBuf, StoreError> {
    let target = std::fs::canonicalize(path)
        .map_err(|e| StoreError::io("resolving symlink (is it dangling?)", path, e))?;
    if !target.starts_with(canonical_root) {
        return Err(StoreError::new(
            StoreErrorKind::InvalidInput,
            format!(
                "cannot store {}: it is a symlink to {}, outside the directory {}; copy the file into the directory instead",
                path.display(),
                target.display(),
                root.display()
            ),
        ));
    }
    Ok(target)
}

/// Lists a directory tree: files as (relative path, path to read, executable) and all
/// directories, both sorted. Symlinks are followed only to files inside `canonical_root`.
pub(crate) async fn walk(
    root: &Path,
    canonical_root: &Path,
) -> Result<(Vec<WalkedFile>, Vec<String>), StoreError> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel_dir)) = stack.pop() {
        let mut read = tokio::fs::read_dir(&dir)
            .await
            .map_err(|e| StoreError::io("listing", &dir, e))?;
        while let Some(entry) = read
            .next_entry()
            .await
            .map_err(|e| StoreError::io("listing", &dir, e))?
        {
            let path = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(StoreError::new(
                    StoreErrorKind::InvalidInput,
                    format!(
                        "cannot store {}: its name is not valid UTF-8; rename it",
                        path.display()
                    ),
                ));
            };
            if name.contains('\\') {
                return Err(StoreError::new(
                    StoreErrorKind::InvalidInput,
                    format!(
                        "cannot store {}: its name contains a backslash, which is not portable; rename it",
                        path.display()
                    ),
                ));
            }
            let rel = if rel_dir.is_empty() {
                name.to_string()
            } else {
                format!("{rel_dir}/{name}")
            };
            let meta = tokio::fs::symlink_metadata(&path)
                .await
                .map_err(|e| StoreError::io("reading", &path, e))?;
            let file_type = meta.file_type();
            if file_type.is_dir() {
                dirs.push(rel.clone());
                stack.push((path, rel));
            } else if file_type.is_file() {
                files.push((rel, path, meta.permissions().mode() & 0o111 != 0));
            } else if file_type.is_symlink() {
                let target = inside(&path, canonical_root, root)?;
                let target_meta = tokio::fs::metadata(&target)
                    .await
                    .map_err(|e| StoreError::io("reading", &target, e))?;
                if !target_meta.is_file() {
                    return Err(StoreError::new(
                        StoreErrorKind::InvalidInput,
                        format!(
                            "cannot store {}: it is a symlink to a directory; only symlinks to files are stored (as copies)",
                            path.display()
                        ),
                    ));
                }
                files.push((rel, target, target_meta.permissions().mode() & 0o111 != 0));
            } else {
                return Err(StoreError::new(
                    StoreErrorKind::InvalidInput,
                    format!(
                        "cannot store {}: it is neither a file, a directory nor a symlink (a socket or FIFO?); remove it from the artifact",
                        path.display()
                    ),
                ));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    dirs.sort();
    Ok((files, dirs))
}

pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `PID-RANDOM`: unique to one write among every process writing the same name.
pub(crate) fn unique_suffix() -> String {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let random = RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{}-{random:016x}", std::process::id())
}

/// A fresh sibling path of `dest` for writing before the rename.
pub(crate) fn beside(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "artifact".to_string());
    parent_dir(dest).join(format!(".{name}.couler-tmp-{}", unique_suffix()))
}

/// Moves `tmp` to `dest`, replacing what was there. A file replaces atomically; a directory
/// cannot be renamed over a non-empty one, so the old one is moved aside first.
pub(crate) async fn replace(tmp: &Path, dest: &Path) -> Result<(), StoreError> {
    match tokio::fs::symlink_metadata(dest).await {
        Ok(meta) if meta.is_dir() => {
            let old = beside(dest);
            tokio::fs::rename(dest, &old)
                .await
                .map_err(|e| StoreError::io("replacing", dest, e))?;
            tokio::fs::rename(tmp, dest)
                .await
                .map_err(|e| StoreError::io("replacing", dest, e))?;
            remove_any(&old).await;
            Ok(())
        }
        Ok(meta) if meta.is_file() && tokio::fs::metadata(tmp).await.is_ok_and(|m| m.is_dir()) => {
            // rename() cannot put a directory over a file.
            tokio::fs::remove_file(dest)
                .await
                .map_err(|e| StoreError::io("replacing", dest, e))?;
            tokio::fs::rename(tmp, dest)
                .await
                .map_err(|e| StoreError::io("replacing", dest, e))
        }
        _ => tokio::fs::rename(tmp, dest)
            .await
            .map_err(|e| StoreError::io("writing", dest, e)),
    }
}

pub(crate) async fn remove_any(path: &Path) {
    match tokio::fs::symlink_metadata(path).await {
        Ok(meta) if meta.is_dir() => {
            let _ = tokio::fs::remove_dir_all(path).await;
        }
        Ok(_) => {
            let _ = tokio::fs::remove_file(path).await;
        }
        Err(_) => {}
    }
}
