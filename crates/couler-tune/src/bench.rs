//! `couler tune bench`: every method against the LCBench surrogate, budgets of full-fidelity
//! evaluations, seeds; mean normalised regret and average rank per method and budget.
//!
//! The regret of a study is that of the configuration it recommends, scored at full fidelity
//! (52 epochs): `(best − accuracy) / (best − worst)`, where best and worst are those of a fixed
//! reference sample of 8,192 quasi-random configurations at full fidelity on the same data set.
//! A recommendation better than the whole sample counts 0.

use crate::lcbench::Surrogate;
use crate::llm::{Llm, LlmSettings, LlmStats};
use crate::sobol::SobolSequence;
use crate::warm::{WARM_TRIALS, WarmStart};
use crate::{Method, study};
use couler_model::Model;
use std::sync::Arc;

/// What to run.
#[derive(Clone)]
pub struct BenchPlan {
    pub instances: Vec<String>,
    pub budgets: Vec<f64>,
    pub seeds: u64,
    pub methods: Vec<String>,
    pub parallelism: usize,
    /// The model of the `llm` method (needed only when `methods` names it).
    pub llm: Option<LlmSetup>,
}

/// The `llm` method's model, settings, and the count of its answers over the whole benchmark.
#[derive(Clone)]
pub struct LlmSetup {
    pub model: Arc<dyn Model + Send + Sync>,
    pub settings: LlmSettings,
    pub stats: Arc<LlmStats>,
}

/// A method of the plan for one data set and seed: `llm` and the warm starts (`tpe+llm`, …)
/// with the plan's model, the others by name.
fn method(
    plan: &BenchPlan,
    s: &Surrogate,
    name: &str,
    instance: &str,
    seed: u64,
) -> Result<Box<dyn Method>, String> {
    let wants_llm = name == "llm" || name.ends_with("+llm");
    let Some(setup) = plan.llm.as_ref().filter(|_| wants_llm) else {
        return crate::by_name(name, s.space(), seed);
    };
    let llm = Llm::new(
        setup.model.clone(),
        s.space(),
        crate::lcbench::cards(instance),
        crate::lcbench::target(),
        seed,
    )
    .with_settings(setup.settings.clone())
    .with_stats(setup.stats.clone());
    match name.strip_suffix("+llm") {
        Some(base) => {
            let inner = crate::by_name(base, s.space(), seed)?;
            Ok(Box::new(WarmStart::new(base, llm, inner, WARM_TRIALS)?))
        }
        None => Ok(Box::new(llm)),
    }
}

/// One method at one budget, over every instance and seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub method: String,
    pub budget: f64,
    pub mean_regret: f64,
    pub average_rank: f64,
    /// Studies averaged (instances × seeds).
    pub studies: usize,
    /// Surrogate queries the method made, over all its studies.
    pub evaluations: usize,
}

/// The size of the reference sample that fixes each data set's best and worst accuracy.
pub const REFERENCE_POINTS: usize = 8192;

/// Runs the plan; `progress` hears a line per data set.
pub fn run(
    s: &Surrogate,
    plan: &BenchPlan,
    mut progress: impl FnMut(&str),
) -> Result<Vec<Record>, String> {
    let space = s.space();
    for m in &plan.methods {
        method(plan, s, m, "", 0)?;
    }
    let full = space.fidelity.as_ref().map_or(1.0, |f| f.max);
    // regrets[method][budget] = one regret per (instance, seed), in the same order for all.
    let mut regrets = vec![vec![Vec::new(); plan.budgets.len()]; plan.methods.len()];
    let mut evaluations = vec![vec![0usize; plan.budgets.len()]; plan.methods.len()];
    for (k, instance) in plan.instances.iter().enumerate() {
        let (best, worst) = reference(s, instance)?;
        let mut failure = None;
        let mut objective = |t: &crate::Trial| -> f64 {
            let epoch = space.fidelity_at(t.fidelity).unwrap_or(full);
            match s.evaluate(instance, &[(space.decode(&t.unit), epoch)]) {
                Ok(m) => -m[0].val_accuracy,
                Err(e) => {
                    failure = Some(e);
                    f64::INFINITY
                }
            }
        };
        for (mi, name) in plan.methods.iter().enumerate() {
            for (bi, &budget) in plan.budgets.iter().enumerate() {
                for seed in 0..plan.seeds {
                    let mut m = method(plan, s, name, instance, seed)?;
                    let outcomes = study::run(m.as_mut(), budget, plan.parallelism, &mut objective);
                    evaluations[mi][bi] += outcomes.len();
                    let rec = study::recommend(&outcomes)
                        .ok_or(format!("{name} ran no trial at budget {budget}"))?;
                    let acc = s.evaluate(instance, &[(space.decode(&rec.trial.unit), full)])?[0]
                        .val_accuracy;
                    regrets[mi][bi].push(((best - acc) / (best - worst)).max(0.0));
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        if let Some(e) = plan.llm.as_ref().and_then(|l| l.stats.error()) {
            return Err(format!("method llm: {e}"));
        }
        progress(&format!(
            "[{}/{}] data set {instance} done",
            k + 1,
            plan.instances.len()
        ));
    }
    Ok(records(plan, &regrets, &evaluations))
}

/// The best and worst full-fidelity accuracy of the reference sample.
pub fn reference(s: &Surrogate, instance: &str) -> Result<(f64, f64), String> {
    let space = s.space();
    let full = space.fidelity.as_ref().map_or(1.0, |f| f.max);
    let mut seq = SobolSequence::new(space.dims(), 0);
    let configs: Vec<_> = (0..REFERENCE_POINTS)
        .map(|_| (space.decode(&seq.next_point(space.dims())), full))
        .collect();
    let accs = s.evaluate(instance, &configs)?;
    let best = accs
        .iter()
        .map(|m| m.val_accuracy)
        .fold(f64::NEG_INFINITY, f64::max);
    let worst = accs
        .iter()
        .map(|m| m.val_accuracy)
        .fold(f64::INFINITY, f64::min);
    Ok((best, worst))
}

fn records(plan: &BenchPlan, regrets: &[Vec<Vec<f64>>], evaluations: &[Vec<usize>]) -> Vec<Record> {
    let mut out = Vec::new();
    for (bi, &budget) in plan.budgets.iter().enumerate() {
        let studies = regrets.first().map_or(0, |m| m[bi].len());
        let mut rank_sums = vec![0.0; plan.methods.len()];
        for j in 0..studies {
            let column: Vec<f64> = regrets.iter().map(|m| m[bi][j]).collect();
            for (mi, r) in ranks(&column).into_iter().enumerate() {
                rank_sums[mi] += r;
            }
        }
        for (mi, method) in plan.methods.iter().enumerate() {
            let rs = &regrets[mi][bi];
            out.push(Record {
                method: method.clone(),
                budget,
                mean_regret: rs.iter().sum::<f64>() / rs.len().max(1) as f64,
                average_rank: rank_sums[mi] / studies.max(1) as f64,
                studies,
                evaluations: evaluations[mi][bi],
            });
        }
    }
    out
}

/// Ranks from 1 (lowest value), ties sharing their mean rank.
pub fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut out = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ties_share_their_mean_rank() {
        assert_eq!(
            super::ranks(&[0.3, 0.1, 0.3, 0.0]),
            vec![3.5, 2.0, 3.5, 1.0]
        );
    }
}
