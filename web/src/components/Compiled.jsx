import { useEffect, useState } from 'react';
import { api } from '../api.js';

const TARGETS = [
  ['argo', 'Argo'],
  ['airflow', 'Airflow'],
  ['tekton', 'Tekton'],
];

/**
 * The run's workflow compiled for an engine (GET …/compiled?target=), as `couler compile`
 * writes it: each file under its name, the backend's warnings, or its refusal in its words.
 */
export function Compiled({ runPath }) {
  const [target, setTarget] = useState('argo');
  const [out, setOut] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    const stop = new AbortController();
    setOut(null);
    setError('');
    api('GET', `${runPath}/compiled?target=${target}`, undefined, stop.signal).then(setOut, (e) => {
      if (!stop.signal.aborted) setError(e.message);
    });
    return () => stop.abort();
  }, [runPath, target]);
  return (
    <div className="compiled">
      <label>
        Engine{' '}
        <select value={target} onChange={(e) => setTarget(e.target.value)}>
          {TARGETS.map(([v, label]) => (
            <option key={v} value={v}>
              {label}
            </option>
          ))}
        </select>
      </label>
      {error && <p role="alert" className="error">{error}</p>}
      {!out && !error && <p className="loading">Compiling…</p>}
      {out?.refused && (
        <p role="alert" className="error" data-testid="compile-refused">
          {out.target} refuses this workflow: {out.refused}
        </p>
      )}
      {out?.warnings.map((w) => (
        <p key={w} className="help">
          warning: {w}
        </p>
      ))}
      {out &&
        Object.entries(out.files).map(([name, text]) => (
          <section key={name}>
            <h3>{name}</h3>
            <pre className="yaml" data-testid="compiled" tabIndex={0}>
              {text}
            </pre>
          </section>
        ))}
    </div>
  );
}
