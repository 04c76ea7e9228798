//! A step's peak RSS is the step's alone (docs/runtime.md, "Runners"): measured against
//! `/usr/bin/time -v` on a step that allocates a known amount, and on `true`, which reported
//! the executor's own 15 MiB when `wait4`'s high-water mark was taken as it is.

#[path = "support/cli.rs"]
mod cli;

use cli::{couler_in, json, status, step, text, tmp, write};
use std::process::Command;

/// Touches 50 MiB (every page written), then exits.
const ALLOC: &str = "x = bytearray(50 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])";

/// `Maximum resident set size` of `argv` under `/usr/bin/time -v`, in KiB.
fn time_v_kb(argv: &[&str]) -> i64 {
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .args(argv)
        .output()
        .unwrap_or_else(|e| panic!("/usr/bin/time runs (Debian package `time`): {e}"));
    let err = text(&out.stderr);
    err.lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maximum RSS in: {err}"))
}

#[test]
fn peak_rss_is_the_steps_own_as_time_v_measures_it() {
    let d = tmp();
    write(
        &d.path().join("rss.yaml"),
        &format!(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: rss\nsteps:\n  - name: nothing\n    container: {{command: [true]}}\n  - name: alloc\n    container: {{command: [python3, -c, \"{ALLOC}\"]}}\n"
        ),
    );
    let out = couler_in(d.path(), &["run", "rss.yaml", "--no-cache", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let run_id = json(&out)["runId"].as_str().unwrap_or_default().to_string();
    let s = status(d.path(), &run_id);
    let kb = |node: &str| {
        step(&s, node)["peakRssKb"]
            .as_i64()
            .unwrap_or_else(|| panic!("no peak RSS for {node}: {s}"))
    };

    let reference = time_v_kb(&["true"]);
    assert!(reference < 2048, "/usr/bin/time -v true: {reference} KiB");
    let got = kb("nothing");
    assert!(
        got < 2048,
        "`true` reports {got} KiB (time -v: {reference} KiB)"
    );

    let reference = time_v_kb(&["python3", "-c", ALLOC]);
    let got = kb("alloc");
    let off = (got - reference).abs() as f64 / reference as f64;
    assert!(
        off < 0.15,
        "the 50 MiB step reports {got} KiB, /usr/bin/time -v {reference} KiB"
    );
}
