// A layered top-to-bottom layout in linear time, for DAGs too large for dagre (whose
// crossing minimisation took about 50 s on 2,000 steps and 4,000 edges: docs/performance.md).
// Pure: no DOM, no React.

/**
 * Centre positions `{name: {x, y}}` of `nodes` (each `{name}`) with `edges` (`{from, to}`):
 * each node one rank below its deepest predecessor (longest path from a root), ranks ordered
 * by one downward sweep placing each node at the mean position of its predecessors (the
 * barycentre heuristic), then spread `w + gap` apart and centred.
 */
export function layered(nodes, edges, { w, h, gap, rankGap }) {
  const preds = new Map(nodes.map((n) => [n.name, []]));
  const succs = new Map(nodes.map((n) => [n.name, []]));
  for (const e of edges) {
    if (!preds.has(e.from) || !preds.has(e.to)) continue;
    preds.get(e.to).push(e.from);
    succs.get(e.from).push(e.to);
  }
  // Kahn's order; the server's graph has no cycle (a cyclic one is refused when submitted).
  const waiting = new Map(nodes.map((n) => [n.name, preds.get(n.name).length]));
  const queue = nodes.filter((n) => waiting.get(n.name) === 0).map((n) => n.name);
  const rank = new Map(queue.map((n) => [n, 0]));
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i];
    for (const s of succs.get(n)) {
      rank.set(s, Math.max(rank.get(s) ?? 0, rank.get(n) + 1));
      waiting.set(s, waiting.get(s) - 1);
      if (waiting.get(s) === 0) queue.push(s);
    }
  }
  const ranks = [];
  for (const n of queue) (ranks[rank.get(n)] ||= []).push(n);
  const slot = new Map();
  for (const row of ranks) {
    const mean = (n) => {
      const p = preds.get(n);
      return p.length ? p.reduce((a, q) => a + slot.get(q), 0) / p.length : slot.size;
    };
    const keyed = row.map((n, i) => [mean(n), i, n]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    keyed.forEach(([, , n], i) => slot.set(n, i - (row.length - 1) / 2));
  }
  const pos = {};
  for (const n of queue) pos[n] = { x: slot.get(n) * (w + gap), y: rank.get(n) * (h + rankGap) + h / 2 };
  return pos;
}
