//! Runs recorded before `couler_store::Location` became the one location type keep loading: the
//! JSON a run wrote in `runs.artifact_store` (the runtime's own `Location` then) reads back as
//! the same place.

use couler_run::State;
use couler_run::artifacts::Location;

/// `runs.artifact_store` as earlier Couler wrote it, and the place it names.
const RECORDED: [(&str, &str); 6] = [
    (
        r#"{"kind":"local","root":"/var/couler/artifacts"}"#,
        "/var/couler/artifacts",
    ),
    (
        r#"{"kind":"s3","bucket":"team-bucket","prefix":"runs"}"#,
        "s3://team-bucket/runs",
    ),
    (
        r#"{"kind":"s3","bucket":"b-1","prefix":"","endpoint":"http://127.0.0.1:9000","region":"eu-west-1"}"#,
        "s3://b-1",
    ),
    (
        r#"{"kind":"gcs","bucket":"my_bucket","prefix":"a/b"}"#,
        "gs://my_bucket/a/b",
    ),
    (
        r#"{"kind":"oss","bucket":"o-b","prefix":"p","endpoint":"https://oss-cn-hangzhou.aliyuncs.com"}"#,
        "oss://o-b/p",
    ),
    (
        r#"{"kind":"hdfs","endpoint":"https://nn:9871","root":"/data","user":"etl"}"#,
        "swebhdfs://nn:9871/data",
    ),
];

#[test]
fn runs_recorded_by_earlier_couler_name_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let state = State::open(dir.path()).unwrap();
    for (i, (json, place)) in RECORDED.iter().enumerate() {
        let id = format!("run-{i}");
        state.create_run(&id, "w", "{}", "{}").unwrap();
        // The row as the earlier Couler left it, written past today's encoder.
        let db = rusqlite::Connection::open(dir.path().join("state.db")).unwrap();
        db.execute(
            "UPDATE runs SET artifact_store = ?1 WHERE id = ?2",
            rusqlite::params![json, id],
        )
        .unwrap();
        let run = state.run(&id).unwrap().unwrap();
        assert_eq!(run.artifact_store.as_deref(), Some(*place), "{json}");
        // And today's encoding of the same place is the bytes earlier Couler wrote.
        let back: Location = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), *json);
    }
}
