import { useState } from 'react';
import { when } from '../format.js';

/** The rows of the comparison: each parameter, then each step's output parameters and result. */
export function comparedRows(runs) {
  const keys = new Map();
  const add = (key, get) => keys.has(key) || keys.set(key, get);
  for (const r of runs) {
    for (const p of Object.keys(r.params)) add(`param ${p}`, (x) => x.params[p]);
    for (const [node, o] of Object.entries(r.outputs)) {
      for (const k of Object.keys(o.parameters || {})) add(`${node} output ${k}`, (x) => x.outputs[node]?.parameters?.[k]);
      if (o.result != null) add(`${node} result`, (x) => x.outputs[node]?.result);
    }
  }
  return [...keys].map(([key, get]) => {
    const values = runs.map((r) => get(r) ?? null);
    return { key, values, differs: values.some((v) => v !== values[0]) };
  });
}

/**
 * Runs of the workflow side by side (KFP's run comparison): pick two or more, see their
 * parameters and outputs in columns, the rows that differ highlighted.
 */
export function Compare({ history, current }) {
  // This run and the one before it (or the newest other), to start with.
  const [picked, setPicked] = useState(() => [current, ...history.runs.filter((r) => r.id !== current).slice(0, 1).map((r) => r.id)]);
  const chosen = history.runs.filter((r) => picked.includes(r.id));
  const toggle = (id) => setPicked((old) => (old.includes(id) ? old.filter((x) => x !== id) : [...old, id]));
  const rows = comparedRows(chosen);
  return (
    <div className="compare">
      <fieldset>
        <legend>Runs to compare</legend>
        {history.runs.map((r) => (
          <label key={r.id}>
            <input type="checkbox" checked={picked.includes(r.id)} onChange={() => toggle(r.id)} />
            {r.id} ({r.state}, {when(r.submittedAt)})
          </label>
        ))}
      </fieldset>
      {chosen.length < 2 ? (
        <p className="help">Pick two runs or more.</p>
      ) : (
        <div className="table-wrap">
          <table className="runs" data-testid="comparison">
            <thead>
              <tr>
                <th scope="col">What</th>
                {chosen.map((r) => (
                  <th key={r.id} scope="col">
                    {r.id}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.key} className={row.differs ? 'differs' : ''} data-key={row.key}>
                  <th scope="row">
                    {row.key}
                    {row.differs && <span className="differs-mark"> (differs)</span>}
                  </th>
                  {row.values.map((v, i) => (
                    <td key={chosen[i].id}>{v ?? '—'}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
