//! A section of a doc generated from the code, between two markers: the test fails when the
//! doc's copy differs, and `COULER_BLESS=1` rewrites it.

use std::path::PathBuf;

/// docs/server.md.
pub fn server_md() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/server.md")
}

/// Checks that the doc at `path` holds `generated` between `begin` and `end` (or rewrites it
/// there under `COULER_BLESS=1`); `bless` is the command that does so, for the message.
pub fn check(path: &PathBuf, begin: &str, end: &str, generated: &str, bless: &str) {
    let doc = std::fs::read_to_string(path).expect("the doc is readable");
    let start = doc.find(begin).map(|b| b + begin.len());
    let stop = doc.find(end);
    let (Some(start), Some(stop)) = (start, stop) else {
        panic!("{} lacks the markers {begin:?} … {end:?}", path.display());
    };
    let section = format!("\n{generated}\n");
    if doc[start..stop] == section {
        return;
    }
    assert!(
        std::env::var_os("COULER_BLESS").is_some(),
        "{}'s generated section differs from the code; regenerate it with\n  {bless}",
        path.display()
    );
    std::fs::write(path, [&doc[..start], &section, &doc[stop..]].concat())
        .expect("the doc is writable");
}
