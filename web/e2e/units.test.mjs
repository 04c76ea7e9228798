// Unit tests of the UI's pure modules, with node's own runner (`node --test`), started by
// crates/couler-cli/tests/web_ui.rs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layered } from '../src/layered.js';
import { ganttRows, ticks } from '../src/charts/scale.js';

test('the layered layout puts each step below its predecessors, none overlapping', () => {
  // 2,000 steps in layers of 20, each after two of the layer before (as scripts/bench-ui).
  const nodes = [];
  const edges = [];
  for (let i = 0; i < 2000; i++) {
    nodes.push({ name: `s${i}` });
    const layer = Math.floor(i / 20);
    if (layer > 0) for (const j of [i - 20, layer * 20 - 20 + ((i + 1) % 20)]) edges.push({ from: `s${j}`, to: `s${i}` });
  }
  const started = performance.now();
  const pos = layered(nodes, edges, { w: 170, h: 44, gap: 30, rankGap: 50 });
  assert.ok(performance.now() - started < 1000, 'linear: well under a second');
  for (const e of edges) assert.ok(pos[e.to].y > pos[e.from].y, `${e.from} above ${e.to}`);
  const seen = new Set(Object.values(pos).map((p) => `${p.x},${p.y}`));
  assert.equal(seen.size, 2000, 'no two steps in one place');
  // A step after a deep chain and a root sits below the chain's end.
  const p = layered(
    [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }],
    [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'a', to: 'c' }, { from: 'd', to: 'c' }],
    { w: 10, h: 10, gap: 0, rankGap: 0 },
  );
  assert.deepEqual([p.a.y, p.b.y, p.c.y, p.d.y], [5, 15, 25, 5]);
});

test('axis ticks fall at 1, 2 or 5 times a power of ten, within the span', () => {
  assert.deepEqual(ticks(10), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(ticks(0.9, 3), [0, 0.5]);
  assert.deepEqual(ticks(0), [0]);
});

test('gantt rows start at the first step and a running one ends now', () => {
  const { span, rows } = ganttRows(
    [
      { node: 'b', step: 'b', status: 'Running', attempts: 2, startedAt: 105, finishedAt: null },
      { node: 'a', step: 'a', status: 'Succeeded', attempts: 1, startedAt: 100, finishedAt: 103 },
      { node: 'c', step: 'c', status: 'Pending', attempts: 0, startedAt: null, finishedAt: null },
    ],
    110,
  );
  assert.deepEqual(
    rows.map((r) => [r.node, r.start, r.secs]),
    [
      ['a', 0, 3],
      ['b', 5, 5],
    ],
  );
  assert.equal(span, 10);
});

// The editor's model (web/src/editor/model.js) and YAML writer (yaml.js).
import { addStep, connect, disconnect, graph, refusal, setWith, stepOfPath, uniqueName } from '../src/editor/model.js';
import { toYaml } from '../src/editor/yaml.js';

const ZOO = [
  { name: 'split', version: 1, inputs: [{ name: 'data' }], params: [{ name: 'label', type: 'string', default: 'label' }], outputs: { artifacts: [{ name: 'train' }, { name: 'test' }] } },
  { name: 'evaluate', version: 1, inputs: [{ name: 'model' }], outputs: { parameters: [{ name: 'score' }] } },
  { name: 'select-best', version: 1, inputs: [{ name: 'models', list: true }], params: [{ name: 'scores', type: 'json' }], outputs: {} },
];

test('adding steps gives unique names; connections bind as a hand-written spec does', () => {
  let doc = { name: 'w', steps: [] };
  let r = addStep(doc, ZOO[0]);
  doc = r.doc;
  r = addStep(doc, ZOO[0]);
  doc = r.doc;
  assert.equal(r.name, 'split-2');
  assert.equal(uniqueName(doc, 'split'), 'split-3');
  doc = addStep(doc, ZOO[1]).doc;
  doc = addStep(doc, ZOO[2]).doc;
  doc = connect(doc, { source: 'split', sourceHandle: 'out:artifacts:train', target: 'evaluate', targetHandle: 'in:model' }, ZOO);
  doc = connect(doc, { source: 'split', sourceHandle: 'out:artifacts:train', target: 'select-best', targetHandle: 'in:models' }, ZOO);
  doc = connect(doc, { source: 'split-2', sourceHandle: 'out:artifacts:test', target: 'select-best', targetHandle: 'in:models' }, ZOO);
  doc = connect(doc, { source: 'evaluate', sourceHandle: 'out:parameters:score', target: 'select-best', targetHandle: 'in:scores' }, ZOO);
  doc = connect(doc, { source: 'split', sourceHandle: 'after', target: 'split-2', targetHandle: 'before' }, ZOO);
  assert.deepEqual(doc.steps[2].with, { model: 'steps.split.outputs.artifacts.train' });
  assert.deepEqual(doc.steps[3].with, {
    models: ['steps.split.outputs.artifacts.train', 'steps.split-2.outputs.artifacts.test'],
    scores: ['{{steps.evaluate.outputs.parameters.score}}'],
  });
  assert.deepEqual(doc.steps[1].dependsOn, ['split']);
  // An artifact cannot feed a parameter, nor a step itself.
  assert.match(refusal(doc, { source: 'split', sourceHandle: 'out:artifacts:test', target: 'select-best', targetHandle: 'in:scores' }, ZOO), /cannot feed a parameter/);
  assert.match(refusal(doc, { source: 'split', sourceHandle: 'after', target: 'split', targetHandle: 'before' }, ZOO), /itself/);
  // The graph draws each binding handle to handle; removing one edge removes that binding only.
  const g = graph(doc, ZOO);
  assert.equal(g.edges.length, 5);
  const e = g.edges.find((x) => x.target === 'select-best' && x.source === 'split-2');
  assert.equal(e.targetHandle, 'in:models');
  doc = disconnect(doc, e);
  assert.deepEqual(doc.steps[3].with.models, ['steps.split.outputs.artifacts.train']);
  doc = disconnect(doc, graph(doc, ZOO).edges.find((x) => x.sourceHandle === 'after'));
  assert.equal('dependsOn' in doc.steps[1], false);
  assert.equal(stepOfPath(doc, 'steps[2].with.model'), 'evaluate');
});

test('edits keep every key the canvas does not show, and a step the zoo does not know', () => {
  const doc = {
    name: 'w',
    params: [{ name: 'n', default: 3 }],
    steps: [
      { name: 'a', uses: 'zoo/split@1', when: '{{params.n}} > 2', retry: { limit: 2 }, with: { data: 'x' } },
      { name: 'b', container: { image: 'alpine', command: ['echo', '{{steps.a.outputs.parameters.n_train}}'] }, map: { items: [1, 2] } },
    ],
  };
  const next = setWith(doc, 'a', 'label', 'churned');
  assert.deepEqual(next.steps[0], { ...doc.steps[0], with: { data: 'x', label: 'churned' } });
  assert.deepEqual(next.steps[1], doc.steps[1]);
  assert.deepEqual(next.params, doc.params);
  assert.deepEqual(setWith(next, 'a', 'label', undefined), doc);
  // A reference outside `with:` is drawn, not removable.
  const g = graph(doc, ZOO);
  assert.deepEqual(g.edges.map((e) => [e.source, e.target, e.removable]), [['a', 'b', false]]);
});

test('the YAML writer quotes what YAML would read otherwise, and writes multi-line text as literal blocks (read back by the server in ui.mjs)', () => {
  const doc = {
    name: 'w',
    description: 'a: b # not a comment',
    steps: [
      { name: 'y', with: { on: 'yes', n: 5, f: 0.25, t: true, z: null, empty: '', list: [], map: {}, num: '42', date: '2024-01-01' } },
      { name: 's', with: { source: 'import os\n\nprint(1)\n', strip: 'a\nb', keep: 'a\n\n', lead: ' x\ny', nested: [['a', { k: 'v' }], { m: [1] }] } },
    ],
  };
  const text = toYaml(doc);
  assert.match(text, /source: \|\n {6}import os\n\n {6}print\(1\)\n/);
  assert.match(text, /"on": "yes"\n    "n": 5/);
  assert.match(text, /num: "42"/);
  assert.match(text, /description: "a: b # not a comment"/);
  assert.match(text, /strip: \|-\n/);
  assert.match(text, /keep: \|\+\n/);
  assert.match(text, /lead: " x\\ny"/);
  assert.match(text, /- - a\n {6}- k: v\n/);
});

test('gantt rows split a retried step into a segment per attempt, the running one until now', () => {
  const { origin, rows } = ganttRows(
    [
      {
        node: 'r', step: 'r', status: 'Running', attempts: 3, startedAt: 104, finishedAt: null,
        tries: [
          { attempt: 1, status: 'Failed', startedAt: 100, finishedAt: 101 },
          { attempt: 2, status: 'Error', startedAt: 102, finishedAt: 104 },
        ],
      },
      { node: 'remote', step: 'remote', status: 'Succeeded', attempts: 2, startedAt: 101, finishedAt: 103 },
    ],
    110,
  );
  assert.equal(origin, 100);
  assert.deepEqual(
    rows[0].segments.map((t) => [t.attempt, t.status, t.start, t.secs]),
    [
      [1, 'Failed', 0, 1],
      [2, 'Error', 2, 2],
      [3, 'Running', 4, 6],
    ],
  );
  assert.deepEqual([rows[0].start, rows[0].secs], [0, 10]);
  assert.deepEqual(rows[1].segments, [], 'no tries (a cluster engine): the one bar');
});
