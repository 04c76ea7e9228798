//! Semantic validation of a workflow: names, references, dependencies, cycles and policies.
//!
//! Every check produces a [`Diagnostic`] with the spec path of the offending value and a way to
//! fix it. Names follow the strictest rule among the target engines, so a workflow that validates
//! here can be compiled for any backend without renaming.

use crate::diag::{Diagnostic, suggest};
use crate::expr::{Expr, Literal, Reference};
use crate::graph::Graph;
use crate::model::*;
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

mod reference;
mod step;
mod tune;
pub mod untrusted;

/// Longest DNS-1123 label (Kubernetes object names, Argo task names).
pub const MAX_NAME_LEN: usize = 63;

/// `Some(reason)` if `name` is not a DNS-1123 label.
pub fn dns1123_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!(
            "it is {} characters long; the limit is {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "`{c}` is not allowed: use lowercase letters, digits and `-`"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("it must start and end with a letter or digit".into());
    }
    None
}

/// Words that Argo's expression language (expr) reserves. Argo evaluates a DAG's dependencies
/// as an expr expression over task names (`train.Succeeded || train.Skipped`), so a step or
/// group with one of these names cannot be depended on there.
pub const EXPR_KEYWORDS: [&str; 12] = [
    "and", "contains", "else", "false", "if", "in", "let", "matches", "nil", "not", "or", "true",
];

/// A DNS-1123 label made from any text: lowercase, other characters as `-`, trimmed to length.
pub fn to_dns1123(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let mut out = out.trim_matches('-').to_string();
    out.truncate(MAX_NAME_LEN);
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "step".to_string()
    } else {
        out
    }
}

/// `Some(reason)` if `name` cannot name a parameter or artifact on every engine.
pub fn identifier_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    match chars.next() {
        None => Some("it is empty".into()),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            Some("it must start with a letter or `_`".into())
        }
        _ if name.len() > MAX_NAME_LEN => {
            Some(format!("it is longer than {MAX_NAME_LEN} characters"))
        }
        _ => chars
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
            .map(|c| format!("`{c}` is not allowed: use letters, digits, `_` and `-`")),
    }
}

fn env_name_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    match chars.next() {
        None => Some("it is empty".into()),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            Some("it must start with a letter or `_`".into())
        }
        _ => chars
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map(|c| format!("`{c}` is not allowed in an environment variable name")),
    }
}

/// Checks a workflow; returns every error and warning found.
pub fn validate(wf: &Workflow) -> Vec<Diagnostic> {
    let mut v = Validator {
        wf,
        steps: wf.steps.iter().map(|s| (s.name.as_str(), s)).collect(),
        exit_steps: wf.on_exit.iter().map(|s| (s.name.as_str(), s)).collect(),
        groups: wf.groups.iter().map(|g| (g.name.as_str(), g)).collect(),
        out: Vec::new(),
    };
    v.workflow();
    v.out
}

struct Validator<'a> {
    wf: &'a Workflow,
    /// Name lookups, so validation stays linear in steps + references.
    steps: HashMap<&'a str, &'a Step>,
    exit_steps: HashMap<&'a str, &'a Step>,
    groups: HashMap<&'a str, &'a Group>,
    out: Vec<Diagnostic>,
}

/// The step under check: its path, the step, and whether it belongs to the exit handler.
#[derive(Clone, Copy)]
struct StepAt<'s> {
    path: &'s str,
    step: &'s Step,
    is_exit: bool,
}

impl StepAt<'_> {
    /// The path of `rel` inside this step.
    fn at(&self, rel: &str) -> String {
        format!("{}.{rel}", self.path)
    }
}

/// Where a reference stands decides what it may read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A string: command, args, source, env, input value.
    Template,
    /// `inputs.artifacts[i].from`
    ArtifactFrom,
    When,
    MapFrom,
    RepeatWhile,
}

impl Place {
    fn of(path: &str) -> Place {
        match path {
            "when" => Place::When,
            "map.from" => Place::MapFrom,
            "repeat.while" => Place::RepeatWhile,
            p if p.starts_with("inputs.artifacts[") => Place::ArtifactFrom,
            _ => Place::Template,
        }
    }
}

impl Validator<'_> {
    fn err(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.out
            .push(Diagnostic::error(message).at(path).help(help));
    }

    fn warn(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.out
            .push(Diagnostic::warning(message).at(path).help(help));
    }

    fn workflow(&mut self) {
        let wf = self.wf;
        if wf.api_version != API_VERSION {
            self.err(
                "apiVersion",
                format!("unsupported apiVersion `{}`", wf.api_version),
                format!("use `{API_VERSION}`"),
            );
        }
        if wf.kind != "Workflow" {
            self.err(
                "kind",
                format!("unsupported kind `{}`", wf.kind),
                "the only kind is `Workflow`",
            );
        }
        if let Some(p) = dns1123_problem(&wf.name) {
            self.err(
                "name",
                format!("invalid workflow name `{}`: {p}", wf.name),
                format!("try `{}`", to_dns1123(&wf.name)),
            );
        }
        if wf.steps.is_empty() {
            self.err(
                "steps",
                "the workflow has no steps",
                "add at least one step under `steps`",
            );
        }
        if wf.parallelism == Some(0) {
            self.err(
                "parallelism",
                "`parallelism: 0` would never run anything",
                "remove it, or set 1 or more",
            );
        }
        if wf.timeout == Some(crate::value::Duration::from_millis(0)) {
            self.err(
                "timeout",
                "a workflow timeout of 0 stops the run before any step starts",
                "remove the timeout or make it longer",
            );
        }
        self.labels("labels", &wf.labels);
        self.params();
        self.names();
        self.groups();
        if let Some(d) = &wf.defaults.retry {
            self.retry("defaults.retry", d);
        }
        if let Some(r) = &wf.defaults.resources {
            self.resources("defaults.resources", r);
        }
        if let Some(s) = &wf.schedule {
            self.schedule(s);
        }
        self.volumes();
        for (i, step) in wf.steps.iter().enumerate() {
            self.step(&format!("steps[{i}]"), step, false);
        }
        for (i, exit) in wf.on_exit.iter().enumerate() {
            self.step(&exit_path(wf, i), exit, true);
        }
        self.cycles();
    }

    fn labels(&mut self, path: &str, labels: &std::collections::BTreeMap<String, String>) {
        for (k, v) in labels {
            let name = k.rsplit('/').next().unwrap_or(k);
            let bad_key = name.is_empty()
                || name.len() > MAX_NAME_LEN
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if bad_key {
                self.err(format!("{path}.{k}"), format!("invalid label key `{k}`"), "use letters, digits, `-`, `_` and `.`, at most 63 characters, with an optional `prefix/`");
            }
            if v.len() > MAX_NAME_LEN
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                self.err(format!("{path}.{k}"), format!("invalid label value `{v}`"), "label values hold at most 63 letters, digits, `-`, `_` and `.`; put longer text in `annotations`");
            }
        }
    }

    fn params(&mut self) {
        let mut seen = HashSet::new();
        for (i, p) in self.wf.params.iter().enumerate() {
            let path = format!("params[{i}]");
            if let Some(why) = identifier_problem(&p.name) {
                self.err(
                    format!("{path}.name"),
                    format!("invalid parameter name `{}`: {why}", p.name),
                    "use letters, digits, `_` and `-`, starting with a letter",
                );
            }
            if !seen.insert(p.name.as_str()) {
                self.err(
                    format!("{path}.name"),
                    format!("parameter `{}` is declared twice", p.name),
                    "rename or remove one of them",
                );
            }
            if let Some(d) = &p.default {
                if let Some(why) = type_mismatch(p.ty, d) {
                    self.err(
                        format!("{path}.default"),
                        format!("default of parameter `{}` {why}", p.name),
                        "make the default match the parameter's `type`",
                    );
                }
                if !p.allowed.is_empty() && !p.allowed.contains(d) {
                    self.err(
                        format!("{path}.default"),
                        format!(
                            "default of parameter `{}` is not among its `enum` values",
                            p.name
                        ),
                        "pick one of the listed values",
                    );
                }
            }
        }
    }

    /// Step and group names: valid and unique across the workflow.
    fn names(&mut self) {
        let wf = self.wf;
        // Paths are written out only for a problem: a large workflow has many names.
        let steps = wf
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (NameAt::Step(i), &s.name));
        let exit = wf
            .on_exit
            .iter()
            .enumerate()
            .map(|(i, s)| (NameAt::Exit(i), &s.name));
        let groups = wf
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (NameAt::Group(i), &g.name));
        let mut seen: HashMap<&str, NameAt> = HashMap::with_capacity(wf.steps.len());
        for (at, name) in steps.chain(exit).chain(groups) {
            let name = name.as_str();
            if let Some(why) = dns1123_problem(name) {
                self.err(
                    at.path(wf),
                    format!("invalid name `{name}`: {why}"),
                    format!(
                        "names must work on every engine (DNS-1123 labels); try `{}`",
                        to_dns1123(name)
                    ),
                );
            }
            if EXPR_KEYWORDS.contains(&name) {
                self.err(
                    at.path(wf),
                    format!("invalid name `{name}`: it is a keyword of Argo's expression language, which reads step names in dependencies"),
                    format!("names must work on every engine; try `{name}-step`"),
                );
            }
            if let Some(first) = seen.get(name) {
                let first = first.path(wf);
                self.err(
                    at.path(wf),
                    format!("the name `{name}` is already used at `{first}`"),
                    "give every step and group its own name",
                );
            } else {
                seen.insert(name, at);
            }
        }
    }

    fn groups(&mut self) {
        let mut member_of: HashMap<&str, &str> = HashMap::new();
        for (i, g) in self.wf.groups.iter().enumerate() {
            if g.steps.is_empty() {
                self.err(
                    format!("groups[{i}].steps"),
                    format!("group `{}` has no steps", g.name),
                    "list the steps that run concurrently, or remove the group",
                );
            }
            for (j, m) in g.steps.iter().enumerate() {
                let path = format!("groups[{i}].steps[{j}]");
                if !self.steps.contains_key(m.as_str()) {
                    let help = self.unknown_step_help(m);
                    self.err(
                        path,
                        format!("group `{}` lists unknown step `{m}`", g.name),
                        help,
                    );
                } else if let Some(other) = member_of.insert(m.as_str(), g.name.as_str()) {
                    self.err(
                        path,
                        format!("step `{m}` is in groups `{other}` and `{}`", g.name),
                        "a step belongs to at most one group",
                    );
                }
            }
        }
    }

    fn unknown_step_help(&self, name: &str) -> String {
        let names = self.wf.steps.iter().map(|s| s.name.as_str());
        match suggest(name, names) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "no step has that name; check the spelling against `steps`".to_string(),
        }
    }

    /// IR built in code (not parsed) must still print as a spec that reads back the same.
    fn printable(&mut self, path: &str, step: &Step) {
        let mut unreadable = Vec::new();
        step.each_template(|rel, t| {
            if !t.reads_back() {
                unreadable.push(rel);
            }
        });
        for rel in unreadable {
            self.err(
                format!("{path}.{rel}"),
                "literal text containing `{{` followed by a reference root would read back as a reference",
                "build the placeholder as a reference (Segment::Ref), or change the text",
            );
        }
        let exprs = [
            ("when", step.when.as_ref()),
            ("repeat.while", step.repeat.as_ref().map(|r| &r.condition)),
        ];
        for (rel, e) in exprs {
            if e.is_some_and(has_non_finite) {
                self.err(
                    format!("{path}.{rel}"),
                    "the condition compares with a number that is not finite",
                    "use a finite number",
                );
            }
        }
    }

    fn kind(&mut self, path: &str, step: &Step) {
        match &step.kind {
            StepKind::Container(c) => {
                if c.image.is_none() && self.wf.defaults.image.is_none() && c.command.is_empty() {
                    self.err(
                        format!("{path}.container"),
                        format!("step `{}` has neither an image nor a command", step.name),
                        "set `image` (and usually `command`)",
                    );
                }
            }
            StepKind::Script(s) => {
                if s.source.segments().is_empty() {
                    self.err(
                        format!("{path}.script.source"),
                        "the script is empty",
                        "write the code to run under `source`",
                    );
                }
                if s.command.is_empty() {
                    self.err(
                        format!("{path}.script.command"),
                        "a script needs an interpreter",
                        "e.g. `command: [python3]` or `command: [bash]`",
                    );
                }
            }
            StepKind::Resource(r) => {
                if r.manifest.segments().is_empty() {
                    self.err(
                        format!("{path}.resource.manifest"),
                        "the manifest is empty",
                        "write the Kubernetes object as YAML text",
                    );
                }
            }
            StepKind::Job(j) => {
                let roles = j.framework.roles();
                for (role, count) in &j.replicas {
                    if !roles.contains(&role.as_str()) {
                        let help = match suggest(role, roles.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!(
                                "{:?} jobs have the roles `{}`",
                                j.framework,
                                roles.join("`, `")
                            ),
                        };
                        self.err(
                            format!("{path}.job.replicas.{role}"),
                            format!("`{role}` is not a replica role of a {:?} job", j.framework),
                            help,
                        );
                    }
                    if *count == 0 {
                        self.err(
                            format!("{path}.job.replicas.{role}"),
                            format!("zero `{role}` replicas"),
                            "remove the role or give it at least 1 replica",
                        );
                    }
                }
                if j.replicas.is_empty() {
                    self.err(
                        format!("{path}.job.replicas"),
                        "a distributed job needs replicas",
                        "e.g. `replicas: {worker: 2}`",
                    );
                }
            }
            StepKind::Workflow(w) => {
                if w.reference.trim().is_empty() {
                    self.err(
                        format!("{path}.workflow.ref"),
                        "empty sub-workflow reference",
                        "name a spec file or a workflow template",
                    );
                }
            }
            StepKind::Suspend(_) => {}
        }
    }

    /// A file a step reads or writes stays where the step's working directory (or, for an
    /// absolute path, its container's file system) puts it: a `..` component could reach the
    /// runtime's own state (`path: ../../state.db` overwrote it once).
    fn contained(&mut self, at: &str, file: &str) {
        if file.split('/').any(|c| c == "..") {
            self.err(
                at,
                format!("path `{file}` leaves the step's working directory through `..`"),
                "write a path inside the working directory (e.g. `data/input.csv`); pass files between steps as artifacts",
            );
        }
    }

    fn io(&mut self, path: &str, step: &Step) {
        let mut names = HashSet::new();
        for (i, p) in step.inputs.parameters.iter().enumerate() {
            self.io_name(
                &format!("{path}.inputs.parameters[{i}].name"),
                &p.name,
                "input parameter",
                &mut names,
            );
        }
        let mut names = HashSet::new();
        for (i, a) in step.inputs.artifacts.iter().enumerate() {
            let apath = format!("{path}.inputs.artifacts[{i}]");
            self.io_name(
                &format!("{apath}.name"),
                &a.name,
                "input artifact",
                &mut names,
            );
            if a.path.trim().is_empty() {
                self.err(
                    format!("{apath}.path"),
                    format!("input artifact `{}` has no path", a.name),
                    "set where the step expects the file, e.g. `path: data.csv`",
                );
            }
            if a.source.is_none() && !a.optional {
                self.err(&apath, format!("input artifact `{}` has no source", a.name), "add `from: steps.STEP.outputs.artifacts.NAME`, or a `storage`, or mark it `optional: true`");
            }
            self.contained(&format!("{apath}.path"), &a.path);
        }
        let mut names = HashSet::new();
        for (i, p) in step.outputs.parameters.iter().enumerate() {
            self.io_name(
                &format!("{path}.outputs.parameters[{i}].name"),
                &p.name,
                "output parameter",
                &mut names,
            );
            if let Some(p) = &p.path {
                self.contained(&format!("{path}.outputs.parameters[{i}].path"), p);
            }
        }
        let mut names = HashSet::new();
        for (i, a) in step.outputs.artifacts.iter().enumerate() {
            let apath = format!("{path}.outputs.artifacts[{i}]");
            self.io_name(
                &format!("{apath}.name"),
                &a.name,
                "output artifact",
                &mut names,
            );
            if a.path.trim().is_empty() {
                self.err(
                    format!("{apath}.path"),
                    format!("output artifact `{}` has no path", a.name),
                    "set where the step writes it, e.g. `path: model.pkl`",
                );
            }
            self.contained(&format!("{apath}.path"), &a.path);
            if let Some(Storage::Git(_) | Storage::Http(_)) = &a.storage {
                self.err(
                    format!("{apath}.storage"),
                    "git and http storage can only be read",
                    "store outputs in local, s3, gcs, oss or hdfs storage",
                );
            }
        }
    }

    fn io_name<'n>(&mut self, path: &str, name: &'n str, what: &str, seen: &mut HashSet<&'n str>) {
        if let Some(why) = identifier_problem(name) {
            self.err(
                path,
                format!("invalid {what} name `{name}`: {why}"),
                "use letters, digits, `_` and `-`, starting with a letter",
            );
        }
        if !seen.insert(name) {
            self.err(
                path,
                format!("{what} `{name}` is declared twice"),
                "rename or remove one of them",
            );
        }
    }

    fn map(&mut self, path: &str, m: &Map) {
        if m.parallelism == Some(0) {
            self.err(
                format!("{path}.map.parallelism"),
                "`parallelism: 0` would never run an item",
                "remove it, or set 1 or more",
            );
        }
        match &m.over {
            MapOver::Items(items) if items.is_empty() => {
                self.warn(
                    format!("{path}.map.items"),
                    "the map has no items, so the step never runs",
                    "add items or remove the step",
                );
            }
            MapOver::Range { step: 0, .. } => {
                self.err(
                    format!("{path}.map.range.step"),
                    "a range step of 0 never ends",
                    "use a positive or negative step",
                );
            }
            MapOver::Range { start, stop, step }
                if (*step > 0 && start >= stop) || (*step < 0 && start <= stop) =>
            {
                self.warn(
                    format!("{path}.map.range"),
                    "the range is empty, so the step never runs",
                    "check `start`, `stop` and `step` (stop is exclusive)",
                );
            }
            MapOver::From(Reference::Param(name)) => {
                if let Some(p) = self.wf.params.iter().find(|p| &p.name == name)
                    && p.ty != ParamType::Json
                {
                    self.err(
                        format!("{path}.map.from"),
                        format!("parameter `{name}` is not a list"),
                        format!("declare `{name}` with `type: json` and a list default"),
                    );
                }
            }
            _ => {}
        }
    }

    fn retry(&mut self, path: &str, r: &Retry) {
        if let Some(k) = r.slow
            && !(k.is_finite() && k > 1.0)
        {
            self.err(
                format!("{path}.slow"),
                "`slow` is the factor of the predicted p99 past which an attempt is retried; at 1 or less it would stop attempts no slower than usual",
                "use a factor above 1, e.g. `slow: 3`",
            );
        }
        if let Some(b) = &r.backoff {
            if b.factor == 0 {
                self.err(
                    format!("{path}.backoff.factor"),
                    "a backoff factor of 0 means no wait after the first retry",
                    "use 1 for a fixed delay, or 2 to double it each time",
                );
            }
            if let Some(max) = b.max
                && max < b.duration
            {
                self.err(
                    format!("{path}.backoff.max"),
                    "the backoff cap is shorter than the first delay",
                    "make `max` at least `duration`",
                );
            }
        }
    }

    fn resources(&mut self, path: &str, r: &Resources) {
        let pairs = [
            ("cpu", r.requests.cpu.as_ref(), r.limits.cpu.as_ref()),
            (
                "memory",
                r.requests.memory.as_ref(),
                r.limits.memory.as_ref(),
            ),
            (
                "ephemeralStorage",
                r.requests.ephemeral_storage.as_ref(),
                r.limits.ephemeral_storage.as_ref(),
            ),
        ];
        for (name, req, lim) in pairs {
            if let (Some(req), Some(lim)) = (req, lim)
                && req.value() > lim.value()
            {
                self.err(
                    format!("{path}.requests.{name}"),
                    format!("the {name} request ({req}) is above its limit ({lim})"),
                    "lower the request or raise the limit",
                );
            }
        }
        if let (Some(req), Some(lim)) = (r.requests.gpu, r.limits.gpu)
            && req != lim
        {
            self.err(
                format!("{path}.requests.gpu"),
                "GPU requests and limits must be equal",
                "set the same number in both, or only one of them",
            );
        }
    }

    fn schedule(&mut self, s: &Schedule) {
        if let Err(why) = crate::cron::check(&s.cron) {
            self.err(
                "schedule.cron",
                format!("`{}` is not a cron schedule Argo accepts: {why}", s.cron),
                "write five fields `minute hour day-of-month month day-of-week` (minute 0-59, hour 0-23, day 1-31, month 1-12 or jan-dec, weekday 0-6 or sun-sat; `*`, `a-b`, `/step`, lists), e.g. `0 2 * * *`, or a macro such as `@daily`",
            );
        }
        if let Some(tz) = &s.timezone
            && !crate::cron::is_time_zone(tz)
        {
            self.err(
                "schedule.timezone",
                format!("`{tz}` is not an IANA time zone"),
                "use a tzdata name such as `UTC` or `Asia/Shanghai`",
            );
        }
    }

    fn volumes(&mut self) {
        let mut seen = HashSet::new();
        let names = self
            .wf
            .volumes
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("volumes[{i}].name"), v.name.as_str()));
        let claims = self
            .wf
            .volume_claims
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("volumeClaims[{i}].name"), v.name.as_str()));
        let all: Vec<(String, &str)> = names.chain(claims).collect();
        for (path, name) in all {
            if let Some(why) = dns1123_problem(name) {
                self.err(
                    &path,
                    format!("invalid volume name `{name}`: {why}"),
                    format!("try `{}`", to_dns1123(name)),
                );
            }
            if !seen.insert(name) {
                self.err(
                    &path,
                    format!("volume `{name}` is declared twice"),
                    "rename or remove one of them",
                );
            }
        }
    }

    fn cycles(&mut self) {
        let wf = self.wf;
        if let Err(cycle) = Graph::new(wf).topological_order() {
            let (first, shown) = circle(cycle, &wf.steps);
            self.err(format!("steps[{first}]"), format!("the steps depend on each other in a cycle: {shown}"), "remove one of these dependencies (a `dependsOn` entry or a reference to an output)");
        }
        if let Err(cycle) = Graph::of_exit_handler(wf).topological_order() {
            let (first, shown) = circle(cycle, &wf.on_exit);
            self.err(exit_path(wf, first), format!("the exit steps depend on each other in a cycle: {shown}"), "remove one of these dependencies (a `dependsOn` entry or a reference to an output)");
        }
    }
}

/// A cycle among `steps` as `a → b → a`, starting at the step that comes first in the file;
/// with that step's index.
fn circle(cycle: crate::Cycle, steps: &[Step]) -> (usize, String) {
    let mut at = cycle.steps;
    let first_at = (0..at.len()).min_by_key(|&i| at[i]).unwrap_or(0);
    at.rotate_left(first_at);
    let names: Vec<&str> = at.iter().map(|&i| steps[i].name.as_str()).collect();
    let mut shown = names.join(" → ");
    if let Some(n) = names.first() {
        shown.push_str(&format!(" → {n}"));
    }
    (at.first().copied().unwrap_or(0), shown)
}

/// Where a name stands: the `name` of a step, an exit step or a group.
#[derive(Clone, Copy)]
enum NameAt {
    Step(usize),
    Exit(usize),
    Group(usize),
}

impl NameAt {
    fn path(self, wf: &Workflow) -> String {
        match self {
            NameAt::Step(i) => format!("steps[{i}].name"),
            NameAt::Exit(i) => format!("{}.name", exit_path(wf, i)),
            NameAt::Group(i) => format!("groups[{i}].name"),
        }
    }
}

/// Where exit step `i` is in the spec: `onExit` when it is the only one (written as a mapping),
/// else `onExit[i]`.
fn exit_path(wf: &Workflow, i: usize) -> String {
    if wf.on_exit.len() == 1 {
        "onExit".to_string()
    } else {
        format!("onExit[{i}]")
    }
}

fn type_name(ty: ParamType) -> &'static str {
    match ty {
        ParamType::String => "string",
        ParamType::Int => "int",
        ParamType::Float => "float",
        ParamType::Bool => "bool",
        ParamType::Json => "json",
    }
}

fn type_mismatch(ty: ParamType, v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    let ok = match ty {
        ParamType::String => v.is_string(),
        ParamType::Int => v.is_i64() || v.is_u64(),
        ParamType::Float => v.is_number(),
        ParamType::Bool => v.is_boolean(),
        ParamType::Json => true,
    };
    if ok {
        return None;
    }
    let found = match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    };
    Some(format!(
        "is {found}, but the parameter's type is `{}`",
        type_name(ty)
    ))
}

fn has_non_finite(e: &Expr) -> bool {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Literal(Literal::Number(n)) if !n.is_finite() => return true,
            Expr::Compare { left, right, .. } | Expr::And(left, right) | Expr::Or(left, right) => {
                stack.push(left);
                stack.push(right);
            }
            Expr::Not(inner) => stack.push(inner),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Template;

    #[test]
    fn dns_names() {
        assert!(dns1123_problem("train-model-2").is_none());
        assert!(dns1123_problem("Train").is_some());
        assert!(dns1123_problem("-a").is_some());
        assert!(dns1123_problem(&"a".repeat(64)).is_some());
        assert_eq!(to_dns1123("mProject_ID0000001"), "mproject-id0000001");
        assert_eq!(to_dns1123("__"), "step");
        assert!(dns1123_problem(&to_dns1123(&"X_".repeat(100))).is_none());
    }

    #[test]
    fn identifiers() {
        assert!(identifier_problem("batch_size").is_none());
        assert!(identifier_problem("model-path").is_none());
        assert!(identifier_problem("1x").is_some());
        assert!(identifier_problem("a.b").is_some());
    }

    fn one_step(step: Step) -> Workflow {
        let mut wf = Workflow::new("w");
        wf.params.push(WorkflowParam {
            name: "x".into(),
            ty: ParamType::Json,
            default: Some(serde_json::json!([1])),
            description: None,
            allowed: Vec::new(),
        });
        wf.steps.push(step);
        wf
    }

    fn errors(wf: &Workflow) -> Vec<String> {
        validate(wf)
            .into_iter()
            .filter(Diagnostic::is_error)
            .map(|d| d.message)
            .collect()
    }

    #[test]
    fn code_built_ir_must_print_back_the_same() {
        let container = Container {
            image: Some("alpine".into()),
            command: vec![Template::text("echo {{params.x}}")],
            ..Container::default()
        };
        let wf = one_step(Step::new("a", StepKind::Container(container)));
        assert!(
            errors(&wf)[0].contains("would read back as a reference"),
            "{:?}",
            errors(&wf)
        );

        let mut step = Step::new("a", StepKind::Suspend(Suspend::default()));
        step.when = Some(Expr::compare(
            crate::CmpOp::Eq,
            Reference::Param("x".into()),
            f64::NAN,
        ));
        assert!(errors(&one_step(step))[0].contains("not finite"));
    }

    #[test]
    fn params_and_items_are_not_artifact_sources() {
        let mut step = Step::new("a", StepKind::Suspend(Suspend::default()));
        step.inputs.artifacts.push(InputArtifact {
            name: "d".into(),
            path: "d".into(),
            source: Some(ArtifactSource::From(Reference::Param("x".into()))),
            optional: false,
        });
        assert_eq!(
            errors(&one_step(step.clone())),
            vec!["`params.x` cannot be used here"]
        );
        step.inputs.artifacts.clear();
        step.map = Some(Box::new(Map {
            over: MapOver::From(Reference::Item(Vec::new())),
            parallelism: None,
        }));
        assert_eq!(
            errors(&one_step(step.clone())),
            vec!["`item` cannot be used here"]
        );
        step.map = Some(Box::new(Map {
            over: MapOver::From(Reference::Param("x".into())),
            parallelism: None,
        }));
        assert!(errors(&one_step(step)).is_empty());
    }

    #[test]
    fn exit_dependency_suggestions_are_deterministic() {
        // `a` is as close to `x1` as to `x2`: the suggestion must not depend on hash order.
        let suspend = || StepKind::Suspend(Suspend::default());
        let mut wf = one_step(Step::new("a", suspend()));
        let mut first = Step::new("x1", suspend());
        first.depends_on.push("a".into());
        wf.on_exit = vec![first, Step::new("x2", suspend())];
        for _ in 0..32 {
            let helps: Vec<_> = validate(&wf).into_iter().filter_map(|d| d.help).collect();
            assert_eq!(helps, vec!["did you mean `x1`?"]);
        }
    }
}

#[cfg(test)]
mod daemon_tests {
    use crate::spec;

    fn errors(steps: &str) -> Vec<String> {
        let text = format!("apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\n{steps}");
        let wf: crate::Workflow = serde_norway::from_str(&text).expect("parses");
        super::validate(&wf)
            .into_iter()
            .filter(crate::Diagnostic::is_error)
            .map(|d| format!("{}: {}", d.path.unwrap_or_default(), d.message))
            .collect()
    }

    #[test]
    fn a_daemon_has_no_outputs_cache_loop_or_map_and_is_not_an_exit_step() {
        let daemon = "container: {image: redis, daemon: true}";
        let ok = errors(&format!(
            "steps:\n  - name: d\n    {daemon}\n    timeout: 1h\n    retry: {{limit: 2}}\n    continueOnFailure: true\n  - name: c\n    container: {{image: a, args: ['{{{{steps.d.ip}}}}', '{{{{steps.d.status}}}}']}}\n"
        ));
        assert!(ok.is_empty(), "{ok:?}");
        for (extra, want) in [
            ("map: {items: [1, 2]}", "cannot be mapped"),
            (
                "repeat: {while: 'steps.d.status == \"x\"', maxIterations: 2}",
                "cannot `repeat`",
            ),
            (
                "outputs: {parameters: [{name: p, path: /p}]}",
                "has no outputs",
            ),
            ("cache: {enabled: true}", "cannot be cached"),
        ] {
            let e = errors(&format!("steps:\n  - name: d\n    {daemon}\n    {extra}\n"));
            assert!(
                e.iter()
                    .any(|m| m.starts_with("steps[0].container.daemon: ") && m.contains(want)),
                "{extra}: {e:?}"
            );
        }
        let e = errors(
            "steps:\n  - name: d\n    script: {source: x, daemon: true}\n    outputs: {parameters: [{name: p}]}\n",
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("steps[0].script.daemon: ") && m.contains("has no outputs")),
            "{e:?}"
        );
        let e = errors(&format!(
            "steps:\n  - name: a\n    {daemon}\nonExit:\n  - name: d\n    {daemon}\n"
        ));
        assert!(
            e.iter()
                .any(|m| m.contains("the exit handler cannot hold a daemon")),
            "{e:?}"
        );
        let e = errors(&format!(
            "steps:\n  - name: d\n    {daemon}\n  - name: c\n    when: steps.d.ip == \"x\"\n    {daemon}\n"
        ));
        assert!(
            e.iter().any(|m| m.contains("only be read in a string")),
            "{e:?}"
        );
        let e = errors(&format!(
            "steps:\n  - name: d\n    {daemon}\n  - name: c\n    container: {{image: a, args: ['{{{{steps.d.exitCode}}}}']}}\n"
        ));
        assert!(
            e.iter()
                .any(|m| m.contains("is a daemon") && m.contains("exit code")),
            "{e:?}"
        );
        // Printed back as it was read.
        let wf = spec::parse(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\nsteps:\n  - name: d\n    container: {image: redis, daemon: true}\n",
            spec::Format::Yaml,
        )
        .expect("valid");
        assert!(spec::to_yaml(&wf).contains("daemon: true"));
        assert!(wf.steps[0].is_daemon());
        assert!(wf.memoized(&wf.steps[0]).is_none());
    }
}
