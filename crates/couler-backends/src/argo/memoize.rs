//! Argo `memoize` for the steps the IR's caching rule memoizes (`Workflow::memoized`).
//!
//! The key is `couler-DIGEST[-SHA]`: DIGEST covers the template's definition and `cache.version`
//! (so a version of any spelling is safe), SHA is Argo's own SHA-256 (`sprig.sha256sum`) of the
//! JSON list of every value the template reads when it runs: its input parameters (the step's
//! inputs, other steps' outputs, the map item, and an identity of each input artifact) and the
//! workflow parameters its body reads. The key therefore matches Argo's
//! `^[a-zA-Z0-9][-a-zA-Z0-9]*$` whatever the values are.
//!
//! An input artifact is identified by the pod that wrote it: every pod template with output
//! artifacts also outputs `couler-pod` (`{{pod.name}}`), which a cache hit restores with the
//! artifacts it names. A step whose key cannot be complete (an input artifact from fixed storage,
//! whose content Argo never hashes; items Argo cannot tell apart) is refused at compile time
//! when `cache` asks for memoization, and otherwise not memoized on Argo, with a warning.
//!
//! A `repeat` step is memoized as a whole loop, by a steps template around the recursive one;
//! its iterations never are. Each workflow's entries live in its own config map.

use super::{Lowerer, forward_through, go_duration, unsupported};
use crate::CompileError;
use crate::capability::Feature;
use crate::k8s::fnv1a;
use couler_ir::{
    ArtifactSource, CachePolicy, MapOver, Memo, Reference, Step, StepKind, StepOutput, Workflow,
};
use foldhash::HashMap;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The output parameter naming the pod that wrote a template's output artifacts.
pub const POD_OUTPUT: &str = "couler-pod";

/// The `couler-pod` output of a pod template that writes artifacts, else nothing.
pub(super) fn pod_identity(step: &Step) -> Option<Value> {
    let pod = matches!(step.kind, StepKind::Container(_) | StepKind::Script(_));
    (pod && !step.outputs.artifacts.is_empty())
        .then(|| json!({"name": POD_OUTPUT, "value": "{{pod.name}}"}))
}

/// Why Argo cannot key `step` completely, if it cannot. `find` looks a step up by name.
fn obstacle<'a>(step: &Step, find: impl Fn(&str) -> Option<&'a Step>) -> Option<String> {
    for a in &step.inputs.artifacts {
        let why = match &a.source {
            Some(ArtifactSource::From(Reference::Step { step: p, .. })) => match find(p) {
                Some(producer) if producer.repeat.is_some() || producer.map.is_some() => format!(
                    "input artifact `{}` comes from step `{p}`, whose `{}` hides which pod wrote it",
                    a.name,
                    if producer.repeat.is_some() {
                        "repeat"
                    } else {
                        "map"
                    }
                ),
                _ => continue,
            },
            Some(ArtifactSource::Storage(s)) => format!(
                "input artifact `{}` is read from fixed `{}` storage, whose content Argo does not hash, \
                 so a changed object would return a stale result",
                a.name,
                s.key()
            ),
            _ => format!("input artifact `{}` has no identity Argo can see", a.name),
        };
        return Some(why);
    }
    if let Some(MapOver::Items(items)) = step.map.as_ref().map(|m| &m.over)
        && let Some(why) = items_obstacle(items)
    {
        return Some(why);
    }
    None
}

/// Argo renders an item as Go's `%v` of it (`1` and `"1"` alike), and names object items only by
/// their top-level keys' values: items it cannot tell apart would share one key.
fn items_obstacle(items: &[Value]) -> Option<String> {
    let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    let first = items.first().map(keys).unwrap_or_default();
    if items.iter().any(|i| keys(i) != first) {
        return Some(
            "its `map.items` mix objects with different keys (or objects and scalars), which \
             Argo cannot tell apart in a key"
                .into(),
        );
    }
    let mut seen: BTreeMap<Vec<String>, &Value> = BTreeMap::new();
    for i in items {
        let shown: Vec<String> = match i {
            Value::Object(o) => o.values().map(go_text).collect(),
            v => vec![go_text(v)],
        };
        if seen.insert(shown, i).is_some_and(|earlier| earlier != i) {
            return Some(format!(
                "its `map.items` hold values that differ only in JSON type (such as `1` and \"1\"), \
                 which Argo renders alike (item {i})"
            ));
        }
    }
    None
}

/// How Argo shows a value as text (`fmt.Sprintf("%v")`), up to what makes two values collide.
fn go_text(v: &Value) -> String {
    let num = |f: f64| format!("{f}");
    match v {
        Value::String(s) => s.parse::<f64>().map(num).unwrap_or_else(|_| s.clone()),
        Value::Number(n) => n.as_f64().map(num).unwrap_or_else(|| n.to_string()),
        Value::Bool(b) => b.to_string(),
        Value::Null => "<nil>".into(),
        other => other.to_string(),
    }
}

/// The memoization Argo gives `step`: `None` when it is not memoized there; an error when `cache`
/// asks for it and the key cannot be complete.
pub(super) fn plan<'a>(
    wf: &'a Workflow,
    step: &'a Step,
    find: impl Fn(&str) -> Option<&'a Step>,
) -> Result<Option<Memo<'a>>, CompileError> {
    let Some(memo) = wf.memoized(step) else {
        return Ok(None);
    };
    match obstacle(step, find) {
        None => Ok(Some(memo)),
        Some(why) if memo.asked() => Err(unsupported(
            Feature::Cache,
            &step.name,
            format!(
                "Argo cannot key this step's cache completely: {why}; \
                 set `cache: {{enabled: false}}` on it (it then runs every time)"
            ),
        )),
        Some(_) => Ok(None),
    }
}

/// The steps memoized elsewhere whose key Argo cannot complete, with their memoization and why.
fn unkeyable(wf: &Workflow) -> Vec<(&Step, Memo<'_>, String)> {
    let by_name: HashMap<&str, &Step> = wf.steps.iter().map(|s| (s.name.as_str(), s)).collect();
    wf.steps
        .iter()
        .filter_map(|s| {
            let memo = wf.memoized(s)?;
            Some((s, memo, obstacle(s, |n| by_name.get(n).copied())?))
        })
        .collect()
}

/// Warnings for steps memoized by default elsewhere that Argo runs every time.
pub fn warnings(wf: &Workflow) -> Vec<String> {
    unkeyable(wf)
        .into_iter()
        .filter(|(_, memo, _)| !memo.asked())
        .map(|(s, _, why)| {
            format!(
                "step `{}` is memoized by default, but not on Argo: {why}",
                s.name
            )
        })
        .collect()
}

/// A split workflow's part (`argo::split`) with memoization turned off on the steps Argo cannot
/// key: those reading an artifact that another part left in the exchange (fixed storage,
/// overwritten by every run). The whole workflow was lowered before it was split, so every
/// other obstacle has already been refused there.
pub(super) fn part_without_unkeyable(part: &Workflow) -> Workflow {
    let off: BTreeSet<&str> = unkeyable(part)
        .into_iter()
        .map(|(s, _, _)| s.name.as_str())
        .collect();
    let mut out = part.clone();
    for step in out
        .steps
        .iter_mut()
        .filter(|s| off.contains(s.name.as_str()))
    {
        step.cache = Some(Box::new(CachePolicy {
            enabled: false,
            version: None,
            max_age: None,
        }));
    }
    out
}

/// What a memoized template must also read so that its key tells runs apart: the map item, and
/// the pod that wrote each input artifact.
pub(super) fn identity_reads(step: &Step) -> Vec<Reference> {
    let mut reads = Vec::new();
    if let Some(m) = step.map.as_deref() {
        match &m.over {
            MapOver::Items(items) if items.first().is_some_and(Value::is_object) => {
                let keys = items[0].as_object().map(|o| o.keys()).into_iter().flatten();
                reads.extend(keys.map(|k| Reference::Item(vec![k.clone()])));
            }
            _ => reads.push(Reference::Item(Vec::new())),
        }
    }
    for a in &step.inputs.artifacts {
        if let Some(ArtifactSource::From(Reference::Step { step: p, .. })) = &a.source {
            reads.push(Reference::Step {
                step: p.clone(),
                output: StepOutput::Parameter(POD_OUTPUT.into()),
            });
        }
    }
    reads
}

/// The workflow parameters `step` reads wherever they shape what it computes: everywhere but
/// its `when` (as in the local key, which covers the rendered definition and inputs).
fn params_read(step: &Step) -> BTreeSet<&str> {
    step.references()
        .into_iter()
        .filter(|(place, _)| place != "when")
        .filter_map(|(_, r)| match r {
            Reference::Param(n) => Some(n.as_str()),
            _ => None,
        })
        .collect()
}

/// The `memoize` field of `step`'s template `body` (its definition so far), given the
/// definitions (other templates) the body calls.
pub(super) fn field(
    wf: &Workflow,
    step: &Step,
    memo: Memo<'_>,
    body: &Map<String, Value>,
    depends_on: &[&Value],
) -> Value {
    let definition = json!([body, depends_on, memo.version()]).to_string();
    let mut key = format!("couler-{:016x}", fnv1a(&definition));
    let inputs = body
        .get("inputs")
        .and_then(|i| i["parameters"].as_array())
        .into_iter()
        .flatten();
    let mut values: Vec<String> = inputs
        .filter_map(|p| p["name"].as_str())
        .map(|n| format!("inputs.parameters['{n}']"))
        .collect();
    values.extend(
        params_read(step)
            .into_iter()
            .map(|n| format!("workflow.parameters['{n}']")),
    );
    if !values.is_empty() {
        key.push_str(&format!(
            "-{{{{=sprig.sha256sum(toJson([{}]))}}}}",
            values.join(", ")
        ));
    }
    json!({
        "key": key,
        "maxAge": memo.max_age().map(go_duration).unwrap_or_default(),
        "cache": {"configMap": {"name": config_map(wf)}},
    })
}

/// The workflow's entries in its own config map, so that no other workflow's entries can fill
/// its 1 MiB (a failed save makes the node Error). Not one per step: identical steps share a
/// template (and, as locally, a key), which a per-step map would forbid.
fn config_map(wf: &Workflow) -> String {
    format!("couler-cache-{}", wf.name)
}

impl<'a> Lowerer<'a> {
    /// A memoized `repeat` step: a steps template around the loop `looped`, memoized with the
    /// loop's inputs, so that the loop as a whole is reused and no iteration is. Returns the
    /// template the task calls (`looped` itself when the step is not memoized).
    pub(super) fn memoized_loop(
        &mut self,
        step: &'a Step,
        inner: &str,
        looped: String,
        params: &[Value],
        artifacts: &[Value],
    ) -> Result<String, CompileError> {
        let wf = self.wf;
        let Some(memo) = plan(wf, step, |n| self.step(n))? else {
            return Ok(looped);
        };
        let find = |name: &str| self.templates.find(name).cloned().unwrap_or(Value::Null);
        let (loop_t, inner_t) = (find(&looped), find(inner));
        let (inputs, inner_params, inner_artifacts) = forward_through(params, artifacts);
        let mut call = Map::new();
        call.insert("name".into(), json!("loop"));
        call.insert("template".into(), json!(looped));
        super::insert_arguments(&mut call, inner_params, inner_artifacts);
        let names = |kind: &str| -> Vec<String> {
            loop_t["outputs"][kind]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["name"].as_str().map(String::from))
                .collect()
        };
        let out_params: Vec<Value> = names("parameters").iter().map(|n| json!({"name": n, "valueFrom": {"parameter": format!("{{{{steps.loop.outputs.parameters.{n}}}}}")}})).collect();
        let out_artifacts: Vec<Value> = names("artifacts")
            .iter()
            .map(
                |n| json!({"name": n, "from": format!("{{{{steps.loop.outputs.artifacts.{n}}}}}")}),
            )
            .collect();
        let mut body = Map::new();
        if !inputs.is_empty() {
            body.insert("inputs".into(), Value::Object(inputs));
        }
        super::insert_lists(&mut body, "outputs", out_params, out_artifacts);
        body.insert("steps".into(), json!([[call]]));
        let memoize = field(wf, step, memo, &body, &[&loop_t, &inner_t]);
        body.insert("memoize".into(), memoize);
        let name = self.fresh(&format!("{}-cached", step.name));
        let mut t = Map::new();
        t.insert("name".into(), json!(name));
        t.extend(body);
        self.templates.push(Value::Object(t));
        Ok(name)
    }
}
