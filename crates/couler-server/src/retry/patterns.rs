//! The table of known failures, most specific first: [`super::classify`] takes the first match,
//! so user errors come before the system errors their messages may mention.

use super::Needle::{Contains, Reason, StartsWith};
use super::{Pattern, Policy};
use std::time::Duration;

const fn retry(base_s: u64, cap_s: u64, max_attempts: u32) -> Policy {
    Policy::Retry {
        base: Duration::from_secs(base_s),
        cap: Duration::from_secs(cap_s),
        max_attempts,
    }
}

/// The control plane is overloaded or briefly away: short waits, a few tries.
const API: Policy = retry(1, 60, 6);
/// Capacity frees as other work ends: long waits.
const CAPACITY: Policy = retry(10, 600, 8);
/// A node went away or was drained: the step runs again elsewhere.
const NODE: Policy = retry(5, 120, 4);
/// Registries and networks recover in seconds to minutes.
const NETWORK: Policy = retry(2, 120, 5);
/// Volumes detach and attach slowly.
const STORAGE: Policy = retry(15, 300, 4);
/// This machine's own failure: a few tries, then a person looks.
const LOCAL: Policy = retry(1, 30, 3);

/// Every known failure, in the order [`super::classify`] tries them.
pub static PATTERNS: &[Pattern] = &[
    Pattern {
        name: "user-exit",
        source: "the step's program",
        matches: &[
            StartsWith("exited with code "),
            StartsWith("error (exit code "),
        ],
        policy: Policy::Never,
        why: "the program itself exited non-zero (whatever its standard error says): its own retry policy decides",
    },
    Pattern {
        name: "oom-killed",
        source: "kubelet, container runtime",
        matches: &[Contains("oomkilled")],
        policy: Policy::Never,
        why: "the program used more memory than its limit: raise `resources.memory`; the same limit fails again",
    },
    Pattern {
        name: "step-deadline",
        source: "the step's timeout, Kubernetes `activeDeadlineSeconds`",
        matches: &[
            Reason("deadlineexceeded"),
            StartsWith("timed out after "),
            Contains("longer than the specified deadline"),
        ],
        policy: Policy::Never,
        why: "the step ran past the time its spec allows: a user limit, not a fault",
    },
    Pattern {
        name: "invalid-spec",
        source: "Kubernetes API (422 Invalid)",
        matches: &[Contains(" is invalid: ")],
        policy: Policy::Never,
        why: "the API refused the object itself: fix the spec",
    },
    Pattern {
        name: "image-not-found",
        source: "container registry",
        matches: &[
            Contains("manifest unknown"),
            Contains("repository does not exist"),
            Contains("pull access denied"),
            Contains("invalidimagename"),
        ],
        policy: Policy::Never,
        why: "the image or tag does not exist or may not be pulled: fix the image name or credentials",
    },
    Pattern {
        name: "command-not-found",
        source: "local runtime (start of the step's process)",
        matches: &[
            Contains("not found: it is not on path"),
            Contains("is not executable: "),
        ],
        policy: Policy::Never,
        why: "the step's command is missing or not executable on this machine: install it or fix the command",
    },
    Pattern {
        name: "k8s-too-many-requests",
        source: "Kubernetes API server, Airflow's API (429)",
        matches: &[Contains("toomanyrequests"), Contains("too many requests")],
        policy: API,
        why: "API priority and fairness or a rate limit shed the request: it succeeds once the load drops",
    },
    Pattern {
        name: "k8s-server-timeout",
        source: "Kubernetes API server (504)",
        matches: &[
            Contains("servertimeout"),
            Contains("unable to return a response in the time allotted"),
        ],
        policy: API,
        why: "the API server gave up waiting on its storage: transient",
    },
    Pattern {
        name: "k8s-server-error",
        source: "Kubernetes API server (500, 503), Airflow's API (5xx)",
        matches: &[
            Contains("an error on the server"),
            Contains("internal error occurred"),
            Contains("currently unable to handle the request"),
            Contains("serviceunavailable"),
        ],
        policy: API,
        why: "the API server or a webhook behind it failed or is restarting: transient",
    },
    Pattern {
        name: "connection-refused",
        source: "Kubernetes API, any service the step's pod calls",
        matches: &[Contains("connection refused")],
        policy: API,
        why: "nothing listens yet (a restarting API server or service): retry once it is back",
    },
    Pattern {
        name: "etcd-request-timeout",
        source: "etcd (through the API server)",
        matches: &[Contains("etcdserver: request timed out")],
        policy: API,
        why: "etcd did not commit in time (slow disk, leader election): transient",
    },
    Pattern {
        name: "etcd-leader-changed",
        source: "etcd (through the API server)",
        matches: &[
            Contains("etcdserver: leader changed"),
            Contains("etcdserver: no leader"),
        ],
        policy: API,
        why: "an etcd election is under way: the request succeeds against the new leader",
    },
    Pattern {
        name: "etcd-space-exceeded",
        source: "etcd (through the API server)",
        matches: &[Contains("database space exceeded")],
        policy: CAPACITY,
        why: "etcd reached its quota until compaction and defragmentation: an operator alarm, retried slowly",
    },
    Pattern {
        name: "quota-exceeded",
        source: "Kubernetes ResourceQuota admission",
        matches: &[Contains("exceeded quota"), Contains("exceededquota")],
        policy: CAPACITY,
        why: "the namespace's quota is taken by other running work: room frees as it ends",
    },
    Pattern {
        name: "insufficient-resources",
        source: "kube-scheduler",
        matches: &[
            Contains("insufficient cpu"),
            Contains("insufficient memory"),
            Contains("insufficient nvidia.com/gpu"),
            Contains("insufficient ephemeral-storage"),
            Contains("insufficient pods"),
        ],
        policy: CAPACITY,
        why: "no node has the requested room now: it frees as other pods end or the cluster scales up",
    },
    Pattern {
        name: "node-taint",
        source: "kube-scheduler, node lifecycle controller",
        matches: &[
            Contains("had untolerated taint"),
            Contains("node(s) had taint"),
            Contains("node.kubernetes.io/unreachable"),
            Contains("node.kubernetes.io/not-ready"),
        ],
        policy: NODE,
        why: "nodes are tainted unreachable, not ready or under pressure: the taints lift or the pod lands elsewhere",
    },
    Pattern {
        name: "preempted",
        source: "kube-scheduler, kubelet",
        matches: &[Contains("preempted")],
        policy: CAPACITY,
        why: "a higher-priority pod took the node: the step runs again when room frees",
    },
    Pattern {
        name: "failed-scheduling",
        source: "kube-scheduler",
        matches: &[
            Contains("failedscheduling"),
            Contains("nodes are available"),
        ],
        policy: CAPACITY,
        why: "no node fits now for another reason (affinity, ports, volumes' zones): often freed by scale-up",
    },
    Pattern {
        name: "node-lost",
        source: "node lifecycle controller",
        matches: &[Contains("nodelost"), Contains("is unresponsive")],
        policy: NODE,
        why: "the node stopped reporting and its pods were lost: the step runs again on another node",
    },
    Pattern {
        name: "node-shutdown",
        source: "kubelet (graceful node shutdown)",
        matches: &[Contains("imminent node shutdown")],
        policy: NODE,
        why: "the node was shut down under the pod (maintenance, spot reclaim)",
    },
    Pattern {
        name: "node-pressure-eviction",
        source: "kubelet (node-pressure eviction)",
        matches: &[Contains("the node was low on resource"), Reason("evicted")],
        policy: NODE,
        why: "the kubelet evicted the pod to save its node; the step itself may be fine elsewhere",
    },
    Pattern {
        name: "image-pull",
        source: "kubelet, container registry",
        matches: &[
            Contains("errimagepull"),
            Contains("imagepullbackoff"),
            Contains("failed to pull image"),
        ],
        policy: NETWORK,
        why: "the image exists but the pull failed (registry rate limit or outage, network): transient",
    },
    Pattern {
        name: "connection-reset",
        source: "network",
        matches: &[
            Contains("connection reset by peer"),
            Contains("broken pipe"),
        ],
        policy: NETWORK,
        why: "a peer or a load balancer dropped the connection: transient",
    },
    Pattern {
        name: "io-timeout",
        source: "network",
        matches: &[Contains("i/o timeout"), Contains("tls handshake timeout")],
        policy: NETWORK,
        why: "a network round trip timed out: transient",
    },
    Pattern {
        name: "no-route",
        source: "network",
        matches: &[
            Contains("no route to host"),
            Contains("network is unreachable"),
        ],
        policy: NETWORK,
        why: "a route is missing while the network converges (node start, CNI restart): transient",
    },
    Pattern {
        name: "dns-failure",
        source: "cluster DNS, resolver",
        matches: &[
            Contains("temporary failure in name resolution"),
            Contains("server misbehaving"),
        ],
        policy: NETWORK,
        why: "the resolver could not answer now (the name itself may be fine): transient",
    },
    Pattern {
        name: "failed-mount",
        source: "kubelet (volumes)",
        matches: &[
            Contains("failedmount"),
            Contains("unable to attach or mount volumes"),
            Contains("mountvolume.setup failed"),
        ],
        policy: STORAGE,
        why: "a volume could not be mounted yet (slow attach, a CSI driver restarting): transient",
    },
    Pattern {
        name: "failed-attach",
        source: "attach/detach controller",
        matches: &[
            Contains("failedattachvolume"),
            Contains("attachvolume.attach failed"),
            Contains("multi-attach error"),
        ],
        policy: STORAGE,
        why: "the volume is still attached elsewhere or the cloud API failed: it detaches in minutes",
    },
    Pattern {
        name: "disk-full",
        source: "node or the local runtime's state directory",
        matches: &[Contains("no space left on device")],
        policy: STORAGE,
        why: "the machine's disk is full (not the program's own exit): space frees as logs and images are cleaned",
    },
    Pattern {
        name: "container-runtime",
        source: "container runtime (CRI)",
        matches: &[
            Contains("failed to create pod sandbox"),
            Contains("failed to create containerd task"),
            Contains("failed to reserve container name"),
            Contains("rpc error: code = unavailable"),
            Contains("rpc error: code = deadlineexceeded"),
        ],
        policy: NODE,
        why: "the node's container runtime failed or timed out: transient",
    },
    Pattern {
        name: "local-runtime",
        source: "local runtime (start of a step, its files)",
        matches: &[
            Contains("cannot start `"),
            Contains("cannot wait for `"),
            Contains("cannot create the step's output pipes"),
            Contains("cannot create the work directory"),
            Contains("cannot create a fresh directory under"),
            Contains("cannot create log file"),
            Contains("cannot write log file"),
        ],
        policy: LOCAL,
        why: "the local runtime could not start or record the step (process or file limits, I/O): the runtime's resume re-runs it",
    },
];
