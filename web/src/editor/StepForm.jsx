import { useEffect, useState } from 'react';

// The selected step's form, generated from its zoo entry's typed parameters and inputs: each a
// labelled field showing the default; an empty field leaves the default. Values are written to
// the step's `with:` as a hand-written spec has them (numbers and booleans as YAML scalars,
// `json` parameters as their JSON value); text that is not of the type is kept as written, and
// the server's diagnostic says what is wrong with it.

function parse(type, text) {
  if (text === '') return undefined;
  if (type === 'int' || type === 'float') {
    const n = Number(text);
    return text.trim() !== '' && Number.isFinite(n) && (type === 'float' || Number.isInteger(n)) ? n : text;
  }
  if (type === 'json') {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function shown(type, value) {
  if (value === undefined) return '';
  if (type === 'json' && typeof value !== 'string') return JSON.stringify(value);
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** One field; its text is kept while typed, written on each change. */
function Field({ id, type, value, onChange, multiline }) {
  const [text, setText] = useState(shown(type, value));
  useEffect(() => setText(shown(type, value)), [type, value]);
  const change = (t) => {
    setText(t);
    onChange(parse(type, t));
  };
  if (multiline) return <textarea id={id} rows={6} value={text} onChange={(e) => change(e.target.value)} />;
  return <input id={id} type="text" inputMode={type === 'int' || type === 'float' ? 'decimal' : undefined} value={text} onChange={(e) => change(e.target.value)} />;
}

export function StepForm({ step, entry, diagnostics, onWith, onRemove }) {
  const w = step.with || {};
  const id = (k) => `with-${step.name}-${k}`;
  return (
    <form className="step-form" aria-label={`Step ${step.name}`} onSubmit={(e) => e.preventDefault()}>
      <h2>{step.name}</h2>
      {entry ? <p className="hint">{entry.description}</p> : <p className="hint">Not a zoo step: edit it in the YAML tab (the canvas keeps it as written).</p>}
      {entry?.params?.map((p) => (
        <div className="field" key={p.name}>
          {p.type === 'bool' ? (
            <label>
              <input type="checkbox" checked={w[p.name] ?? p.default ?? false} onChange={(e) => onWith(p.name, e.target.checked)} /> {p.name}
            </label>
          ) : (
            <>
              <label htmlFor={id(p.name)}>
                {p.name} <span className="type">{p.type}</span>
              </label>
              <Field id={id(p.name)} type={p.type} value={w[p.name]} multiline={p.name === 'source'} onChange={(v) => onWith(p.name, v)} />
            </>
          )}
          <small>
            {p.description} {'default' in p ? `Default: ${JSON.stringify(p.default)}.` : 'Required.'}
          </small>
        </div>
      ))}
      {entry?.inputs?.map((i) => (
        <div className="field" key={i.name}>
          <label htmlFor={id(i.name)}>
            {i.name} <span className="type">input{i.list ? ' list' : ''}</span>
          </label>
          <Field id={id(i.name)} type={i.list ? 'json' : 'string'} value={w[i.name]} onChange={(v) => onWith(i.name, v)} />
          <small>{i.description} Connect an output to it, or write `steps.STEP.outputs.artifacts.NAME`.</small>
        </div>
      ))}
      {diagnostics.length > 0 && (
        <ul className="diagnostics" aria-label={`Problems of ${step.name}`}>
          {diagnostics.map((d, i) => (
            <li key={i} className={d.severity}>
              {d.message}
              {d.help && <small> {d.help}</small>}
            </li>
          ))}
        </ul>
      )}
      <button type="button" onClick={onRemove}>
        Remove step
      </button>
    </form>
  );
}
