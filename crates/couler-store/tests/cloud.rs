//! The artifact store on GCS and OSS, each against a real server on loopback (pinned in
//! scripts/requirements-test.txt): fake-gcs-server, the GCS emulator Google's client libraries
//! are tested against, reached through `STORAGE_EMULATOR_HOST`; and for OSS, moto's server
//! speaking the S3 dialect that OSS shares, addressed path-style (`OSS_ADDRESSING_STYLE=path`).
//! No OSS server runs on this machine; moto accepts OSS's requests and signature header without
//! checking the signature, so this proves the OSS client's requests, layout and error handling,
//! not Alibaba's signing. Never skipped: when a server cannot start, the test fails and says why.
//!
//! Credentials come from environment variables only, so this binary holds exactly one test and
//! sets them before any other thread runs.

mod common;
#[path = "support/servers.rs"]
mod servers;
use servers::{keys, start_fake_gcs, start_moto};

use couler_store::{ArtifactStore, Location, StoreErrorKind};

const BUCKET: &str = "couler-cloud-test";
const PREFIX: &str = "team/artifacts";

fn gcs(bucket: &str) -> Location {
    Location::Gcs {
        bucket: bucket.into(),
        prefix: PREFIX.into(),
    }
}

fn oss(bucket: &str) -> Location {
    Location::Oss {
        bucket: bucket.into(),
        prefix: PREFIX.into(),
        endpoint: None,
    }
}

fn set(vars: &[(&str, Option<&str>)]) {
    for (k, v) in vars {
        // SAFETY: this binary's only test calls this before its runtime starts threads and
        // between awaits of a current-thread runtime; nothing else reads the environment then.
        unsafe {
            match v {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
    }
}

#[test]
fn gcs_and_oss_against_real_servers() {
    let tmp = tempfile::tempdir().unwrap();
    let gcs_server = start_fake_gcs(tmp.path(), BUCKET);
    let oss_server = start_moto(tmp.path(), BUCKET);
    set(&[
        (
            "STORAGE_EMULATOR_HOST",
            Some(&format!("127.0.0.1:{}", gcs_server.port)),
        ),
        ("OSS_ENDPOINT", Some(&oss_server.endpoint())),
        ("OSS_ADDRESSING_STYLE", Some("path")),
        ("OSS_ACCESS_KEY_ID", Some("testing")),
        ("OSS_ACCESS_KEY_SECRET", Some("testing")),
        ("OSS_SESSION_TOKEN", None),
    ]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for (service, config, server, scheme) in [
            ("gcs", gcs(BUCKET), &gcs_server, "gs"),
            ("oss", oss(BUCKET), &oss_server, "oss"),
        ] {
            let work = tmp.path().join(service);
            std::fs::create_dir_all(&work).unwrap();
            let store = ArtifactStore::open(&config).await.unwrap();
            assert_eq!(store.location(), format!("{scheme}://{BUCKET}/{PREFIX}"));

            // The same checks as on the local filesystem and S3.
            common::round_trips(&store, &work).await;

            // Objects live under <prefix>/blobs/sha256/<2 hex>/<64 hex>, and nothing else is
            // left in the bucket (no temporary objects).
            let names = keys(server, service, BUCKET);
            assert!(!names.is_empty(), "{service}: nothing stored");
            let blob_key = format!("{PREFIX}/blobs/sha256/");
            for name in &names {
                let hex = name.strip_prefix(&blob_key).unwrap_or_else(|| {
                    panic!("{service}: {name} is outside {blob_key}: {names:?}")
                });
                assert_eq!(hex.len(), 2 + 1 + 64, "{service}: {name}");
            }

            // A file larger than one upload part (8 MiB) round-trips: a multipart upload. GCS
            // does it through its XML multipart API, which fake-gcs-server does not implement
            // (it answers 404), so on GCS only files below 8 MiB are tested here.
            let big = work.join("big.bin");
            let content: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
            std::fs::write(&big, &content).unwrap();
            if service != "gcs" {
                let b = store.put(&big).await.unwrap();
                assert_eq!(store.size(&b.digest).await.unwrap(), content.len() as u64);
                let out = work.join("big.out");
                store.get(&b, &out).await.unwrap();
                assert!(
                    std::fs::read(&out).unwrap() == content,
                    "{service}: multipart content differs"
                );
            }

            // A bucket that does not exist: an error naming the object.
            let missing = ArtifactStore::open(&match service {
                "gcs" => gcs("no-such-bucket"),
                _ => oss("no-such-bucket"),
            })
            .await
            .unwrap();
            let small = work.join("small.txt");
            std::fs::write(&small, b"small").unwrap();
            let err = missing.put(&small).await.unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("{scheme}://no-such-bucket/")),
                "{service}: {msg}"
            );
            assert!(msg.contains("bucket does not exist"), "{service}: {msg}");
        }

        // Configuration errors name the variable to set.
        set(&[
            ("STORAGE_EMULATOR_HOST", None),
            ("GOOGLE_APPLICATION_CREDENTIALS", None),
        ]);
        let home = tmp.path().join("home");
        set(&[("HOME", Some(&home.display().to_string()))]);
        let err = ArtifactStore::open(&gcs(BUCKET)).await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Config, "{err}");
        assert!(
            err.to_string().contains("GOOGLE_APPLICATION_CREDENTIALS"),
            "{err}"
        );
        set(&[("GOOGLE_APPLICATION_CREDENTIALS", Some("/no/such/key.json"))]);
        let err = ArtifactStore::open(&gcs(BUCKET)).await.unwrap_err();
        assert!(err.to_string().contains("/no/such/key.json"), "{err}");

        set(&[("OSS_ENDPOINT", None)]);
        let err = ArtifactStore::open(&oss(BUCKET)).await.unwrap_err();
        assert!(err.to_string().contains("OSS_ENDPOINT"), "{err}");
        set(&[
            ("OSS_ENDPOINT", Some(&oss_server.endpoint())),
            ("OSS_ADDRESSING_STYLE", Some("sideways")),
        ]);
        let err = ArtifactStore::open(&oss(BUCKET)).await.unwrap_err();
        assert!(err.to_string().contains("OSS_ADDRESSING_STYLE"), "{err}");
        set(&[
            ("OSS_ADDRESSING_STYLE", None),
            ("OSS_ACCESS_KEY_SECRET", None),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", None),
        ]);
        let err = ArtifactStore::open(&oss(BUCKET)).await.unwrap_err();
        assert!(err.to_string().contains("OSS_ACCESS_KEY_SECRET"), "{err}");
    });
}
