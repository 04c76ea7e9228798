//! Every pattern against messages worded as the engines document them (written here from their
//! documentation and source wording, not copied from logs), user failures, and the backoff's
//! bounds.

use super::*;
use std::collections::BTreeSet;

/// (pattern, reason, message): each must classify as exactly that pattern.
const SAMPLES: &[(&str, &str, &str)] = &[
    ("user-exit", "Failed", "exited with code 1"),
    (
        "user-exit",
        "Failed",
        "exited with code 2: Traceback (most recent call last): | ValueError: bad input",
    ),
    ("user-exit", "Error", "Error (exit code 1)"),
    ("oom-killed", "OOMKilled", "OOMKilled (exit code 137)"),
    (
        "oom-killed",
        "Failed",
        "pod failed: container main terminated: OOMKilled",
    ),
    (
        "step-deadline",
        "Failed",
        "timed out after 3.0s and was stopped",
    ),
    (
        "step-deadline",
        "DeadlineExceeded",
        "Pod was active on the node longer than the specified deadline",
    ),
    (
        "invalid-spec",
        "Invalid",
        "Pod \"train-1\" is invalid: spec.containers[0].image: Required value",
    ),
    (
        "image-not-found",
        "ErrImagePull",
        "Failed to pull image \"ghcr.io/acme/train:v9\": rpc error: code = NotFound desc = failed to resolve reference: ghcr.io/acme/train:v9: not found: manifest unknown",
    ),
    (
        "image-not-found",
        "ErrImagePull",
        "Failed to pull image \"acme/private\": pull access denied, repository does not exist or may require authorization",
    ),
    (
        "image-not-found",
        "InvalidImageName",
        "Failed to apply default image tag \"Acme/Train\": couldn't parse image reference",
    ),
    (
        "command-not-found",
        "Error",
        "command `trainer` not found: it is not on PATH and not a file (the host runner runs commands on this machine; install it, or run with --runtime docker)",
    ),
    (
        "command-not-found",
        "Error",
        "command `./run.sh` is not executable: Permission denied (os error 13)",
    ),
    (
        "k8s-too-many-requests",
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later (post workflows.argoproj.io)",
    ),
    (
        "k8s-server-timeout",
        "ServerTimeout",
        "the server was unable to return a response in the time allotted, but may still be processing the request (get pods train-1)",
    ),
    (
        "k8s-server-error",
        "InternalError",
        "an error on the server (\"unknown\") has prevented the request from succeeding (post pods)",
    ),
    (
        "k8s-server-error",
        "ServiceUnavailable",
        "the server is currently unable to handle the request (get pods.metrics.k8s.io)",
    ),
    (
        "k8s-server-error",
        "InternalError",
        "Internal error occurred: failed calling webhook \"validate.kyverno.svc\"",
    ),
    (
        "connection-refused",
        "Error",
        "Get \"https://10.96.0.1:443/api/v1/namespaces/ml/pods\": dial tcp 10.96.0.1:443: connect: connection refused",
    ),
    (
        "etcd-request-timeout",
        "Error",
        "rpc error: code = Unknown desc = etcdserver: request timed out",
    ),
    ("etcd-leader-changed", "Error", "etcdserver: leader changed"),
    (
        "etcd-leader-changed",
        "Error",
        "rpc error: code = Unavailable desc = etcdserver: no leader",
    ),
    (
        "etcd-space-exceeded",
        "Error",
        "etcdserver: mvcc: database space exceeded",
    ),
    (
        "quota-exceeded",
        "Forbidden",
        "pods \"train-1\" is forbidden: exceeded quota: compute-resources, requested: limits.cpu=4, used: limits.cpu=30, limited: limits.cpu=32",
    ),
    (
        "insufficient-resources",
        "FailedScheduling",
        "0/3 nodes are available: 3 Insufficient cpu.",
    ),
    (
        "insufficient-resources",
        "Unschedulable",
        "0/8 nodes are available: 2 Insufficient memory, 6 Insufficient nvidia.com/gpu. preemption: 0/8 nodes are available: 8 No preemption victims found for incoming pod.",
    ),
    (
        "node-taint",
        "Unschedulable",
        "0/4 nodes are available: 4 node(s) had untolerated taint {node.kubernetes.io/disk-pressure: }.",
    ),
    (
        "node-taint",
        "Pending",
        "0/1 nodes are available: 1 node(s) had taint {node.kubernetes.io/not-ready: }, that the pod didn't tolerate.",
    ),
    (
        "preempted",
        "Preempting",
        "Preempted by pod 5a1d2c7e-0b1a-4c2e-9f1e-1e2d3c4b5a69 on node worker-3",
    ),
    (
        "preempted",
        "Failed",
        "Preempted in order to admit critical pod",
    ),
    (
        "failed-scheduling",
        "FailedScheduling",
        "0/5 nodes are available: 5 node(s) didn't match Pod's node affinity/selector.",
    ),
    (
        "node-lost",
        "NodeLost",
        "Node worker-7 which was running pod train-1 is unresponsive",
    ),
    (
        "node-shutdown",
        "Terminated",
        "Pod was terminated in response to imminent node shutdown.",
    ),
    (
        "node-pressure-eviction",
        "Evicted",
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 82Mi. Container main was using 3Gi, request is 1Gi.",
    ),
    (
        "node-pressure-eviction",
        "Evicted",
        "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi.",
    ),
    (
        "image-pull",
        "ErrImagePull",
        "Failed to pull image \"python:3.12\": rpc error: code = Canceled desc = failed to pull and unpack image: context canceled",
    ),
    (
        "image-pull",
        "ImagePullBackOff",
        "Back-off pulling image \"python:3.12\"",
    ),
    (
        "connection-reset",
        "Error",
        "read tcp 10.0.1.5:42310->10.0.2.8:9000: read: connection reset by peer",
    ),
    (
        "connection-reset",
        "Error",
        "write tcp 10.0.1.5:42310->10.0.2.8:9000: write: broken pipe",
    ),
    ("io-timeout", "Error", "dial tcp 10.0.2.8:9000: i/o timeout"),
    (
        "io-timeout",
        "Error",
        "Get \"https://s3.amazonaws.com/bucket\": net/http: TLS handshake timeout",
    ),
    (
        "no-route",
        "Error",
        "dial tcp 10.0.2.8:9000: connect: no route to host",
    ),
    (
        "no-route",
        "Error",
        "dial tcp [2001:db8::1]:443: connect: network is unreachable",
    ),
    (
        "dns-failure",
        "Error",
        "socket.gaierror: [Errno -3] Temporary failure in name resolution",
    ),
    (
        "dns-failure",
        "Error",
        "dial tcp: lookup minio.ml.svc on 10.96.0.10:53: server misbehaving",
    ),
    (
        "failed-mount",
        "FailedMount",
        "MountVolume.SetUp failed for volume \"data\" : rpc error: code = Internal desc = mount failed: exit status 32",
    ),
    (
        "failed-mount",
        "FailedMount",
        "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data kube-api-access-x]: timed out waiting for the condition",
    ),
    (
        "failed-attach",
        "FailedAttachVolume",
        "Multi-Attach error for volume \"pvc-1\" Volume is already exclusively attached to one node and can't be attached to another",
    ),
    (
        "failed-attach",
        "FailedAttachVolume",
        "AttachVolume.Attach failed for volume \"pvc-2\" : rpc error: code = Internal desc = could not attach disk",
    ),
    (
        "disk-full",
        "Error",
        "cannot create the work directory /var/lib/couler/runs/r1/train/1: No space left on device (os error 28)",
    ),
    (
        "disk-full",
        "Error",
        "failed to register layer: write /var/lib/containerd/x: no space left on device",
    ),
    (
        "container-runtime",
        "FailedCreatePodSandBox",
        "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox",
    ),
    (
        "container-runtime",
        "RunContainerError",
        "failed to create containerd task: failed to create shim task: OCI runtime create failed: context deadline exceeded",
    ),
    (
        "container-runtime",
        "CreateContainerError",
        "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
    ),
    (
        "local-runtime",
        "Error",
        "cannot start `python3`: Resource temporarily unavailable (os error 11)",
    ),
    (
        "local-runtime",
        "Error",
        "cannot create the step's output pipes: Too many open files (os error 24)",
    ),
    (
        "local-runtime",
        "Error",
        "cannot create log file /srv/state/runs/r1/logs/train.stdout: Read-only file system (os error 30)",
    ),
    (
        "local-runtime",
        "Error",
        "cannot wait for `python3`: Interrupted system call (os error 4)",
    ),
];

/// Plain user failures that no pattern may call a system error.
const USER_FAILURES: &[(&str, &str)] = &[
    ("Failed", "exited with code 1: FileNotFoundError: data.csv"),
    (
        "Failed",
        "exited with code 3: requests.exceptions.ConnectionError: connection reset by peer",
    ),
    (
        "Failed",
        "exited with code 1: OSError: [Errno 28] No space left on device",
    ),
    ("Failed", "exited with code 137"),
    ("Error", "stopped"),
    (
        "Error",
        "cannot evaluate `inputs.parameters.n + 1`: unknown parameter n",
    ),
    (
        "Failed",
        "when: `{{steps.a.outputs.result}} == ok` is false",
    ),
];

#[test]
fn every_pattern_has_samples_and_every_sample_classifies_as_its_pattern() {
    let names: BTreeSet<_> = PATTERNS.iter().map(|p| p.name).collect();
    assert_eq!(names.len(), PATTERNS.len(), "pattern names are unique");
    let sampled: BTreeSet<_> = SAMPLES.iter().map(|s| s.0).collect();
    assert_eq!(
        sampled, names,
        "every pattern has a sample, every sample a pattern"
    );
    for (name, reason, message) in SAMPLES {
        let got = classify(reason, message).map(|p| p.name);
        assert_eq!(got, Some(*name), "{reason}: {message}");
    }
}

#[test]
fn matching_ignores_case() {
    for (name, reason, message) in SAMPLES {
        let (r, m) = (reason.to_uppercase(), message.to_uppercase());
        assert_eq!(classify(&r, &m).map(|p| p.name), Some(*name), "{m}");
    }
}

#[test]
fn needles_are_lower_case_and_not_empty() {
    for p in PATTERNS {
        assert!(!p.matches.is_empty(), "{}", p.name);
        for n in p.matches {
            let (Needle::Reason(s) | Needle::Contains(s) | Needle::StartsWith(s)) = *n;
            assert!(
                !s.trim().is_empty() && s == s.to_lowercase(),
                "{}: {s:?}",
                p.name
            );
        }
    }
}

#[test]
fn overlaps_only_where_a_more_specific_pattern_comes_first() {
    // A sample's own pattern wins; any other pattern that also matches it must come later
    // in the table (a general rule after a specific one), never earlier.
    for (name, reason, message) in SAMPLES {
        let own = PATTERNS.iter().position(|p| p.name == *name).unwrap();
        for (i, p) in PATTERNS.iter().enumerate() {
            if i != own && p.matches(reason, message) {
                assert!(
                    i > own,
                    "{} also matches {name}'s sample {message:?}",
                    p.name
                );
            }
        }
    }
}

#[test]
fn user_failures_are_never_retried() {
    for (reason, message) in USER_FAILURES {
        if let Some(p) = classify(reason, message) {
            assert!(!p.retryable(), "{} would retry {message:?}", p.name);
        }
    }
    for name in [
        "user-exit",
        "oom-killed",
        "invalid-spec",
        "image-not-found",
        "step-deadline",
    ] {
        let p = PATTERNS.iter().find(|p| p.name == name).unwrap();
        assert_eq!(p.policy, Policy::Never, "{name}");
        assert_eq!(backoff(p, 1, &mut || 0.5), None, "{name}");
    }
}

#[test]
fn at_least_twenty_system_errors_are_retried() {
    assert!(PATTERNS.iter().filter(|p| p.retryable()).count() >= 20);
}

fn limits(p: &Pattern) -> (Duration, Duration, u32) {
    match p.policy {
        Policy::Retry {
            base,
            cap,
            max_attempts,
        } => (base, cap, max_attempts),
        Policy::Never => unreachable!(),
    }
}

#[test]
fn backoff_grows_to_the_cap_and_stops_after_the_last_attempt() {
    for p in PATTERNS.iter().filter(|p| p.retryable()) {
        let (base, cap, max) = limits(p);
        assert!(
            base > Duration::ZERO && base <= cap && max >= 1,
            "{}",
            p.name
        );
        let mut last = Duration::ZERO;
        for attempt in 1..=max {
            let top = backoff(p, attempt, &mut || 0.999_999).unwrap();
            let expected = (base * 2u32.pow(attempt - 1)).min(cap);
            assert!(
                top <= cap && top <= expected,
                "{} #{attempt}: {top:?}",
                p.name
            );
            assert!(
                top.as_secs_f64() >= expected.as_secs_f64() * 0.999,
                "{} #{attempt}",
                p.name
            );
            assert!(top >= last, "{} #{attempt} shrank", p.name);
            last = top;
        }
        assert_eq!(backoff(p, 0, &mut || 0.5), None, "{}", p.name);
        assert_eq!(backoff(p, max + 1, &mut || 0.5), None, "{}", p.name);
    }
    let api = classify("", "etcdserver: leader changed").unwrap();
    let waits: Vec<_> = (1..=4)
        .map(|a| backoff(api, a, &mut || 0.5).unwrap())
        .collect();
    assert_eq!(waits, [500, 1000, 2000, 4000].map(Duration::from_millis));
}

#[test]
fn jitter_stays_within_zero_and_the_ceiling() {
    let p = classify("", "0/3 nodes are available: 3 Insufficient cpu.").unwrap();
    let (base, cap, max) = limits(p);
    // A small deterministic generator: splitmix64, as the uniform source.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rng = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as f64 / (u64::MAX as f64 + 1.0)
    };
    for attempt in 1..=max {
        let ceiling = (base * 2u32.pow(attempt - 1)).min(cap);
        let waits: Vec<_> = (0..200)
            .map(|_| backoff(p, attempt, &mut rng).unwrap())
            .collect();
        assert!(waits.iter().all(|w| *w <= ceiling), "#{attempt}");
        let distinct: BTreeSet<_> = waits.iter().collect();
        assert!(distinct.len() > 150, "#{attempt}: jitter spreads the waits");
        let low = waits.iter().filter(|w| **w < ceiling / 2).count();
        assert!(
            (60..=140).contains(&low),
            "#{attempt}: {low} of 200 in the lower half"
        );
    }
    // Out-of-range generators are clamped, never panic or exceed the ceiling.
    for u in [-1.0, 2.0, f64::NAN, f64::INFINITY] {
        let w = backoff(p, 1, &mut || u).unwrap();
        assert!(w <= base, "{u}: {w:?}");
    }
}

#[test]
fn the_table_renders_needles_as_verbatim_code_spans() {
    let table = markdown_table();
    // One space on both sides: padded, so the span strips the padding and keeps the spaces.
    assert!(table.contains("`  is invalid:  `"), "{table}");
    // A trailing space alone is kept by a plain span.
    assert!(table.contains("starts `exited with code `"), "{table}");
    // A backtick at the end: a longer fence, padded on both sides so it does not merge.
    assert!(table.contains("`` cannot start ` ``"), "{table}");
}

#[test]
fn a_step_reporting_a_control_plane_error_is_that_error_and_other_exits_stay_the_users() {
    let named = |status: &str, message: &str| classify_step(status, message).map(|p| p.name);
    assert_eq!(
        named(
            "Failed",
            "exited with code 1: applying job | etcdserver: request timed out"
        ),
        Some("etcd-request-timeout")
    );
    assert_eq!(
        named(
            "Failed",
            "exited with code 1: Error from server (TooManyRequests): slow down"
        ),
        Some("k8s-too-many-requests")
    );
    for (status, message) in USER_FAILURES {
        if let Some(p) = classify_step(status, message) {
            assert!(!p.retryable(), "{} would retry {message:?}", p.name);
        }
    }
    assert_eq!(
        named("Failed", "exited with code 3: plain failure"),
        Some("user-exit")
    );
    assert_eq!(
        named(
            "Error",
            "cannot start `python3`: Resource temporarily unavailable"
        ),
        Some("local-runtime")
    );
    for name in REPORTED_BY_STEPS {
        let p = PATTERNS.iter().find(|p| p.name == *name);
        assert!(p.is_some_and(Pattern::retryable), "{name}");
    }
}
