// Pure helpers of the hand-written SVG charts (Gantt, history): no DOM, no React.

/** Tick values for an axis from 0 to `span`: about `want` of them, at 1, 2 or 5 × 10^k. */
export function ticks(span, want = 6) {
  if (!(span > 0)) return [0];
  const raw = span / want;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw);
  const out = [];
  for (let t = 0; t <= span + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

/** A tick's label: seconds, or minutes past a minute. */
export function tickLabel(secs) {
  return secs >= 60 && secs % 60 === 0 ? `${secs / 60} min` : `${secs} s`;
}

/**
 * The Gantt's rows: each started step (or map instance) with its offset and length in seconds
 * from the run's first start, in order of start; a step still running ends at `now`. A step
 * with `tries` (its ended attempts, GET /runs/ID) also gets a segment per attempt, and one for
 * the attempt still running; without them (a cluster engine's run) `segments` is empty.
 * `{origin, span, rows: [{node, step, status, attempts, start, secs, startedAt, segments:
 * [{attempt, status, start, secs}]}]}`.
 */
export function ganttRows(steps, now) {
  const started = steps.filter((s) => s.startedAt != null);
  if (started.length === 0) return { origin: now, span: 0, rows: [] };
  const origin = Math.min(...started.flatMap((s) => [s.startedAt, ...(s.tries || []).map((t) => t.startedAt)]));
  const rows = started
    .map((s) => {
      const segments = segmentsOf(s, now).map((t) => ({ ...t, start: t.from - origin, secs: Math.max(0, t.to - t.from) }));
      const first = Math.min(s.startedAt, ...segments.map((t) => t.from));
      const end = Math.max(s.finishedAt ?? now, ...segments.map((t) => t.to));
      return {
        node: s.node,
        step: s.step,
        status: s.status,
        attempts: s.attempts,
        startedAt: first,
        start: first - origin,
        secs: Math.max(0, end - first),
        segments,
      };
    })
    .sort((a, b) => a.start - b.start || a.node.localeCompare(b.node));
  const span = Math.max(...rows.map((r) => r.start + r.secs));
  return { origin, span, rows };
}

function segmentsOf(s, now) {
  const tries = (s.tries || []).map((t) => ({ attempt: t.attempt, status: t.status, from: t.startedAt, to: t.finishedAt ?? now }));
  if (tries.length > 0 && s.status === 'Running') {
    const last = tries[tries.length - 1];
    tries.push({ attempt: last.attempt + 1, status: 'Running', from: Math.max(last.to, s.startedAt), to: now });
  }
  return tries;
}
