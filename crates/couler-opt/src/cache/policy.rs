//! Cache policies behind one trait, [`Policy`]: each scores cached files and the replay evicts
//! the lowest score first until the incoming file fits. A policy that may *bypass* is asked
//! too whether the incoming file is worth more than what it would push out (Algorithm 2's
//! comparison); if not, the incoming file is not cached and nothing is evicted.
//!
//! - `none`: caches nothing; `all`: unbounded, caches everything (the ceiling).
//! - `fifo`: evicts the oldest insertion. `lru`: the least recently read or written.
//! - `lrc`: least reference count: the file with the fewest unread consumers (LRU on ties).
//! - `gds`: GreedyDual-Size: H = L + recompute seconds / bytes, L inflating to each victim's H.
//! - `belady`: offline; knows the schedule; evicts the file read furthest in the future and
//!   bypasses a file read later than everything cached. The bound on hit ratio.
//! - `couler-paper`: the paper's I(u) (Eq. 3-6) read literally, see [`paper_score`].
//! - `couler`: I(u) with normalised terms, see [`couler_score`].

use super::model::SimInput;

/// The cache state a policy scores against.
pub struct CacheState<'a> {
    pub input: &'a SimInput,
    /// Capacity in bytes (`f64::INFINITY` for unbounded).
    pub budget: f64,
    pub used: f64,
    pub cached: Vec<bool>,
    /// Position of the current event in the replay.
    pub clock: u64,
    pub inserted_at: Vec<u64>,
    pub last_use: Vec<u64>,
    /// Consumers of each file that have not read it yet.
    pub remaining: Vec<usize>,
    /// Event position of each file's next read (`u64::MAX`: never read again). Only the
    /// offline policy may look at it.
    pub next_read: Vec<u64>,
    pub started: Vec<bool>,
    /// Files written and then evicted or never cached (the replay never re-admits a file), and
    /// files larger than the budget: reading one re-runs its producer.
    pub lost: Vec<bool>,
    /// Parents of each task that have not finished yet.
    pub unfinished_parents: Vec<usize>,
    /// Mean task runtime: the unit seconds are normalised by.
    pub mean_runtime: f64,
    /// Scratch for graph walks: a task was visited in the walk numbered `stamp`.
    pub(crate) seen: Vec<u64>,
    pub(crate) stamp: u64,
    pub(crate) queue: Vec<(usize, u32)>,
}

impl<'a> CacheState<'a> {
    /// The state before anything ran: nothing cached, every read pending.
    pub fn initial(input: &'a SimInput, budget: f64) -> CacheState<'a> {
        let n = input.tasks.len();
        let mean = input.tasks.iter().map(|t| t.runtime).sum::<f64>() / n.max(1) as f64;
        CacheState {
            input,
            budget,
            used: 0.0,
            cached: vec![false; input.files.len()],
            clock: 0,
            inserted_at: vec![0; input.files.len()],
            last_use: vec![0; input.files.len()],
            remaining: input.files.iter().map(|f| f.consumers.len()).collect(),
            next_read: vec![u64::MAX; input.files.len()],
            started: vec![false; n],
            lost: input.files.iter().map(|f| f.size > budget).collect(),
            unfinished_parents: input.tasks.iter().map(|t| t.parents.len()).collect(),
            mean_runtime: if mean > 0.0 { mean } else { 1.0 },
            seen: vec![0; n],
            stamp: 0,
            queue: Vec::new(),
        }
    }

    /// Starts a new walk: forgets which tasks were seen.
    pub(crate) fn new_walk(&mut self) {
        self.stamp += 1;
    }

    /// Seconds to rebuild `file` now: its producer's runtime plus, for every input of a
    /// rebuilt task that is not cached, its producer's, recursively, each task once per walk
    /// (call [`Self::new_walk`] to start one), at most `depth` producers deep. Returns the
    /// seconds and adds the rebuilt tasks to `out` when given.
    pub(crate) fn rebuild_secs(
        &mut self,
        file: usize,
        depth: u32,
        mut out: Option<&mut Vec<usize>>,
    ) -> f64 {
        let input = self.input;
        let p = input.files[file].producer;
        if self.seen[p] == self.stamp {
            return 0.0;
        }
        self.seen[p] = self.stamp;
        self.queue.clear();
        self.queue.push((p, 1));
        let mut secs = 0.0;
        let mut k = 0;
        while k < self.queue.len() {
            let (t, d) = self.queue[k];
            k += 1;
            secs += input.tasks[t].runtime;
            if let Some(out) = out.as_deref_mut() {
                out.push(t);
            }
            if d >= depth {
                continue;
            }
            for &g in &input.reads[t] {
                let q = input.files[g].producer;
                if !self.cached[g] && self.seen[q] != self.stamp {
                    self.seen[q] = self.stamp;
                    self.queue.push((q, d + 1));
                }
            }
        }
        secs
    }
}

/// A cache policy.
pub trait Policy {
    /// The name shown in reports (`lru`, `couler`, ...).
    fn name(&self) -> &'static str;
    /// Whether an incoming file scoring below what it would push out is left uncached.
    fn may_bypass(&self) -> bool {
        false
    }
    /// The eviction score of `file` (cached, or incoming): the lowest is evicted first.
    fn score(&mut self, file: usize, state: &mut CacheState<'_>) -> f64;
    /// `file` was cached.
    fn on_insert(&mut self, _file: usize, _state: &CacheState<'_>) {}
    /// `file` was read from the cache.
    fn on_hit(&mut self, _file: usize, _state: &CacheState<'_>) {}
    /// `file` was evicted with `score`.
    fn on_evict(&mut self, _file: usize, _score: f64) {}
}

/// The policies, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKind {
    None,
    All,
    Fifo,
    Lru,
    Lrc,
    Gds,
    Belady,
    CoulerPaper,
    Couler,
}

impl PolicyKind {
    /// Every policy, in report order.
    pub const ALL: [PolicyKind; 9] = [
        PolicyKind::None,
        PolicyKind::All,
        PolicyKind::Fifo,
        PolicyKind::Lru,
        PolicyKind::Lrc,
        PolicyKind::Gds,
        PolicyKind::Belady,
        PolicyKind::CoulerPaper,
        PolicyKind::Couler,
    ];
    /// The practical (online) baselines the couler policy must beat.
    pub const PRACTICAL: [PolicyKind; 4] = [
        PolicyKind::Fifo,
        PolicyKind::Lru,
        PolicyKind::Lrc,
        PolicyKind::Gds,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::None => "none",
            PolicyKind::All => "all",
            PolicyKind::Fifo => "fifo",
            PolicyKind::Lru => "lru",
            PolicyKind::Lrc => "lrc",
            PolicyKind::Gds => "gds",
            PolicyKind::Belady => "belady",
            PolicyKind::CoulerPaper => "couler-paper",
            PolicyKind::Couler => "couler",
        }
    }

    /// Parses a name as [`Self::name`] prints it.
    pub fn parse(s: &str) -> Option<PolicyKind> {
        PolicyKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// A fresh policy of this kind.
    pub fn build(self, params: CoulerParams) -> Box<dyn Policy> {
        match self {
            PolicyKind::None | PolicyKind::All => Box::new(Keep(self.name())),
            PolicyKind::Fifo => Box::new(Fifo),
            PolicyKind::Lru => Box::new(Lru),
            PolicyKind::Lrc => Box::new(Lrc),
            PolicyKind::Gds => Box::new(Gds::default()),
            PolicyKind::Belady => Box::new(Belady),
            PolicyKind::CoulerPaper => Box::new(CoulerPaper(params)),
            PolicyKind::Couler => Box::new(Couler(params)),
        }
    }
}

/// The weights of I(u) and the subgraph depth n.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CoulerParams {
    pub alpha: f64,
    pub beta: f64,
    /// Layers of predecessors (for L) and successors (for F) considered.
    pub depth: u32,
}

impl Default for CoulerParams {
    /// The paper's α = 1.5, β = 1; n = 3.
    fn default() -> Self {
        CoulerParams {
            alpha: 1.5,
            beta: 1.0,
            depth: 3,
        }
    }
}

/// `none` and `all`: the budget decides (0 or unbounded); scores never matter.
struct Keep(&'static str);
impl Policy for Keep {
    fn name(&self) -> &'static str {
        self.0
    }
    fn score(&mut self, _: usize, _: &mut CacheState<'_>) -> f64 {
        0.0
    }
}

struct Fifo;
impl Policy for Fifo {
    fn name(&self) -> &'static str {
        "fifo"
    }
    fn score(&mut self, f: usize, s: &mut CacheState<'_>) -> f64 {
        if s.cached[f] {
            s.inserted_at[f] as f64
        } else {
            s.clock as f64
        }
    }
}

struct Lru;
impl Policy for Lru {
    fn name(&self) -> &'static str {
        "lru"
    }
    fn score(&mut self, f: usize, s: &mut CacheState<'_>) -> f64 {
        if s.cached[f] {
            s.last_use[f] as f64
        } else {
            s.clock as f64
        }
    }
}

/// Fewest unread consumers first; among equals the least recently used (the recency is a
/// fraction below 1, so it only breaks ties).
struct Lrc;
impl Policy for Lrc {
    fn name(&self) -> &'static str {
        "lrc"
    }
    fn score(&mut self, f: usize, s: &mut CacheState<'_>) -> f64 {
        let used = if s.cached[f] { s.last_use[f] } else { s.clock };
        s.remaining[f] as f64 + used as f64 / (s.clock as f64 + 2.0)
    }
}

/// GreedyDual-Size with the producer's runtime as the cost of a miss.
#[derive(Default)]
struct Gds {
    inflation: f64,
    h: std::collections::HashMap<usize, f64>,
}
impl Gds {
    fn fresh(&self, f: usize, s: &CacheState<'_>) -> f64 {
        let file = &s.input.files[f];
        self.inflation + s.input.tasks[file.producer].runtime / file.size.max(1.0)
    }
}
impl Policy for Gds {
    fn name(&self) -> &'static str {
        "gds"
    }
    fn score(&mut self, f: usize, s: &mut CacheState<'_>) -> f64 {
        match self.h.get(&f) {
            Some(&h) if s.cached[f] => h,
            _ => self.fresh(f, s),
        }
    }
    fn on_insert(&mut self, f: usize, s: &CacheState<'_>) {
        let h = self.fresh(f, s);
        self.h.insert(f, h);
    }
    fn on_hit(&mut self, f: usize, s: &CacheState<'_>) {
        self.on_insert(f, s);
    }
    fn on_evict(&mut self, f: usize, score: f64) {
        self.inflation = self.inflation.max(score);
        self.h.remove(&f);
    }
}

/// Furthest next read first; with bypass.
struct Belady;
impl Policy for Belady {
    fn name(&self) -> &'static str {
        "belady"
    }
    fn may_bypass(&self) -> bool {
        true
    }
    fn score(&mut self, f: usize, s: &mut CacheState<'_>) -> f64 {
        -(s.next_read[f] as f64)
    }
}

/// Degree of a task in the whole DAG (parents + children).
fn degree(input: &SimInput, t: usize) -> f64 {
    (input.tasks[t].parents.len() + input.children[t].len()) as f64
}

/// The paper's I(u) read literally, for artifact `u` written by task `p`:
///
/// - L(u) (Eq. 3) = Σ_i Σ_j A_ij (w_i + d_i·d_j) over G_p, the producer and its ancestors up
///   to n layers back, truncated where the connecting file is cached; w = runtime in seconds,
///   d = degree in the whole DAG.
/// - F(u) (Eq. 4-5) = Σ_{i ∈ G_s} r_i/κ_ui · (ζ_ui + 1) over G_s, p's successors up to n
///   layers, κ = hops from p, r_i = 1 while task i has not started, ζ = diag(d) − A, so
///   ζ_ui + 1 = 1 − A_ui: 0 for p's own children, 1 for later successors.
/// - V(u) = bytes, so e^(−V) is 0 for any real file.
/// - I(u) = α·log(1 + L) + β·F² − e^(−V).
pub fn paper_score(params: CoulerParams, f: usize, s: &mut CacheState<'_>) -> f64 {
    let input = s.input;
    let mut gp = Vec::new();
    s.new_walk();
    s.rebuild_secs(f, params.depth, Some(&mut gp));
    let mut l = 0.0;
    for &j in &gp {
        for &i in &input.tasks[j].parents {
            if s.seen[i] == s.stamp {
                l += input.tasks[i].runtime + degree(input, i) * degree(input, j);
            }
        }
    }
    // Successor walk.
    let p = input.files[f].producer;
    s.new_walk();
    s.seen[p] = s.stamp;
    s.queue.clear();
    s.queue.push((p, 0));
    let mut fval = 0.0;
    let mut k = 0;
    while k < s.queue.len() {
        let (t, d) = s.queue[k];
        k += 1;
        if d >= 2 && !s.started[t] {
            fval += 1.0 / d as f64;
        }
        if d >= params.depth {
            continue;
        }
        for &c in &input.children[t] {
            if s.seen[c] != s.stamp {
                s.seen[c] = s.stamp;
                s.queue.push((c, d + 1));
            }
        }
    }
    let v = input.files[f].size;
    params.alpha * (1.0 + l).ln() + params.beta * fval * fval - (-v).exp()
}

/// Couler's I(u) with normalised terms (see `docs/caching.md`):
///
/// - L̂ = seconds to rebuild u now (producer + uncached ancestors, n layers) / mean task
///   runtime: a reconstruction cost in units of an average task.
/// - V̂ = bytes of u / cache budget: the share of the cache it takes, in (0, 1].
/// - R̂ = Σ over the reads to come that would re-run u's producer if u were gone, each
///   weighted 1 / (1 + the reader's unfinished parents) (how soon it can come; a reader waiting
///   on nothing else counts 1). Those reads are (a) u's consumers that have not started and
///   (b) the readers of *lost* files downstream of u (evicted, never cached, or larger than the
///   budget), down paths of lost files at most n tasks deep: each such read rebuilds the lost
///   file, whose rebuild re-runs a consumer of u, which reads u again. A consumer that also
///   reads a lost *sibling* of u (same producer) is left out: its reads re-run the producer
///   anyway, so keeping u saves it nothing.
/// - D = R̂·L̂ / V̂: recompute seconds avoided per share of cache, the quantity a byte budget
///   should be spent on.
/// - F̂ = R̂ / (the number of those reads): how soon u is reused on average, in [0, 1]; 0
///   when nothing will read u again.
/// - I(u) = α·log(1 + D) + β·F̂² − e^(−V̂).
pub fn couler_score(params: CoulerParams, f: usize, s: &mut CacheState<'_>) -> f64 {
    let input = s.input;
    let file = &input.files[f];
    let v = if s.budget.is_finite() && s.budget > 0.0 {
        (file.size / s.budget).max(1e-12)
    } else {
        1e-12
    };
    let (soon, reads) = reads_to_come(params.depth, f, s);
    let (d, soon) = if reads == 0 {
        (0.0, 0.0)
    } else {
        s.new_walk();
        let l = s.rebuild_secs(f, params.depth, None) / s.mean_runtime;
        (soon * l / v, soon / reads as f64)
    };
    params.alpha * (1.0 + d).ln() + params.beta * soon * soon - (-v).exp()
}

/// R̂ of [`couler_score`] and the number of reads it sums: a walk from `f`'s consumers down
/// outputs that are lost, `depth` tasks deep, each task once.
fn reads_to_come(depth: u32, f: usize, s: &mut CacheState<'_>) -> (f64, usize) {
    let input = s.input;
    let producer = input.files[f].producer;
    let mut soon = 0.0;
    let mut reads = 0;
    s.new_walk();
    s.queue.clear();
    for &c in &input.files[f].consumers {
        let sibling_lost = input.reads[c]
            .iter()
            .any(|&g| g != f && s.lost[g] && input.files[g].producer == producer);
        if !sibling_lost && s.seen[c] != s.stamp {
            s.seen[c] = s.stamp;
            s.queue.push((c, 1));
        }
    }
    let mut k = 0;
    while k < s.queue.len() {
        let (t, d) = s.queue[k];
        k += 1;
        if !s.started[t] {
            soon += 1.0 / (1.0 + s.unfinished_parents[t] as f64);
            reads += 1;
        }
        if d >= depth {
            continue;
        }
        for &g in &input.writes[t] {
            if !s.lost[g] {
                continue;
            }
            for &reader in &input.files[g].consumers {
                if s.seen[reader] != s.stamp {
                    s.seen[reader] = s.stamp;
                    s.queue.push((reader, d + 1));
                }
            }
        }
    }
    (soon, reads)
}

struct CoulerPaper(CoulerParams);
impl Policy for CoulerPaper {
    fn name(&self) -> &'static str {
        "couler-paper"
    }
    fn may_bypass(&self) -> bool {
        true
    }
    fn score(&mut self, f: usize, s: &mut CacheState<'_>) -> f64 {
        paper_score(self.0, f, s)
    }
}

struct Couler(CoulerParams);
impl Policy for Couler {
    fn name(&self) -> &'static str {
        "couler"
    }
    fn may_bypass(&self) -> bool {
        true
    }
    fn score(&mut self, f: usize, s: &mut CacheState<'_>) -> f64 {
        couler_score(self.0, f, s)
    }
}
