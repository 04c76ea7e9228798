//! `couler simulate dispatch`: replays WfFormat traces with their recorded runtimes under a
//! few slots, once handing slots out FIFO and once critical-path-first, and prints the
//! make-spans and their ratio. The replay runs the local runtime's own dispatch code: its slot
//! queue (`couler_run::slots::SlotQueue`) and the priorities of `couler_history::critical`
//! from the per-template baseline, on a simulated clock (no sleeping).
//! Predictions come from `--train` traces (other instances of the family); without them, from
//! the replayed trace itself.

use couler_history::Execution;
use couler_history::critical::remaining_paths;
use couler_history::predict::{Predictor, TemplateBaseline};
use couler_history::{StepFeatures, Target};
use couler_ir::Graph;
use couler_run::slots::{Slot, SlotQueue};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Arguments of `couler simulate dispatch`.
#[derive(clap::Args)]
pub struct DispatchSimArgs {
    /// WfFormat traces to replay (JSON, 1.4 or 1.5)
    #[arg(long, num_args = 1.., required = true)]
    trace: Vec<PathBuf>,
    /// Traces whose runtimes train the predictions [default: the replayed trace]
    #[arg(long, num_args = 1..)]
    train: Vec<PathBuf>,
    /// Slot counts, comma-separated
    #[arg(long, default_value = "2,4")]
    slots: String,
}

/// A trace as the replay needs it: its DAG, each task's recorded runtime and template.
pub(crate) struct Replay {
    pub graph: Graph,
    pub seconds: Vec<f64>,
    pub templates: Vec<String>,
}

impl Replay {
    /// The DAG and runtimes of `text`'s tasks with their templates from `executions` (by task
    /// id; a task without a runtime lasts 0 s).
    fn read(text: &str, executions: &[Execution]) -> Result<Replay, String> {
        let facts = couler_wfformat::read_trace(text).map_err(|e| e.to_string())?;
        let index: HashMap<&str, usize> = (facts.tasks.iter().enumerate())
            .flat_map(|(i, t)| {
                [(t.id.as_str(), i)]
                    .into_iter()
                    .chain(t.name.as_deref().map(|n| (n, i)))
            })
            .collect();
        let mut edges = Vec::new();
        for (i, t) in facts.tasks.iter().enumerate() {
            for p in &t.parents {
                let &j = index
                    .get(p.as_str())
                    .ok_or(format!("task `{}`: no parent `{p}`", t.id))?;
                edges.push((j, i));
            }
        }
        let by_id: HashMap<&str, &str> = (executions.iter())
            .map(|e| (e.features.step.as_str(), e.features.template.as_str()))
            .collect();
        Ok(Replay {
            graph: Graph::from_edges(facts.tasks.len(), &edges),
            seconds: facts
                .tasks
                .iter()
                .map(|t| t.runtime.unwrap_or(0.0).max(0.0))
                .collect(),
            templates: (facts.tasks.iter())
                .map(|t| by_id.get(t.id.as_str()).unwrap_or(&"").to_string())
                .collect(),
        })
    }
}

/// A task asking for a slot.
type Asking = Pin<Box<dyn Future<Output = Slot>>>;

/// The replay's state on its simulated clock.
struct Sim<'a> {
    seconds: &'a [f64],
    now: f64,
    asking: Vec<(usize, Asking)>,
    held: HashMap<usize, Slot>,
    /// Ends as (time, start sequence, task): the earliest first, ties in start order.
    ends: BinaryHeap<Reverse<(Seconds, usize, usize)>>,
    order: Vec<usize>,
}

impl Sim<'_> {
    /// Polls the waiters in the order they asked: those granted a slot start now.
    fn admit(&mut self) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut k = 0;
        while k < self.asking.len() {
            match self.asking[k].1.as_mut().poll(&mut cx) {
                Poll::Ready(slot) => {
                    let i = self.asking.remove(k).0;
                    self.held.insert(i, slot);
                    let end = Seconds(self.now + self.seconds[i]);
                    self.ends.push(Reverse((end, self.order.len(), i)));
                    self.order.push(i);
                }
                Poll::Pending => k += 1,
            }
        }
    }
}

/// A time that orders (by `total_cmp`).
#[derive(Clone, Copy)]
struct Seconds(f64);

impl PartialEq for Seconds {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Seconds {}

impl PartialOrd for Seconds {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Seconds {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The make-span of replaying `seconds` over `graph` with `slots` slots, and the order tasks
/// got their slots: each task asks the runtime's slot queue for a slot, with priority
/// `priority[i]`, once its predecessors have ended; as in the runtime, an ending task gives its
/// slot back before its successors ask (sources ask in index order). A discrete-event loop on
/// a simulated clock polls the queue's futures, so no time passes.
pub(crate) fn replay(
    graph: &Graph,
    seconds: &[f64],
    priority: &[f64],
    slots: usize,
) -> (f64, Vec<usize>) {
    let queue = SlotQueue::new(slots);
    let ask = |i: usize| -> (usize, Asking) {
        let queue = Arc::clone(&queue);
        let p = priority[i];
        (i, Box::pin(async move { queue.acquire(p).await }))
    };
    let mut left: Vec<usize> = (0..graph.len())
        .map(|i| graph.predecessors(i).len())
        .collect();
    let mut sim = Sim {
        seconds,
        now: 0.0,
        asking: (0..graph.len())
            .filter(|&i| left[i] == 0)
            .map(ask)
            .collect(),
        held: HashMap::new(),
        ends: BinaryHeap::new(),
        order: Vec::with_capacity(graph.len()),
    };
    sim.admit();
    while let Some(Reverse((Seconds(t), _, i))) = sim.ends.pop() {
        sim.now = t;
        sim.held.remove(&i);
        sim.admit();
        for &j in graph.successors(i) {
            left[j] -= 1;
            if left[j] == 0 {
                sim.asking.push(ask(j));
            }
        }
        sim.admit();
    }
    (sim.now, sim.order)
}

/// Replays `r` FIFO and critical-path-first (priorities from `baseline`) on `slots` slots:
/// both make-spans.
fn compare(r: &Replay, baseline: &TemplateBaseline, slots: usize) -> Result<(f64, f64), String> {
    let predicted: Vec<Option<f64>> = (r.templates.iter())
        .map(|t| {
            let f = StepFeatures {
                template: t.clone(),
                ..StepFeatures::default()
            };
            baseline.predict(Target::Duration, &f).map(|p| p.median)
        })
        .collect();
    let mut known: Vec<f64> = predicted.iter().flatten().copied().collect();
    known.sort_by(f64::total_cmp);
    let typical = known.get(known.len() / 2).copied().unwrap_or(1.0);
    let priority = remaining_paths(&r.graph, |i| predicted[i].unwrap_or(typical))
        .ok_or("the trace's DAG has a cycle")?;
    let fifo = replay(&r.graph, &r.seconds, &vec![0.0; r.graph.len()], slots).0;
    let critical = replay(&r.graph, &r.seconds, &priority, slots).0;
    Ok((fifo, critical))
}

/// Runs `couler simulate dispatch`: the table on stdout.
pub(crate) fn simulate(args: &DispatchSimArgs) -> Result<String, String> {
    let slots: Vec<usize> = (args.slots.split(','))
        .map(|s| s.trim().parse().ok().filter(|&n| n > 0))
        .collect::<Option<_>>()
        .ok_or("--slots: comma-separated whole numbers of at least 1, e.g. 2,4")?;
    let train: Vec<Execution> = crate::history::read_traces(&args.train)?
        .into_iter()
        .flat_map(|(_, xs)| xs)
        .collect();
    let mut out = format!(
        "{:<48} {:>5} {:>12} {:>14} {:>7}\n",
        "trace", "slots", "fifo (s)", "critical (s)", "ratio"
    );
    for path in &args.trace {
        let (_, xs) = crate::history::read_traces(std::slice::from_ref(path))?.remove(0);
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let r = Replay::read(&text, &xs).map_err(|e| format!("{}: {e}", path.display()))?;
        let baseline = TemplateBaseline::train(if train.is_empty() { &xs } else { &train });
        let name = path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into());
        for &n in &slots {
            let (fifo, critical) = compare(&r, &baseline, n)?;
            let ratio = if fifo > 0.0 { critical / fifo } else { 1.0 };
            out += &format!("{name:<48} {n:>5} {fifo:>12.1} {critical:>14.1} {ratio:>7.3}\n");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two slots. x (3.5 s) and y (1 s) start at once; after y, a, b and c (1 s each) ask in
    /// that order, and d (5 s) follows c. FIFO serves b before c, so d starts late.
    fn dag() -> (Graph, Vec<f64>) {
        let edges = [(1, 2), (1, 3), (1, 4), (4, 5)];
        (
            Graph::from_edges(6, &edges),
            vec![3.5, 1.0, 1.0, 1.0, 1.0, 5.0],
        )
    }

    #[test]
    fn critical_path_first_serves_the_chain_before_fifo_would() {
        let (g, s) = dag();
        let priority = remaining_paths(&g, |i| s[i]).unwrap();
        assert_eq!(priority, vec![3.5, 7.0, 1.0, 1.0, 6.0, 5.0]);
        // FIFO: b (asked first) gets a's slot at 2 s, c at 3 s, d at 4 s: ends at 9 s.
        let (fifo, order) = replay(&g, &s, &[0.0; 6], 2);
        assert_eq!(order, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(fifo, 9.0);
        // Critical path: c gets a's slot at 2 s, d x's at 3.5 s: ends at 8.5 s.
        let (critical, order) = replay(&g, &s, &priority, 2);
        assert_eq!(order, vec![0, 1, 2, 4, 3, 5]);
        assert_eq!(critical, 8.5);
    }
}
