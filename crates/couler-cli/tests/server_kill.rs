//! `kill -9` of `couler server` at random moments (issue #22, durability): over several rounds
//! runs are submitted and the server is killed after a random delay, whatever it is doing
//! (answering, claiming, starting a step, recording one). After the last restart every
//! accepted submission ends Succeeded, every step ran, and a step ran twice only where a kill
//! interrupted it. The seed is printed; `COULER_TEST_SEED=N` replays one. On SQLite and on
//! PostgreSQL.

#[path = "support/postgres.rs"]
mod pg;
#[macro_use]
#[path = "support/server.rs"]
mod support;

both!(killed_at_random_moments_the_server_loses_no_submission_and_no_finished_step);

use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use support::Server;

/// A chain of three steps; each appends `RUN STEP` to `log` when it ends (arguments, not
/// shell text, carry the values).
fn chain(log: &std::path::Path) -> String {
    let step = |name: &str, after: Option<&str>| {
        let deps = after.map_or(String::new(), |a| format!("  dependsOn: [{a}]\n"));
        format!(
            "- name: {name}\n  container:\n    command: [sh, -c, 'sleep 0.1; echo \"$1 $2\" >> \"$3\"', sh, '{{{{workflow.runId}}}}', {name}, '{}']\n{deps}",
            log.display()
        )
    };
    format!(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: chain\nsteps:\n{}{}{}",
        step("a", None),
        step("b", Some("a")),
        step("c", Some("b"))
    )
}

/// xorshift64*: enough to spread kill points, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn killed_at_random_moments_the_server_loses_no_submission_and_no_finished_step() {
    let seed = std::env::var("COULER_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("COULER_TEST_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let log = dir.path().join("steps.log");
    let spec = chain(&log);
    let args = ["--auth", "none", "--workers", "2"];
    let (rounds, workers) = (5, 2);
    let mut accepted = Vec::new();
    for _ in 0..rounds {
        let server = Server::start(dir.path(), &args);
        for _ in 0..3 {
            let (code, resp) = server.submit(None, &json!({"spec": spec}));
            assert_eq!(code, 201, "{resp}");
            accepted.push(resp["id"].as_str().unwrap_or_default().to_string());
        }
        std::thread::sleep(Duration::from_millis(rng.below(800)));
        server.kill9();
    }
    let server = Server::start(dir.path(), &args);
    for id in &accepted {
        let run = server.wait_for(None, id, &["Succeeded", "Failed", "Error", "Stopped"]);
        assert_eq!(run["state"], "Succeeded", "seed {seed}: {run}");
    }
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{e}"));
    let mut ran: BTreeMap<&str, usize> = BTreeMap::new();
    for line in text.lines() {
        *ran.entry(line).or_default() += 1;
    }
    for id in &accepted {
        for step in ["a", "b", "c"] {
            assert!(
                ran.contains_key(format!("{id} {step}").as_str()),
                "seed {seed}: {id} {step} never ran"
            );
        }
    }
    // A kill interrupts at most one step per worker; only those may have run twice.
    let again: usize = ran.values().map(|n| n - 1).sum();
    assert!(
        again <= rounds * workers,
        "seed {seed}: {again} step runs repeated over {rounds} kills: {ran:?}"
    );
}
