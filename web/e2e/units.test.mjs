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
