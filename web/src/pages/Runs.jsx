import { useCallback, useEffect, useState } from 'react';
import { api, followEvents } from '../api.js';
import { duration, STATES, stateClass, when } from '../format.js';
import { Link } from '../router.jsx';

const PAGE = 50;

/** The runs list: filters, search, pages, kept live by GET /api/v1/events. */
export function Runs() {
  const [runs, setRuns] = useState([]);
  const [next, setNext] = useState(null);
  const [state, setState] = useState('');
  const [workflow, setWorkflow] = useState('');
  const [user, setUser] = useState('');
  const [search, setSearch] = useState('');
  const [error, setError] = useState('');

  // The search box asks the server once typing pauses.
  const [q, setQ] = useState('');
  useEffect(() => {
    const t = setTimeout(() => setQ(search.trim()), 250);
    return () => clearTimeout(t);
  }, [search]);
  // Every workflow and user seen so far, for the pickers (a filtered page shows only its own).
  const [seen, setSeen] = useState({ workflows: [], users: [] });

  const load = useCallback(
    async (cont) => {
      const query = new URLSearchParams({ limit: String(PAGE) });
      for (const [k, v] of Object.entries({ state, workflow, user, q, continue: cont })) if (v) query.set(k, v);
      try {
        const page = await api('GET', `/runs?${query}`);
        setRuns((old) => (cont ? [...old, ...page.runs] : page.runs));
        setSeen((old) => ({
          workflows: [...new Set([...old.workflows, ...page.runs.map((r) => r.workflow)])].sort(),
          users: [...new Set([...old.users, ...page.runs.map((r) => r.submittedBy)])].sort(),
        }));
        setNext(page.continue);
        setError('');
      } catch (e) {
        setError(e.message);
      }
    },
    [state, workflow, user, q],
  );

  useEffect(() => {
    load(null);
  }, [load]);

  // Live: a known run's state changes in place; a new run reloads the first page.
  useEffect(() => {
    const stop = new AbortController();
    let reload = null;
    followEvents(
      '/events',
      (kind, e) => {
        if (kind === 'lagged') return load(null);
        if (kind !== 'run') return;
        setRuns((old) => {
          const i = old.findIndex((r) => r.id === e.run);
          if (i < 0) {
            clearTimeout(reload);
            reload = setTimeout(() => load(null), 200);
            return old;
          }
          const copy = old.slice();
          const now = Date.now() / 1000;
          const r = { ...copy[i], state: e.state, message: e.message };
          if (e.state === 'Running' && !r.startedAt) r.startedAt = now;
          if (e.state === 'Queued') r.finishedAt = null;
          if (['Succeeded', 'Failed', 'Error', 'Stopped'].includes(e.state) && !e.snapshot) r.finishedAt = now;
          copy[i] = r;
          return copy;
        });
      },
      stop.signal,
      () => load(null),
    );
    return () => {
      stop.abort();
      clearTimeout(reload);
    };
  }, [load]);

  return (
    <section>
      <h1>Runs</h1>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Choice label="State" value={state} onChange={setState} options={STATES} />
        <Choice label="Workflow" value={workflow} onChange={setWorkflow} options={seen.workflows} />
        <Choice label="User" value={user} onChange={setUser} options={seen.users} />
        <label>
          Search
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="id, workflow, user" />
        </label>
      </form>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <div className="table-wrap">
        <table className="runs">
          <thead>
            <tr>
              <th scope="col">State</th>
              <th scope="col">Run</th>
              <th scope="col">Workflow</th>
              <th scope="col">Namespace</th>
              <th scope="col">User</th>
              <th scope="col">Submitted</th>
              <th scope="col">Started</th>
              <th scope="col">Ended</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id} data-run={r.id}>
                <td>
                  <span className={stateClass(r.state)}>{r.state}</span>
                </td>
                <td>
                  <Link to={`/runs/${encodeURIComponent(r.id)}`}>{r.id}</Link>
                </td>
                <td>{r.workflow}</td>
                <td>{r.namespace}</td>
                <td>{r.submittedBy}</td>
                <td>{when(r.submittedAt)}</td>
                <td>{when(r.startedAt)}</td>
                <td>{when(r.finishedAt)}</td>
                <td>{duration(r.startedAt, r.finishedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {runs.length === 0 && <p>No runs{state || workflow || user || q ? ' match these filters' : ' yet'}.</p>}
      {next && (
        <button type="button" onClick={() => load(next)}>
          Load more
        </button>
      )}
    </section>
  );
}

/** A labelled select with `any` first. */
function Choice({ label, value, onChange, options }) {
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">any</option>
        {options.map((o) => (
          <option key={o}>{o}</option>
        ))}
      </select>
    </label>
  );
}
