//! Helpers shared by the property-test files.

use proptest::test_runner::Config as ProptestConfig;

/// `cases`, or `$COULER_FUZZ_CASES` for a longer search.
pub fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("COULER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        // Failures are reported with the shrunk input; no regression files in the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
