import { useEffect, useState } from 'react';
import { api } from '../api.js';
import { stepOfPath } from './model.js';

const DEBOUNCE_MS = 300;

/**
 * The server's check of `yaml` (POST /api/v1/validate, couler validate's), asked again 300 ms
 * after the last change; an answer to older text is dropped.
 */
export function useValidation(yaml) {
  const [check, setCheck] = useState({ valid: false, pending: true, diagnostics: [] });
  useEffect(() => {
    const stop = new AbortController();
    setCheck((c) => ({ ...c, pending: true }));
    const t = setTimeout(() => {
      api('POST', '/validate', { spec: yaml }, stop.signal).then(
        (v) => setCheck({ valid: v.valid, pending: false, diagnostics: v.diagnostics, ir: v.ir }),
        (e) => !stop.signal.aborted && setCheck({ valid: false, pending: false, diagnostics: [{ severity: 'error', message: e.message }] }),
      );
    }, DEBOUNCE_MS);
    return () => {
      clearTimeout(t);
      stop.abort();
    };
  }, [yaml]);
  return check;
}

/** Every diagnostic, each naming its step (a button that selects it) and line. */
export function Diagnostics({ diagnostics, doc, onSelect }) {
  if (diagnostics.length === 0) return null;
  return (
    <ul className="diagnostics" aria-label="Problems" data-testid="diagnostics">
      {diagnostics.map((d, i) => {
        const step = stepOfPath(doc, d.path);
        return (
          <li key={i} className={d.severity}>
            <strong>{d.severity}</strong>
            {step && (
              <button type="button" className="link" onClick={() => onSelect(step)}>
                {step}
              </button>
            )}
            {d.line && <span className="where"> line {d.line}</span>}: {d.message}
            {d.help && <small> {d.help}</small>}
          </li>
        );
      })}
    </ul>
  );
}
