//! The simulator's input: tasks with runtimes, intermediate files with sizes, one producer and
//! their consumers. Its own small type, built by whoever has the facts and handed down: the
//! WfFormat front end from a trace (`couler_wfformat::sim_input`), the caching pass from a
//! workflow with recorded runtimes and sizes. This crate reads no front end.

use std::fmt;

/// One task: how long it runs and which tasks it waits for.
#[derive(Clone, Debug, PartialEq)]
pub struct SimTask {
    pub name: String,
    /// Seconds; non-finite or negative values are read as 0.
    pub runtime: f64,
    /// Indices of the tasks this one waits for.
    pub parents: Vec<usize>,
}

/// One intermediate file: written by `producer`, read by each of `consumers`.
#[derive(Clone, Debug, PartialEq)]
pub struct SimFile {
    pub name: String,
    /// Bytes; non-finite or negative values are read as 0.
    pub size: f64,
    pub producer: usize,
    pub consumers: Vec<usize>,
}

/// Why a simulator input is unusable.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelError(pub String);

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ModelError {}

/// A checked simulator input with the derived lookups the replay needs.
#[derive(Clone, Debug)]
pub struct SimInput {
    pub name: String,
    pub tasks: Vec<SimTask>,
    pub files: Vec<SimFile>,
    /// `children[t]`: the tasks waiting for `t`.
    pub children: Vec<Vec<usize>>,
    /// `reads[t]`: the intermediate files task `t` reads.
    pub reads: Vec<Vec<usize>>,
    /// `writes[t]`: the intermediate files task `t` writes.
    pub writes: Vec<Vec<usize>>,
    /// Every task once, parents before children.
    pub topo: Vec<usize>,
}

fn clean(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

impl SimInput {
    /// Checks indices and acyclicity; a consumer that does not list the producer as a parent
    /// gets it as one (it cannot run before its input exists). Files nobody reads are dropped:
    /// they are not intermediate.
    pub fn new(
        name: impl Into<String>,
        mut tasks: Vec<SimTask>,
        files: Vec<SimFile>,
    ) -> Result<SimInput, ModelError> {
        let n = tasks.len();
        for t in &mut tasks {
            t.runtime = clean(t.runtime);
        }
        let mut kept = Vec::with_capacity(files.len());
        for mut f in files {
            if f.producer >= n || f.consumers.iter().any(|&c| c >= n) {
                return Err(ModelError(format!(
                    "file `{}` names a task index outside 0..{n}",
                    f.name
                )));
            }
            f.size = clean(f.size);
            f.consumers.sort_unstable();
            f.consumers.dedup();
            f.consumers.retain(|&c| c != f.producer);
            if f.consumers.is_empty() {
                continue;
            }
            for &c in &f.consumers {
                if !tasks[c].parents.contains(&f.producer) {
                    tasks[c].parents.push(f.producer);
                }
            }
            kept.push(f);
        }
        let mut children = vec![Vec::new(); n];
        for (i, t) in tasks.iter().enumerate() {
            for &p in &t.parents {
                if p >= n || p == i {
                    return Err(ModelError(format!(
                        "task `{}` has parent index {p}, which is itself or outside 0..{n}",
                        t.name
                    )));
                }
                children[p].push(i);
            }
        }
        let mut indeg: Vec<usize> = tasks.iter().map(|t| t.parents.len()).collect();
        let mut topo: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
        let mut k = 0;
        while k < topo.len() {
            let t = topo[k];
            k += 1;
            for &c in &children[t] {
                indeg[c] -= 1;
                if indeg[c] == 0 {
                    topo.push(c);
                }
            }
        }
        if topo.len() != n {
            let stuck = (0..n)
                .find(|&i| indeg[i] > 0)
                .map_or("", |i| &tasks[i].name);
            return Err(ModelError(format!(
                "the task graph has a cycle through task `{stuck}`; a workflow must be a DAG"
            )));
        }
        let mut reads = vec![Vec::new(); n];
        let mut writes = vec![Vec::new(); n];
        for (fi, f) in kept.iter().enumerate() {
            writes[f.producer].push(fi);
            for &c in &f.consumers {
                reads[c].push(fi);
            }
        }
        Ok(SimInput {
            name: name.into(),
            tasks,
            files: kept,
            children,
            reads,
            writes,
            topo,
        })
    }

    /// Bytes of all intermediate files: what a percentage budget is a percentage of.
    pub fn intermediate_bytes(&self) -> f64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Reads of intermediate files (one per consumer and file).
    pub fn read_count(&self) -> usize {
        self.files.iter().map(|f| f.consumers.len()).sum()
    }
}
