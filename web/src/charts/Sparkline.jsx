/**
 * A small hand-drawn SVG line chart of one value across runs (oldest left): a point per run
 * that has the value, the run being viewed drawn larger, each point's value in its tooltip.
 */
export function Sparkline({ label, points, current, format }) {
  const W = 220;
  const H = 56;
  const P = 6;
  const shown = points.filter((p) => p.value != null);
  const max = Math.max(...shown.map((p) => p.value), 0) || 1;
  const x = (i) => (points.length < 2 ? W / 2 : P + (i * (W - 2 * P)) / (points.length - 1));
  const y = (v) => H - P - (v / max) * (H - 2 * P);
  const at = points.map((p, i) => ({ ...p, x: x(i) })).filter((p) => p.value != null);
  const line = at.map((p) => `${p.x.toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
  return (
    <figure className="spark" data-testid="history-chart" data-points={at.length}>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={`${label}: ${at.map((p) => format(p.value)).join(', ')}`}>
        <line className="axis" x1={P} x2={W - P} y1={H - P} y2={H - P} />
        <polyline points={line} />
        {at.map((p) => (
          <circle key={p.id} cx={p.x} cy={y(p.value)} r={p.id === current ? 4.5 : 2.5} className={p.id === current ? 'current' : ''}>
            <title>{`${p.id}: ${format(p.value)}`}</title>
          </circle>
        ))}
      </svg>
      <figcaption>
        {label} (max {format(max)})
      </figcaption>
    </figure>
  );
}
