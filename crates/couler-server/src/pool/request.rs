//! A run's request to the queue, from its spec.
//!
//! The rule: per resource, the largest request of any one step (its `resources.requests`, else
//! its `limits`, else the workflow's default resources; a step declaring none asks nothing of
//! that resource). That is what the run needs to make progress at all: admitted with it, every
//! step can run, one at a time if need be. Summing over a parallel layer would be closer for a
//! wide DAG, but would refuse workflows that could run and reserve capacity a run's later layers
//! never use; parallel steps of an admitted run may together use more than its request
//! (admission accounting, not enforcement: the local runtime does not cap a run).

use crate::queue::Resources;
use couler_ir::{ResourceList, Workflow};

/// The run's request (see the module docs).
pub fn request_of(wf: &Workflow) -> Resources {
    let mut max = Resources::default();
    for step in wf.steps.iter().chain(&wf.on_exit) {
        let Some(r) = wf.effective_resources(step) else {
            continue;
        };
        let asked = amounts(&r.requests).unwrap_or_else(|| amounts(&r.limits).unwrap_or_default());
        max = Resources::new(
            max.cpu_milli.max(asked.cpu_milli),
            max.mem_mib.max(asked.mem_mib),
            max.gpu.max(asked.gpu),
        );
    }
    max
}

/// The amounts of a list, `None` when it sets none of cpu, memory or gpu.
fn amounts(list: &ResourceList) -> Option<Resources> {
    if list.cpu.is_none() && list.memory.is_none() && list.gpu.is_none() {
        return None;
    }
    Some(Resources::new(
        list.cpu
            .as_ref()
            .map_or(0, |q| (q.value() * 1000.0).ceil() as u64),
        list.memory
            .as_ref()
            .map_or(0, |q| (q.value() / 1_048_576.0).ceil() as u64),
        list.gpu.map_or(0, u64::from),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(steps: &str) -> Workflow {
        let text =
            format!("apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: r\nsteps:\n{steps}");
        couler_ir::spec::parse(&text, couler_ir::Format::Yaml).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn the_request_is_the_largest_step_per_resource() {
        let w = wf(
            "- name: a\n  container: {command: [\"true\"]}\n  resources: {requests: {cpu: 500m, memory: 1Gi}}\n- name: b\n  container: {command: [\"true\"]}\n  resources: {limits: {cpu: 2, gpu: 1}}\n- name: c\n  container: {command: [\"true\"]}\n",
        );
        assert_eq!(request_of(&w), Resources::new(2000, 1024, 1));
        let none = wf("- name: a\n  container: {command: [\"true\"]}\n");
        assert_eq!(request_of(&none), Resources::default());
    }
}
