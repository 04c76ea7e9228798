import { useEffect, useState } from 'react';
import { api, download, streamText } from '../api.js';
import { duration, kib, stateClass } from '../format.js';

const ENDED = ['Succeeded', 'Failed', 'Error', 'Skipped', 'Cached', 'Stopped', 'Omitted'];

/** One step (or map instance): its record, inputs, outputs, logs and artifacts. */
export function StepPanel({ runId, node, step, spec, onClose }) {
  const base = `/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(node)}`;
  const running = step && !ENDED.includes(step.status);
  return (
    <aside className="panel" aria-labelledby="panel-title">
      <div className="panel-head">
        <h2 id="panel-title">{node}</h2>
        <button type="button" onClick={onClose} aria-label="Close the step panel">
          Close
        </button>
      </div>
      {!step ? (
        <p>Not started.</p>
      ) : (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <span className={stateClass(step.status)}>{step.status}</span>
            </dd>
            <dt>Attempts</dt>
            <dd>{step.attempts}</dd>
            <dt>Exit code</dt>
            <dd>{step.exitCode ?? ''}</dd>
            <dt>Duration</dt>
            <dd>{duration(step.startedAt, step.finishedAt)}</dd>
            <dt>Peak memory</dt>
            <dd>{kib(step.peakRssKb)}</dd>
            {step.message && (
              <>
                <dt>Message</dt>
                <dd>{step.message}</dd>
              </>
            )}
          </dl>
          <Json title="Inputs" value={spec?.inputs} />
          <Json title="Outputs" value={step.outputs && { parameters: step.outputs.parameters, result: step.outputs.result }} />
          <Logs path={`${base}/logs`} follow={running} key={`${node}/${step.attempts}/${running}`} />
          <Artifacts path={`${base}/artifacts`} status={step.status} />
        </>
      )}
    </aside>
  );
}

function Json({ title, value }) {
  const empty = !value || Object.values(value).every((v) => v == null || (typeof v === 'object' && !Object.keys(v).length));
  return (
    <section>
      <h3>{title}</h3>
      {empty ? <p className="help">none</p> : <pre className="json">{JSON.stringify(value, null, 2)}</pre>}
    </section>
  );
}

/** The step's logs, streamed (`?follow=true`) while it runs. */
function Logs({ path, follow }) {
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  useEffect(() => {
    const stop = new AbortController();
    setText('');
    streamText(`${path}${follow ? '?follow=true' : ''}`, (t) => setText((old) => old + t), stop.signal).catch((e) => {
      if (e.name !== 'AbortError') setError(e.message);
    });
    return () => stop.abort();
  }, [path, follow]);
  return (
    <section>
      <h3>Logs{follow ? ' (live)' : ''}</h3>
      {error && <p className="help">{error}</p>}
      <pre className="logs" data-testid="logs" tabIndex={0} aria-label="Step logs">
        {text}
      </pre>
    </section>
  );
}

function Artifacts({ path, status }) {
  const [list, setList] = useState([]);
  const [error, setError] = useState('');
  useEffect(() => {
    api('GET', path)
      .then((a) => setList(a.artifacts))
      .catch((e) => setError(e.message));
  }, [path, status]);
  return (
    <section>
      <h3>Artifacts</h3>
      {error && <p className="help">{error}</p>}
      {list.length === 0 ? (
        <p className="help">none</p>
      ) : (
        <ul>
          {list.map((a) => (
            <li key={a.name}>
              {a.kind === 'file' ? (
                <button type="button" className="link" onClick={() => download(`${path}/${encodeURIComponent(a.name)}`, a.name).catch((e) => setError(e.message))}>
                  {a.name}
                </button>
              ) : (
                a.name
              )}{' '}
              <span className="help">
                {a.kind}, {a.size} bytes
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
