//! Checks shared by the local and the S3 tests: the same behaviour on every backend.

#![allow(dead_code)] // each test binary uses a subset

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use couler_store::{ArtifactKind, ArtifactStore, StoreErrorKind};

/// Builds a small tree with nested, empty, executable and duplicate-content entries.
pub fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("a.txt"), b"alpha\n").unwrap();
    std::fs::write(root.join("sub/b.txt"), b"beta\n").unwrap();
    std::fs::write(root.join("sub/deeper/same.txt"), b"alpha\n").unwrap();
    std::fs::write(root.join("run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

pub fn assert_tree(root: &Path) {
    assert_eq!(std::fs::read(root.join("a.txt")).unwrap(), b"alpha\n");
    assert_eq!(std::fs::read(root.join("sub/b.txt")).unwrap(), b"beta\n");
    assert_eq!(
        std::fs::read(root.join("sub/deeper/same.txt")).unwrap(),
        b"alpha\n"
    );
    assert!(root.join("empty").is_dir());
    let mode = |p: &str| {
        std::fs::metadata(root.join(p))
            .unwrap()
            .permissions()
            .mode()
    };
    assert_ne!(mode("run.sh") & 0o111, 0, "run.sh lost its executable bit");
    assert_eq!(mode("a.txt") & 0o111, 0, "a.txt became executable");
}

/// put/get of a file and a directory, dedup, contains/size/list/delete, missing digest.
pub async fn round_trips(store: &ArtifactStore, work: &Path) {
    // A file.
    let file = work.join("model.bin");
    std::fs::write(&file, b"weights").unwrap();
    let a = store.put(&file).await.unwrap();
    assert_eq!(a.kind, ArtifactKind::File);
    assert_eq!(a.size, 7);
    // sha256("weights")
    assert_eq!(
        a.digest,
        "sha256:9a129038d9a00aed0cf6a7ea059ca50a813449061ab87848cf1a13eafdf33b2c"
    );
    let out = work.join("out/model.bin");
    store.get(&a, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"weights");
    // get replaces an existing file.
    std::fs::write(&out, b"old").unwrap();
    store.get(&a, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"weights");

    // Dedup: the same content from another path is one blob.
    let before = store.list().await.unwrap().len();
    let copy = work.join("copy.bin");
    std::fs::write(&copy, b"weights").unwrap();
    let b = store.put(&copy).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(store.list().await.unwrap().len(), before);

    // A directory: the two files with content "alpha\n" share one blob.
    let tree = work.join("tree");
    make_tree(&tree);
    let d = store.put(&tree).await.unwrap();
    assert_eq!(d.kind, ArtifactKind::Directory);
    assert_eq!(d.size, 6 + 5 + 6 + 18);
    let listed = store.list().await.unwrap();
    // weights + alpha + beta + run.sh + manifest
    assert_eq!(listed.len(), before + 4, "{listed:?}");
    assert!(listed.iter().any(|(digest, _)| *digest == d.digest));
    let restored = work.join("restored/tree");
    store.get(&d, &restored).await.unwrap();
    assert_tree(&restored);
    // Storing the same tree again gives the same digest (deterministic manifest).
    let again = store.put(&restored).await.unwrap();
    assert_eq!(again, d);
    // get replaces an existing, different directory.
    std::fs::write(restored.join("stray.txt"), b"x").unwrap();
    store.get(&d, &restored).await.unwrap();
    assert!(!restored.join("stray.txt").exists());
    assert_tree(&restored);
    // No temporary siblings are left beside the destinations.
    for dir in [work.join("out"), work.join("restored")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name();
            assert!(
                !name.to_string_lossy().contains("couler-tmp"),
                "left over: {name:?}"
            );
        }
    }

    // contains / size / delete.
    assert!(store.contains(&a.digest).await.unwrap());
    assert_eq!(store.size(&a.digest).await.unwrap(), 7);
    store.delete(&a.digest).await.unwrap();
    assert!(!store.contains(&a.digest).await.unwrap());
    store.delete(&a.digest).await.unwrap(); // deleting twice is fine

    // A missing digest is a clear NotFound, and get leaves nothing at dest.
    let gone = work.join("gone.bin");
    let err = store.get(&a, &gone).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains(&a.digest), "{err}");
    assert!(err.to_string().contains("not in the store"), "{err}");
    assert!(!gone.exists());
    let err = store.size(&a.digest).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::NotFound, "{err}");

    // A malformed digest is rejected before touching the backend.
    let err = store.contains("sha256:../../etc").await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidDigest, "{err}");
}
