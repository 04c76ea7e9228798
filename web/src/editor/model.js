// The editor's model: the spec document itself (as POST /api/v1/validate reads it, JSON). The
// canvas is drawn from it ([graph]) and each edit is a pure function document -> document that
// touches only the keys it is about, so whatever the canvas cannot show (loops, conditions,
// retries, comments aside) is kept verbatim and a document saved unchanged gives the same IR.

/** A zoo-expanded output bound as an artifact input: `steps.S.outputs.artifacts.N`. */
const ARTIFACT_REF = /^steps\.([a-z0-9-]+)\.outputs\.artifacts\.([\w-]+)$/;
/** An output parameter bound in a parameter: `{{steps.S.outputs.parameters.N}}`. */
const PARAM_REF = /^\{\{\s*steps\.([a-z0-9-]+)\.outputs\.parameters\.([\w-]+)\s*\}\}$/;
/** Any reference to another step, wherever it is (`when`, `env`, `source` …). */
const ANY_REF = /steps\.([a-z0-9-]+)\./g;

/** Generic handles: "run after" (a `dependsOn` entry). */
export const AFTER = 'after';
export const BEFORE = 'before';

const steps = (doc) => (Array.isArray(doc?.steps) ? doc.steps : []);

/** The zoo entry a step `uses`, if any (`zoo/NAME@VERSION`). */
export function entryOf(step, zoo) {
  const m = typeof step?.uses === 'string' && step.uses.match(/^zoo\/([\w-]+)@(\d+)$/);
  return m ? zoo.find((e) => e.name === m[1] && e.version === Number(m[2])) : undefined;
}

/** A step's output handles: its zoo entry's outputs, then its own `outputs:`. */
export function outputsOf(step, zoo) {
  const out = [];
  for (const src of [entryOf(step, zoo)?.outputs, step.outputs]) {
    for (const kind of ['artifacts', 'parameters']) {
      for (const o of src?.[kind] || []) if (o?.name) out.push({ id: `out:${kind}:${o.name}`, kind, name: o.name });
    }
  }
  return out;
}

/** A step's input handles: its zoo entry's inputs (artifacts) and parameters. */
export function inputsOf(step, zoo) {
  const e = entryOf(step, zoo);
  if (!e) return [];
  return [
    ...(e.inputs || []).map((i) => ({ id: `in:${i.name}`, kind: 'artifacts', name: i.name, list: !!i.list })),
    ...(e.params || []).map((p) => ({ id: `in:${p.name}`, kind: 'parameters', name: p.name, list: p.type === 'json' })),
  ];
}

/** `base`, or `base-2`, `base-3` … : the first name no step (or exit step) has. */
export function uniqueName(doc, base) {
  const taken = new Set([...steps(doc), ...(doc?.onExit || [])].map((s) => s.name));
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

function withSteps(doc, f) {
  return { ...doc, steps: f(steps(doc)) };
}

function editStep(doc, name, f) {
  return withSteps(doc, (all) => all.map((s) => (s.name === name ? f(s) : s)));
}

/** The document with a new step using zoo `entry`; and its name. */
export function addStep(doc, entry) {
  const name = uniqueName(doc, entry.name);
  const step = { name, uses: `zoo/${entry.name}@${entry.version}` };
  return { doc: withSteps(doc, (all) => [...all, step]), name };
}

/** Sets (or, for `undefined`, removes) a `with:` value of step `name`. */
export function setWith(doc, name, key, value) {
  return editStep(doc, name, (s) => {
    const w = { ...(s.with || {}) };
    if (value === undefined) delete w[key];
    else w[key] = value;
    const { with: _, ...rest } = s;
    return Object.keys(w).length ? { ...s, with: w } : rest;
  });
}

/** The document without step `name` (other steps' bindings to it stay: validation names them). */
export function removeStep(doc, name) {
  return withSteps(doc, (all) => all.filter((s) => s.name !== name));
}

function bound(ref, kind) {
  return kind === 'artifacts' ? ARTIFACT_REF.exec(ref) : PARAM_REF.exec(ref);
}

/**
 * Why `c` ({source, sourceHandle, target, targetHandle}) cannot be made, or '' when it can:
 * an artifact goes to an input, a parameter to a parameter, "after" to "before".
 */
export function refusal(doc, c, zoo) {
  if (c.source === c.target) return 'a step cannot feed itself';
  if ((c.sourceHandle === AFTER) !== (c.targetHandle === BEFORE)) return 'connect "after" to "before"';
  if (c.sourceHandle === AFTER) return '';
  const kind = c.sourceHandle?.split(':')[1];
  const target = steps(doc).find((s) => s.name === c.target);
  const input = inputsOf(target, zoo).find((i) => i.id === c.targetHandle);
  if (!input) return 'no such input';
  if (input.kind !== kind) return `an output ${kind === 'artifacts' ? 'artifact' : 'parameter'} cannot feed ${input.kind === 'artifacts' ? 'an input artifact' : 'a parameter'}`;
  return '';
}

/**
 * The document with connection `c` made as a hand-written spec says it: an output artifact
 * bound in the input's `with:` (`steps.S.outputs.artifacts.N`), an output parameter as
 * `{{steps.S.outputs.parameters.N}}`, appended where the input takes a list; "after" ->
 * "before" a `dependsOn` entry.
 */
export function connect(doc, c, zoo) {
  if (refusal(doc, c, zoo)) return doc;
  if (c.sourceHandle === AFTER) {
    return editStep(doc, c.target, (s) => {
      const deps = Array.isArray(s.dependsOn) ? s.dependsOn : [];
      return deps.includes(c.source) ? s : { ...s, dependsOn: [...deps, c.source] };
    });
  }
  const [, kind, out] = c.sourceHandle.split(':');
  const ref = kind === 'artifacts' ? `steps.${c.source}.outputs.artifacts.${out}` : `{{steps.${c.source}.outputs.parameters.${out}}}`;
  const target = steps(doc).find((s) => s.name === c.target);
  const input = inputsOf(target, zoo).find((i) => i.id === c.targetHandle);
  const old = target.with?.[input.name];
  if (!input.list) return setWith(doc, c.target, input.name, ref);
  const list = Array.isArray(old) ? old : [];
  return list.includes(ref) ? doc : setWith(doc, c.target, input.name, [...list, ref]);
}

/** The document without edge `e` (one of [graph]'s, `removable`). */
export function disconnect(doc, e) {
  if (e.sourceHandle === AFTER) {
    return editStep(doc, e.target, (s) => {
      const deps = (s.dependsOn || []).filter((d) => d !== e.source);
      const { dependsOn: _, ...rest } = s;
      return deps.length ? { ...s, dependsOn: deps } : rest;
    });
  }
  const key = e.targetHandle.slice(3);
  const step = steps(doc).find((s) => s.name === e.target);
  const old = step.with?.[key];
  if (!Array.isArray(old)) return setWith(doc, e.target, key, undefined);
  const rest = old.filter((v) => v !== e.ref);
  return setWith(doc, e.target, key, rest.length ? rest : undefined);
}

function bindingEdges(step) {
  const edges = [];
  for (const [key, value] of Object.entries(step.with || {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v !== 'string') continue;
      for (const kind of ['artifacts', 'parameters']) {
        const m = bound(v, kind);
        if (m) edges.push({ source: m[1], sourceHandle: `out:${kind}:${m[2]}`, target: step.name, targetHandle: `in:${key}`, ref: v, removable: true });
      }
    }
  }
  return edges;
}

/**
 * What the canvas draws: a node per step (its zoo entry, input and output handles) and an edge
 * per binding (handle to handle), per `dependsOn` entry (after -> before) and per other
 * reference to a step (after -> before, not removable: edit it in the YAML).
 */
export function graph(doc, zoo) {
  const all = steps(doc);
  const names = new Set(all.map((s) => s.name));
  const nodes = all.map((s) => ({ name: s.name, entry: entryOf(s, zoo), inputs: inputsOf(s, zoo), outputs: outputsOf(s, zoo) }));
  const edges = [];
  for (const s of all) {
    const binds = bindingEdges(s);
    edges.push(...binds);
    for (const d of Array.isArray(s.dependsOn) ? s.dependsOn : []) edges.push({ source: d, sourceHandle: AFTER, target: s.name, targetHandle: BEFORE, removable: true });
    const drawn = new Set([...binds.map((b) => b.source), ...(s.dependsOn || [])]);
    for (const [, other] of JSON.stringify(s).matchAll(ANY_REF)) {
      if (other === s.name || drawn.has(other)) continue;
      drawn.add(other);
      edges.push({ source: other, sourceHandle: AFTER, target: s.name, targetHandle: BEFORE, removable: false });
    }
  }
  const seen = new Map();
  const valid = edges.filter((e) => names.has(e.source) && names.has(e.target));
  return {
    nodes,
    edges: valid.map((e) => {
      const base = `${e.source}:${e.sourceHandle}->${e.target}:${e.targetHandle}`;
      const n = (seen.get(base) || 0) + 1;
      seen.set(base, n);
      return { ...e, id: n > 1 ? `${base}#${n}` : base };
    }),
  };
}

/** The step a diagnostic's path (`steps[3].with.label`) is about, if any. */
export function stepOfPath(doc, path) {
  const m = typeof path === 'string' && path.match(/^steps\[(\d+)\]/);
  return m ? steps(doc)[Number(m[1])]?.name : undefined;
}

/** A new, empty document. */
export function blank() {
  return { apiVersion: 'couler.dev/v1alpha1', kind: 'Workflow', name: 'my-workflow', steps: [] };
}
