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
 * from the run's first start, in order of start; a step still running ends at `now`.
 * `{origin, span, rows: [{node, step, status, attempts, start, secs, startedAt}]}`.
 */
export function ganttRows(steps, now) {
  const started = steps.filter((s) => s.startedAt != null);
  if (started.length === 0) return { origin: now, span: 0, rows: [] };
  const origin = Math.min(...started.map((s) => s.startedAt));
  const rows = started
    .map((s) => {
      const end = s.finishedAt ?? now;
      return {
        node: s.node,
        step: s.step,
        status: s.status,
        attempts: s.attempts,
        startedAt: s.startedAt,
        start: s.startedAt - origin,
        secs: Math.max(0, end - s.startedAt),
      };
    })
    .sort((a, b) => a.start - b.start || a.node.localeCompare(b.node));
  const span = Math.max(...rows.map((r) => r.start + r.secs));
  return { origin, span, rows };
}
