//! Kubernetes object fragments that every Kubernetes-based backend (Argo, Tekton, Airflow's pod
//! operator) emits the same way: resource requirements, tolerations, and short stable hashes
//! for names that must fit in 63 characters.

use couler_ir::{ResourceList, TaintEffect, TolerationOperator};
use serde_json::{Map, Value, json};

/// A `ResourceList` (`cpu`, `memory`, `ephemeral-storage`, `nvidia.com/gpu`).
pub fn resource_list(l: &ResourceList) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(q) = &l.cpu {
        m.insert("cpu".into(), json!(q.as_str()));
    }
    if let Some(q) = &l.memory {
        m.insert("memory".into(), json!(q.as_str()));
    }
    if let Some(q) = &l.ephemeral_storage {
        m.insert("ephemeral-storage".into(), json!(q.as_str()));
    }
    if let Some(g) = l.gpu {
        m.insert("nvidia.com/gpu".into(), json!(g.to_string()));
    }
    m
}

/// `ResourceRequirements`. A GPU request is also written as a limit: Kubernetes rejects an
/// extended resource that is requested without an equal limit.
pub fn resources(r: &couler_ir::Resources) -> Value {
    let req = resource_list(&r.requests);
    let mut lim = resource_list(&r.limits);
    if let Some(g) = req.get("nvidia.com/gpu")
        && !lim.contains_key("nvidia.com/gpu")
    {
        lim.insert("nvidia.com/gpu".into(), g.clone());
    }
    let mut m = Map::new();
    if !lim.is_empty() {
        m.insert("limits".into(), Value::Object(lim));
    }
    if !req.is_empty() {
        m.insert("requests".into(), Value::Object(req));
    }
    Value::Object(m)
}

/// Where a step's pod may run: its `nodeSelector` and `tolerations`, each when set, into a pod
/// spec (or an Argo template, which carries them for its pod).
pub fn placement(step: &couler_ir::Step, pod: &mut Map<String, Value>) {
    if !step.node_selector.is_empty() {
        pod.insert("nodeSelector".into(), json!(step.node_selector));
    }
    if !step.tolerations.is_empty() {
        pod.insert(
            "tolerations".into(),
            json!(step.tolerations.iter().map(toleration).collect::<Vec<_>>()),
        );
    }
}

/// A pod `Toleration`.
pub fn toleration(t: &couler_ir::Toleration) -> Value {
    let mut m = Map::new();
    if let Some(k) = &t.key {
        m.insert("key".into(), json!(k));
    }
    m.insert(
        "operator".into(),
        json!(match t.operator {
            TolerationOperator::Equal => "Equal",
            TolerationOperator::Exists => "Exists",
        }),
    );
    if let Some(v) = &t.value {
        m.insert("value".into(), json!(v));
    }
    if let Some(e) = t.effect {
        m.insert(
            "effect".into(),
            json!(match e {
                TaintEffect::NoSchedule => "NoSchedule",
                TaintEffect::PreferNoSchedule => "PreferNoSchedule",
                TaintEffect::NoExecute => "NoExecute",
            }),
        );
    }
    if let Some(s) = t.toleration_seconds {
        m.insert("tolerationSeconds".into(), json!(s));
    }
    Value::Object(m)
}

/// FNV-1a: a stable 64-bit hash (equal on every platform and release, unlike `std`'s hasher),
/// for names derived from content.
pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A parameter value as engine text: strings as they are, anything else as JSON.
pub fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
