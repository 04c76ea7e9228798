//! The partitioner: a DAG with per-step weights (emitted bytes, steps, pods) cut into parts that
//! each fit a budget, with every dependency between parts pointing forward.
//!
//! Two methods, both linear in steps + edges:
//! - [`Method::DfsGreedy`]: the paper's Algorithm 3, a depth-first walk that adds each vertex to
//!   the current candidate part and closes the part when the vertex does not fit. Pure DFS
//!   preorder is not a topological order (on a diamond `a→b, a→c, c→b` it visits `b` before
//!   `c`), so cutting it can make parts depend on each other in a circle. We keep the walk and
//!   make one change: a vertex is entered from its *last* visited predecessor, so the visit
//!   order is a topological order and every part boundary is a forward cut.
//! - [`Method::Packed`] (the default): next-fit packing of several topological orders (level
//!   order, Kahn's FIFO order, the DFS order above), keeping the result that is best in this
//!   order: fewest parts, then smallest depth of the graph of parts, then fewest edges cut.
//!   Next-fit is optimal for a fixed order (no segmentation of that sequence has fewer parts), so
//!   the portfolio is never worse than DFS greedy on the number of parts.

use couler_ir::Graph;
use std::fmt;

/// The measured dimensions, in this order: emitted bytes, steps, pods.
pub const DIMENSIONS: [&str; 3] = ["bytes", "steps", "pods"];

/// A size in every dimension: `[bytes, steps, pods]`.
pub type Size = [u64; 3];

fn add(a: Size, b: Size) -> Size {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn fits(s: Size, budget: &Budget) -> bool {
    (0..3).all(|d| budget.limits[d].is_none_or(|l| s[d] <= l))
}

/// The most one part may hold in each dimension (`None`: no limit in that dimension).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Budget {
    pub limits: [Option<u64>; 3],
}

impl Budget {
    pub fn new(max_bytes: Option<u64>, max_steps: Option<u64>, max_pods: Option<u64>) -> Budget {
        Budget {
            limits: [max_bytes, max_steps, max_pods],
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = (0..3)
            .filter_map(|d| self.limits[d].map(|l| format!("{l} {}", DIMENSIONS[d])))
            .collect();
        if parts.is_empty() {
            f.write_str("no limit")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// What is being split: the dependency graph, each step's size, and the fixed size of an empty
/// part (an emitted document's header and entry template).
#[derive(Clone, Debug)]
pub struct Problem<'g> {
    pub graph: &'g Graph,
    pub weights: Vec<Size>,
    pub overhead: Size,
}

/// How to split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    /// The paper's Algorithm 3 (DFS greedy), entering a vertex from its last predecessor.
    DfsGreedy,
    /// Next-fit over several topological orders, best by (parts, depth, edges cut).
    #[default]
    Packed,
}

impl Method {
    pub const ALL: [Method; 2] = [Method::DfsGreedy, Method::Packed];

    pub fn name(self) -> &'static str {
        match self {
            Method::DfsGreedy => "dfs-greedy",
            Method::Packed => "packed",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == s)
    }
}

/// Why a graph cannot be split under a budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionError {
    /// One step alone (plus the part overhead) is over the budget.
    StepTooBig { step: usize, size: Size },
    /// The graph has a cycle (validation rejects this before splitting).
    Cycle(Vec<usize>),
    /// The weights do not match the graph.
    BadInput(String),
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionError::StepTooBig { step, size } => write!(
                f,
                "step #{step} alone is over the budget (with the part's fixed overhead: {} bytes, {} steps, {} pods); raise the budget",
                size[0], size[1], size[2]
            ),
            PartitionError::Cycle(c) => write!(f, "the steps form a cycle: {c:?}"),
            PartitionError::BadInput(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for PartitionError {}

/// An assignment of every step to a part; parts are numbered so that every dependency between
/// parts goes from a lower number to a higher one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// `part_of[step]`.
    pub part_of: Vec<usize>,
    pub parts: usize,
}

/// Figures about a partition, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Size of each part, overhead included.
    pub sizes: Vec<Size>,
    /// Edges whose ends are in different parts.
    pub edges_cut: usize,
    /// Parts on the longest dependency chain of the graph of parts.
    pub depth: usize,
    /// Dependencies between parts, `(from, to)`, sorted, no duplicates.
    pub part_edges: Vec<(usize, usize)>,
    /// No partition has fewer parts: the largest over dimensions of
    /// ceil(total / (limit − overhead)).
    pub lower_bound: usize,
}

impl Partition {
    /// The members of each part, in step order.
    pub fn members(&self) -> Vec<Vec<usize>> {
        let mut m = vec![Vec::new(); self.parts];
        for (i, &p) in self.part_of.iter().enumerate() {
            m[p].push(i);
        }
        m
    }

    /// Checks every invariant: each step in exactly one existing part, no part empty, every part
    /// within the budget, every edge inside a part or pointing forward (hence the graph of parts
    /// is acyclic). Returns the first violation.
    pub fn check(&self, problem: &Problem, budget: &Budget) -> Result<(), String> {
        let n = problem.graph.len();
        if self.part_of.len() != n {
            return Err(format!(
                "{} steps assigned, the graph has {n}",
                self.part_of.len()
            ));
        }
        let mut sizes = vec![problem.overhead; self.parts];
        let mut count = vec![0usize; self.parts];
        for (i, &p) in self.part_of.iter().enumerate() {
            if p >= self.parts {
                return Err(format!(
                    "step #{i} is in part {p}, but there are {} parts",
                    self.parts
                ));
            }
            sizes[p] = add(sizes[p], problem.weights[i]);
            count[p] += 1;
        }
        if let Some(p) = count.iter().position(|&c| c == 0) {
            return Err(format!("part {p} is empty"));
        }
        if let Some(p) = sizes.iter().position(|s| !fits(*s, budget)) {
            return Err(format!(
                "part {p} is {:?} ([bytes, steps, pods]), over the budget ({budget})",
                sizes[p]
            ));
        }
        for (from, to) in problem.graph.edges() {
            if self.part_of[from] > self.part_of[to] {
                return Err(format!(
                    "edge #{from} → #{to} goes back from part {} to part {}",
                    self.part_of[from], self.part_of[to]
                ));
            }
        }
        Ok(())
    }

    /// Sizes, cut edges, depth and the lower bound.
    pub fn stats(&self, problem: &Problem, budget: &Budget) -> Stats {
        let mut sizes = vec![problem.overhead; self.parts];
        for (i, &p) in self.part_of.iter().enumerate() {
            sizes[p] = add(sizes[p], problem.weights[i]);
        }
        let mut part_edges = Vec::new();
        let mut edges_cut = 0;
        for (from, to) in problem.graph.edges() {
            let (a, b) = (self.part_of[from], self.part_of[to]);
            if a != b {
                edges_cut += 1;
                part_edges.push((a, b));
            }
        }
        part_edges.sort_unstable();
        part_edges.dedup();
        // Parts are numbered in a topological order of the graph of parts.
        let mut depth_at = vec![1usize; self.parts];
        for &(a, b) in &part_edges {
            depth_at[b] = depth_at[b].max(depth_at[a] + 1);
        }
        Stats {
            sizes,
            edges_cut,
            depth: depth_at.into_iter().max().unwrap_or(0),
            part_edges,
            lower_bound: lower_bound(problem, budget),
        }
    }
}

/// ceil(total / (limit − overhead)), the largest over the limited dimensions (at least 1 when
/// there is any step).
pub fn lower_bound(problem: &Problem, budget: &Budget) -> usize {
    if problem.weights.is_empty() {
        return 0;
    }
    let total = problem.weights.iter().fold([0; 3], |a, w| add(a, *w));
    let mut bound = 1u64;
    for ((limit, total), overhead) in budget.limits.iter().zip(total).zip(problem.overhead) {
        if let Some(l) = limit {
            let room = l.saturating_sub(overhead).max(1);
            bound = bound.max(total.div_ceil(room));
        }
    }
    bound as usize
}

/// Splits `problem` under `budget` with `method`.
pub fn partition(
    problem: &Problem,
    budget: &Budget,
    method: Method,
) -> Result<Partition, PartitionError> {
    let g = problem.graph;
    if problem.weights.len() != g.len() {
        return Err(PartitionError::BadInput(format!(
            "{} weights for {} steps",
            problem.weights.len(),
            g.len()
        )));
    }
    for (i, w) in problem.weights.iter().enumerate() {
        let alone = add(*w, problem.overhead);
        if !fits(alone, budget) {
            return Err(PartitionError::StepTooBig {
                step: i,
                size: alone,
            });
        }
    }
    let result = match method {
        Method::DfsGreedy => next_fit(problem, budget, &dfs_order(g)),
        Method::Packed => {
            let kahn = g
                .topological_order()
                .map_err(|c| PartitionError::Cycle(c.steps))?;
            let orders = [level_order(g, &kahn), kahn, dfs_order(g)];
            let mut best: Option<(Partition, (usize, usize, usize))> = None;
            for order in &orders {
                let p = next_fit(problem, budget, order);
                let s = p.stats(problem, budget);
                let score = (p.parts, s.depth, s.edges_cut);
                if best.as_ref().is_none_or(|(_, b)| score < *b) {
                    best = Some((p, score));
                }
            }
            best.map(|(p, _)| p).unwrap_or(Partition {
                part_of: Vec::new(),
                parts: 0,
            })
        }
    };
    if result.part_of.len() != g.len() {
        // Only a cycle leaves steps unvisited.
        return Err(PartitionError::Cycle(
            g.topological_order()
                .err()
                .map(|c| c.steps)
                .unwrap_or_default(),
        ));
    }
    debug_assert_eq!(result.check(problem, budget), Ok(()));
    Ok(result)
}

/// Cuts `order` (a topological order) into the fewest consecutive runs that fit the budget.
fn next_fit(problem: &Problem, budget: &Budget, order: &[usize]) -> Partition {
    let mut part_of = vec![usize::MAX; order.len()];
    let mut part = 0;
    let mut current = problem.overhead;
    let mut empty = true;
    for &i in order {
        let with = add(current, problem.weights[i]);
        if !empty && !fits(with, budget) {
            part += 1;
            current = add(problem.overhead, problem.weights[i]);
        } else {
            current = with;
        }
        empty = false;
        part_of[i] = part;
    }
    let parts = if order.is_empty() { 0 } else { part + 1 };
    if part_of.contains(&usize::MAX) {
        part_of.clear();
    }
    Partition { part_of, parts }
}

/// The DFS walk of Algorithm 3 (roots in step order, successors in order), entering a vertex
/// only once all its predecessors are visited, so that the order is topological. Iterative.
fn dfs_order(g: &Graph) -> Vec<usize> {
    let n = g.len();
    let mut waiting: Vec<usize> = (0..n).map(|i| g.predecessors(i).len()).collect();
    let mut order = Vec::with_capacity(n);
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if waiting[root] != 0 || order.len() == n {
            continue;
        }
        // Mark roots as entered so that they are not entered twice.
        waiting[root] = usize::MAX;
        order.push(root);
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let (v, next) = *top;
            let succ = g.successors(v);
            if next == succ.len() {
                stack.pop();
                continue;
            }
            top.1 += 1;
            let s = succ[next];
            waiting[s] -= 1;
            if waiting[s] == 0 {
                waiting[s] = usize::MAX;
                order.push(s);
                stack.push((s, 0));
            }
        }
    }
    order
}

/// Steps by level (longest path from a source), ties in Kahn order.
fn level_order(g: &Graph, topo: &[usize]) -> Vec<usize> {
    let mut level = vec![0usize; g.len()];
    for &i in topo {
        level[i] = g
            .predecessors(i)
            .iter()
            .map(|&p| level[p] + 1)
            .max()
            .unwrap_or(0);
    }
    let mut order = topo.to_vec();
    order.sort_by_key(|&i| level[i]); // stable: Kahn order within a level
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(usize, usize)], n: usize) -> Graph {
        Graph::from_edges(n, edges)
    }

    #[test]
    fn dfs_order_is_topological_on_the_diamond_that_breaks_plain_dfs() {
        // Plain DFS preorder from 0 visits 1 before 2, though 2 → 1.
        let g = graph(&[(0, 1), (0, 2), (2, 1)], 3);
        assert_eq!(dfs_order(&g), vec![0, 2, 1]);
    }

    #[test]
    fn steps_budget_on_a_chain_meets_the_lower_bound() {
        let n = 10;
        let edges: Vec<_> = (1..n).map(|i| (i - 1, i)).collect();
        let g = graph(&edges, n);
        let problem = Problem {
            graph: &g,
            weights: vec![[10, 1, 1]; n],
            overhead: [5, 0, 0],
        };
        let budget = Budget::new(None, Some(3), None);
        for m in Method::ALL {
            let p = partition(&problem, &budget, m).unwrap();
            assert_eq!(p.check(&problem, &budget), Ok(()));
            let s = p.stats(&problem, &budget);
            assert_eq!((p.parts, s.lower_bound, s.depth, s.edges_cut), (4, 4, 4, 3));
            assert_eq!(s.sizes[0], [35, 3, 3]);
        }
    }

    #[test]
    fn packed_keeps_independent_parts_parallel() {
        // Two chains of 4 under 4 steps a part: level order cuts both chains (depth 2); the
        // portfolio also tries DFS order, one chain a part (depth 1, nothing cut), and keeps it.
        let g = graph(&[(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (6, 7)], 8);
        let problem = Problem {
            graph: &g,
            weights: vec![[1, 1, 0]; 8],
            overhead: [0; 3],
        };
        let budget = Budget::new(None, Some(4), None);
        let dfs = partition(&problem, &budget, Method::DfsGreedy).unwrap();
        let packed = partition(&problem, &budget, Method::Packed).unwrap();
        assert_eq!(dfs.parts, 2);
        assert_eq!(packed.parts, 2);
        assert_eq!(dfs.stats(&problem, &budget).depth, 1);
        let s = packed.stats(&problem, &budget);
        assert_eq!((s.depth, s.edges_cut), (1, 0));
    }

    #[test]
    fn a_step_over_the_budget_is_an_error_naming_it() {
        let g = graph(&[], 2);
        let problem = Problem {
            graph: &g,
            weights: vec![[10, 1, 1], [500, 1, 1]],
            overhead: [100, 0, 0],
        };
        let e = partition(
            &problem,
            &Budget::new(Some(550), None, None),
            Method::Packed,
        );
        assert_eq!(
            e,
            Err(PartitionError::StepTooBig {
                step: 1,
                size: [600, 1, 1]
            })
        );
    }

    #[test]
    fn the_checker_catches_backward_edges_and_overfull_parts() {
        let g = graph(&[(0, 1)], 2);
        let problem = Problem {
            graph: &g,
            weights: vec![[1, 1, 1]; 2],
            overhead: [0; 3],
        };
        let budget = Budget::new(None, Some(1), None);
        let back = Partition {
            part_of: vec![1, 0],
            parts: 2,
        };
        assert!(
            back.check(&problem, &budget)
                .unwrap_err()
                .contains("goes back")
        );
        let full = Partition {
            part_of: vec![0, 0],
            parts: 1,
        };
        assert!(
            full.check(&problem, &budget)
                .unwrap_err()
                .contains("over the budget")
        );
        let empty = Partition {
            part_of: vec![0, 0],
            parts: 2,
        };
        assert!(
            empty
                .check(&problem, &budget)
                .unwrap_err()
                .contains("empty")
        );
    }
}
