import { useCallback, useEffect, useState } from 'react';
import { api, events, may } from '../api.js';
import { duration, stateClass, when } from '../format.js';
import { Dag } from '../components/Dag.jsx';
import { StepPanel } from '../components/StepPanel.jsx';
import { Actions } from '../components/Actions.jsx';
import { Gantt } from '../components/Gantt.jsx';
import { Compiled } from '../components/Compiled.jsx';
import { History } from '../components/History.jsx';
import { Compare } from '../components/Compare.jsx';
import { Tabs } from '../components/Tabs.jsx';
import { Link, navigate } from '../router.jsx';

const TABS = [
  ['graph', 'Graph'],
  ['gantt', 'Gantt'],
  ['history', 'History'],
  ['compare', 'Compare'],
  ['compile', 'Compile'],
  ['yaml', 'YAML'],
];

// A step's colour when it has several instances (a map): the most telling of theirs.
const ORDER = ['Running', 'Failed', 'Error', 'Stopped', 'Pending', 'Succeeded', 'Cached', 'Skipped', 'Omitted'];

function byStep(steps) {
  const out = {};
  for (const s of Object.values(steps)) {
    const old = out[s.step];
    if (!old || ORDER.indexOf(s.status) < ORDER.indexOf(old)) out[s.step] = s.status;
  }
  return out;
}

/** A run: its DAG live from the run's event stream, a step panel, actions and its YAML. */
export function Run({ me, id }) {
  const [run, setRun] = useState(null);
  const [steps, setSteps] = useState({});
  const [graph, setGraph] = useState(null);
  const [tab, setTab] = useState('graph');
  const [selected, setSelected] = useState(null);
  const [node, setNode] = useState(null);
  const [error, setError] = useState('');
  // Bumped by an action: the run is read and followed again.
  const [generation, setGeneration] = useState(0);
  const path = `/runs/${encodeURIComponent(id)}`;

  const refresh = useCallback(async () => {
    try {
      const r = await api('GET', path);
      setRun(r);
      setSteps(Object.fromEntries(r.steps.map((s) => [s.node, s])));
    } catch (e) {
      setError(e.message);
    }
  }, [path]);

  useEffect(() => {
    api('GET', `${path}/workflow`).then(setGraph, (e) => setError(e.message));
  }, [path]);

  // The critical path by actual durations: read again when the Gantt is shown and as the run
  // changes state (its steps' times are final once it has ended).
  const [critical, setCritical] = useState(null);
  const runState = run?.state;
  useEffect(() => {
    if (tab !== 'gantt') return;
    api('GET', `${path}/critical-path`).then((c) => setCritical(c.steps), (e) => setError(e.message));
  }, [path, tab, runState]);

  // The workflow's runs, for the history charts and the comparison.
  const [history, setHistory] = useState(null);
  useEffect(() => {
    if (tab !== 'history' && tab !== 'compare') return;
    api('GET', `${path}/history?limit=20`).then(setHistory, (e) => setError(e.message));
  }, [path, tab, runState]);

  useEffect(() => {
    const stop = new AbortController();
    refresh().then(() =>
      events(
        `${path}/events`,
        (kind, e) => {
          if (kind === 'step') setSteps((old) => ({ ...old, [e.node]: { ...old[e.node], ...e } }));
          else if (kind === 'run') setRun((old) => old && { ...old, state: e.state, message: e.message });
          else if (kind === 'lagged') refresh();
        },
        stop.signal,
      )
        .then(() => !stop.signal.aborted && refresh())
        .catch(() => {}),
    );
    return () => stop.abort();
  }, [path, refresh, generation]);

  if (error && !run) return <p role="alert" className="error">{error}</p>;
  if (!run || !graph) return <p className="loading">Loading…</p>;
  const statuses = byStep(steps);
  const instances = selected ? Object.values(steps).filter((s) => s.step === selected) : [];
  const shownNode = node || (instances.length === 1 ? instances[0].node : selected);
  const select = (name) => {
    setSelected(name);
    setNode(null);
  };
  return (
    <section className="run">
      <div className="run-head">
        <h1>
          {run.workflow} <span className="run-id">{run.id}</span>
        </h1>
        <span className={stateClass(run.state)} data-testid="run-state">
          {run.state}
        </span>
        <Link to={`/editor?run=${encodeURIComponent(run.id)}`} className="button">
          Edit
        </Link>
        {may(me, 'editor', run.namespace) && (
          <Actions path={path} state={run.state} onDone={() => setGeneration((g) => g + 1)} onDeleted={() => navigate('/runs')} />
        )}
      </div>
      <p className="meta">
        {run.namespace} · by {run.submittedBy} · submitted {when(run.submittedAt)}
        {run.startedAt && ` · ran ${duration(run.startedAt, run.finishedAt)}`}
        {run.message && ` · ${run.message}`}
      </p>
      <Tabs label="Views of the run" tabs={TABS} tab={tab} onTab={setTab} />
      {tab === 'gantt' ? (
        <Gantt steps={steps} critical={critical} />
      ) : tab === 'history' || tab === 'compare' ? (
        !history ? (
          <p className="loading">Loading…</p>
        ) : tab === 'history' ? (
          <History history={history} current={run.id} names={graph.nodes.map((n) => n.name)} />
        ) : (
          <Compare history={history} current={run.id} />
        )
      ) : tab === 'compile' ? (
        <Compiled runPath={path} />
      ) : tab === 'yaml' ? (
        <pre className="yaml" data-testid="yaml" tabIndex={0}>
          {graph.yaml}
        </pre>
      ) : (
        <div className="run-body">
          <div className="graph-side">
            <Dag graph={graph} statuses={statuses} selected={selected} onSelect={select} fitKey={selected ? 'with-panel' : 'alone'} />
            <ul className="step-list" aria-label="Steps">
              {graph.nodes.map((n) => (
                <li key={n.name}>
                  <button type="button" onClick={() => select(n.name)} aria-pressed={selected === n.name}>
                    <span className={stateClass(statuses[n.name])}>{statuses[n.name] || 'Pending'}</span> {n.name}
                  </button>
                </li>
              ))}
            </ul>
          </div>
          {selected && (
            <div className="panel-side">
              {instances.length > 1 && (
                <label>
                  Instance
                  <select value={shownNode} onChange={(e) => setNode(e.target.value)}>
                    {instances.map((s) => (
                      <option key={s.node} value={s.node}>
                        {s.node === selected ? `${s.node} (all instances)` : s.node}
                      </option>
                    ))}
                  </select>
                </label>
              )}
              <StepPanel
                runId={run.id}
                node={shownNode}
                step={steps[shownNode]}
                spec={graph.nodes.find((n) => n.name === selected)}
                onClose={() => setSelected(null)}
              />
            </div>
          )}
        </div>
      )}
    </section>
  );
}
