import { useEffect, useMemo, useState } from 'react';
import { ganttRows, tickLabel, ticks } from '../charts/scale.js';
import { duration, when } from '../format.js';

const ROW = 22;
const LABEL = 150;
const WIDTH = 900;
const AXIS = 24;

/**
 * A run's steps over time, hand-drawn in SVG: one bar per step or map instance, coloured by
 * its status, split into a segment per attempt (each coloured by how it ended) where the
 * runtime recorded them, a step retried marked with its attempts (×N), the critical path (the server's,
 * GET …/critical-path) outlined. Each bar takes the focus; hovering or focusing one shows its
 * step, attempts, start and duration below the chart (and in its tooltip).
 */
export function Gantt({ steps, critical }) {
  const live = Object.values(steps).some((s) => s.status === 'Running');
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    if (!live) return undefined;
    const t = setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => clearInterval(t);
  }, [live]);
  const { origin, span, rows } = useMemo(() => ganttRows(Object.values(steps), now), [steps, now]);
  const [shown, setShown] = useState(null);
  const onPath = new Set(critical || []);
  if (rows.length === 0) return <p className="loading">No step has started yet.</p>;
  const scale = (WIDTH - LABEL - 10) / (span || 1);
  const height = AXIS + rows.length * ROW + 4;
  const about = (r) =>
    `${r.node}: ${r.status}, ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}, started ${when(r.startedAt)}, took ${duration(0, r.secs)}${onPath.has(r.step) ? ', on the critical path' : ''}`;
  return (
    <div className="gantt" data-testid="gantt">
      <svg viewBox={`0 0 ${WIDTH} ${height}`} width="100%" role="group" aria-label="Steps over time">
        {ticks(span).map((t) => (
          <g key={t} className="tick" transform={`translate(${LABEL + t * scale},0)`}>
            <line y1={AXIS - 4} y2={height} />
            <text y={AXIS - 8} textAnchor="middle">
              {tickLabel(t)}
            </text>
          </g>
        ))}
        {rows.map((r, i) => (
          <g
            key={r.node}
            className={`bar state-${r.status.toLowerCase()}${onPath.has(r.step) ? ' critical' : ''}`}
            data-node={r.node}
            transform={`translate(0,${AXIS + i * ROW})`}
            tabIndex={0}
            role="img"
            aria-label={about(r)}
            onMouseEnter={() => setShown(r)}
            onFocus={() => setShown(r)}
          >
            <title>{about(r)}</title>
            <text x={LABEL - 6} y={ROW / 2 + 4} textAnchor="end">
              {r.node}
            </text>
            {r.segments.length === 0 ? (
              <rect x={LABEL + r.start * scale} y={3} width={Math.max(2, r.secs * scale)} height={ROW - 6} rx={2} />
            ) : (
              r.segments.map((t) => (
                <rect
                  key={t.attempt}
                  className={`segment state-${t.status.toLowerCase()}`}
                  data-attempt={t.attempt}
                  x={LABEL + t.start * scale}
                  y={3}
                  width={Math.max(2, t.secs * scale)}
                  height={ROW - 6}
                  rx={2}
                >
                  <title>{`attempt ${t.attempt}: ${t.status}, took ${duration(0, t.secs)}`}</title>
                </rect>
              ))
            )}
            {r.attempts > 1 && (
              <text className="attempts" x={LABEL + (r.start + r.secs) * scale + 4} y={ROW / 2 + 4}>
                ×{r.attempts}
              </text>
            )}
          </g>
        ))}
      </svg>
      <p className="gantt-about" aria-live="polite" data-testid="gantt-about">
        {shown ? about(shown) : `From ${when(origin)}; the critical path is outlined: ${(critical || []).join(' → ')}`}
      </p>
    </div>
  );
}
