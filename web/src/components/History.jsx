import { Sparkline } from '../charts/Sparkline.jsx';
import { kib } from '../format.js';

const secs = (s) => `${s.toFixed(s < 10 ? 2 : 1)} s`;

/**
 * Each step's duration and peak memory across the workflow's runs (GET …/history, oldest
 * left), the run being viewed marked.
 */
export function History({ history, names, current }) {
  const runs = [...history.runs].reverse();
  return (
    <div className="history">
      <p className="help">
        {runs.length} run{runs.length === 1 ? '' : 's'} of {history.workflow}, oldest first; the larger point is this run.
      </p>
      {names.map((name) => (
        <section key={name} className="history-step" aria-label={`step ${name}`}>
          <h3>{name}</h3>
          <div className="sparks">
            <Sparkline
              label="duration"
              current={current}
              format={secs}
              points={runs.map((r) => ({ id: r.id, value: r.steps[name]?.seconds ?? null }))}
            />
            <Sparkline
              label="peak memory"
              current={current}
              format={kib}
              points={runs.map((r) => ({ id: r.id, value: r.steps[name]?.peakRssKb ?? null }))}
            />
          </div>
        </section>
      ))}
    </div>
  );
}
