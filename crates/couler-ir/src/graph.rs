//! Graph queries over a workflow's steps: edges, topological order, levels, cycles, critical path.
//!
//! Node `i` is `workflow.steps[i]`. Edges come from explicit `dependsOn` (a group stands for all its
//! members) and from every reference to another step's output (implicit dependencies, paper
//! Code 2). The exit handler is not part of the graph. Every query is linear in steps + edges.

use crate::model::Workflow;
use foldhash::{HashMap, HashMapExt};
use std::collections::VecDeque;

/// The dependency graph of a workflow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    preds: Vec<Vec<usize>>,
    succs: Vec<Vec<usize>>,
}

impl Graph {
    /// Builds the graph; names that do not resolve are left out (validation reports them).
    pub fn new(wf: &Workflow) -> Graph {
        let index: HashMap<&str, usize> = wf
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let groups: HashMap<&str, Vec<usize>> = wf
            .groups
            .iter()
            .map(|g| {
                let members = g
                    .steps
                    .iter()
                    .filter_map(|m| index.get(m.as_str()).copied())
                    .collect();
                (g.name.as_str(), members)
            })
            .collect();
        let mut preds: Vec<Vec<usize>> = Vec::with_capacity(wf.steps.len());
        for (i, step) in wf.steps.iter().enumerate() {
            let mut deps = Vec::with_capacity(step.depends_on.len());
            for name in &step.depends_on {
                if let Some(&j) = index.get(name.as_str()) {
                    deps.push(j);
                } else if let Some(members) = groups.get(name.as_str()) {
                    deps.extend(members.iter().copied());
                }
            }
            for (_, r) in step.references() {
                if let Some(j) = r.step_name().and_then(|n| index.get(n)) {
                    deps.push(*j);
                }
            }
            // A loop's condition reads the step's own outputs: not an edge.
            deps.retain(|&j| j != i);
            deps.sort_unstable();
            deps.dedup();
            preds.push(deps);
        }
        Self::from_predecessors(preds)
    }

    /// A graph from predecessor lists (each sorted, no duplicates).
    pub fn from_predecessors(preds: Vec<Vec<usize>>) -> Graph {
        // Each list made at its size: a large workflow has millions of edges.
        let mut counts = vec![0usize; preds.len()];
        for &p in preds.iter().flatten() {
            counts[p] += 1;
        }
        let mut succs: Vec<Vec<usize>> = counts.into_iter().map(Vec::with_capacity).collect();
        for (i, ps) in preds.iter().enumerate() {
            for &p in ps {
                succs[p].push(i);
            }
        }
        Graph { preds, succs }
    }

    /// The graph of the exit handler's steps (`wf.on_exit`, in their order): their
    /// `dependsOn` and references among themselves; reads of main steps add no edge (those
    /// have all ended before the handler starts).
    pub fn of_exit_handler(wf: &Workflow) -> Graph {
        let mut handler = Workflow::new(wf.name.clone());
        handler.steps = wf.on_exit.clone();
        Graph::new(&handler)
    }

    /// A graph of `n` nodes from `(from, to)` edges (duplicates are dropped).
    pub fn from_edges(n: usize, edges: &[(usize, usize)]) -> Graph {
        let mut preds = vec![Vec::new(); n];
        for &(a, b) in edges {
            preds[b].push(a);
        }
        for p in &mut preds {
            p.sort_unstable();
            p.dedup();
        }
        Graph::from_predecessors(preds)
    }

    /// The number of nodes (steps).
    pub fn len(&self) -> usize {
        self.preds.len()
    }
    /// Whether the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.preds.is_empty()
    }
    /// The nodes node `i` depends on, sorted.
    pub fn predecessors(&self, i: usize) -> &[usize] {
        &self.preds[i]
    }
    /// The nodes that depend on node `i`.
    pub fn successors(&self, i: usize) -> &[usize] {
        &self.succs[i]
    }
    /// The number of edges.
    pub fn edge_count(&self) -> usize {
        self.preds.iter().map(Vec::len).sum()
    }
    /// All edges `(from, to)`, sorted by `to` then `from`.
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.preds
            .iter()
            .enumerate()
            .flat_map(|(to, ps)| ps.iter().map(move |&from| (from, to)))
    }
    /// The nodes with no predecessor, in order.
    pub fn sources(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(|&i| self.preds[i].is_empty())
    }
    /// The nodes with no successor, in order.
    pub fn sinks(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(|&i| self.succs[i].is_empty())
    }

    /// Kahn's algorithm, ties broken by step order; on a cycle, returns one cycle instead.
    pub fn topological_order(&self) -> Result<Vec<usize>, Cycle> {
        let mut indegree: Vec<usize> = self.preds.iter().map(Vec::len).collect();
        let mut queue: VecDeque<usize> = (0..self.len()).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(i) = queue.pop_front() {
            order.push(i);
            for &s in &self.succs[i] {
                indegree[s] -= 1;
                if indegree[s] == 0 {
                    queue.push_back(s);
                }
            }
        }
        if order.len() == self.len() {
            return Ok(order);
        }
        // Every node left has a predecessor that is also left: walk back until one repeats.
        let start = (0..self.len()).find(|&i| indegree[i] > 0).unwrap_or(0);
        let mut seen_at: HashMap<usize, usize> = HashMap::new();
        let mut walk = Vec::new();
        let mut at = start;
        loop {
            if let Some(&pos) = seen_at.get(&at) {
                let mut cycle: Vec<usize> = walk[pos..].to_vec();
                cycle.reverse(); // the walk went backwards along edges
                return Err(Cycle { steps: cycle });
            }
            seen_at.insert(at, walk.len());
            walk.push(at);
            at = match self.preds[at].iter().find(|&&p| indegree[p] > 0) {
                Some(&p) => p,
                None => return Err(Cycle { steps: walk }),
            };
        }
    }

    /// Each step's level: 0 for sources, else one more than its deepest predecessor.
    pub fn levels(&self) -> Result<Vec<usize>, Cycle> {
        let order = self.topological_order()?;
        let mut level = vec![0usize; self.len()];
        for &i in &order {
            level[i] = self.preds[i]
                .iter()
                .map(|&p| level[p] + 1)
                .max()
                .unwrap_or(0);
        }
        Ok(level)
    }

    /// The path whose summed `cost` is largest, and that sum (the make-span with unlimited slots).
    pub fn critical_path(&self, cost: impl Fn(usize) -> f64) -> Result<(f64, Vec<usize>), Cycle> {
        let order = self.topological_order()?;
        let mut finish = vec![0f64; self.len()];
        let mut via: Vec<Option<usize>> = vec![None; self.len()];
        for &i in &order {
            let best = self.preds[i]
                .iter()
                .copied()
                .max_by(|&a, &b| finish[a].total_cmp(&finish[b]));
            let start = best.map_or(0.0, |p| finish[p]);
            via[i] = best;
            finish[i] = start + cost(i);
        }
        let Some(end) = (0..self.len()).max_by(|&a, &b| finish[a].total_cmp(&finish[b])) else {
            return Ok((0.0, Vec::new()));
        };
        let mut path = vec![end];
        while let Some(p) = via[*path.last().unwrap_or(&end)] {
            path.push(p);
        }
        path.reverse();
        Ok((finish[end], path))
    }
}

/// Steps that depend on each other in a circle: `steps[0] → steps[1] → … → steps[0]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    /// The indices of the steps on the cycle, in dependency order, the first not repeated.
    pub steps: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(usize, usize)], n: usize) -> Graph {
        Graph::from_edges(n, edges)
    }

    #[test]
    fn diamond_orders_levels_and_critical_path() {
        let g = graph(&[(0, 1), (0, 2), (1, 3), (2, 3)], 4);
        assert_eq!(g.topological_order().unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(g.levels().unwrap(), vec![0, 1, 1, 2]);
        let costs = [1.0, 5.0, 2.0, 1.0];
        let (len, path) = g.critical_path(|i| costs[i]).unwrap();
        assert_eq!(len, 7.0);
        assert_eq!(path, vec![0, 1, 3]);
        assert_eq!(g.sources().collect::<Vec<_>>(), vec![0]);
        assert_eq!(g.sinks().collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn cycles_are_reported_in_edge_order() {
        let g = graph(&[(0, 1), (1, 2), (2, 3), (3, 1)], 4);
        let cycle = g.topological_order().unwrap_err().steps;
        assert_eq!(cycle.len(), 3);
        // Consecutive entries are edges, and the last closes the circle.
        for w in 0..cycle.len() {
            let (a, b) = (cycle[w], cycle[(w + 1) % cycle.len()]);
            assert!(
                g.successors(a).contains(&b),
                "{a} -> {b} is not an edge in {cycle:?}"
            );
        }
    }

    #[test]
    fn long_chain_is_linear_and_iterative() {
        let n = 200_000;
        let preds: Vec<Vec<usize>> = (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        let g = Graph::from_predecessors(preds);
        assert_eq!(g.levels().unwrap()[n - 1], n - 1);
        assert_eq!(g.critical_path(|_| 1.0).unwrap().0, n as f64);
    }
}
