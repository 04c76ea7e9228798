import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api, may } from '../api.js';
import { navigate } from '../router.jsx';
import { addStep, blank, connect, disconnect, entryOf, graph, refusal, removeStep, setWith, stepOfPath } from '../editor/model.js';
import { toYaml } from '../editor/yaml.js';
import { Palette } from '../editor/Palette.jsx';
import { Canvas, laidOut } from '../editor/Canvas.jsx';
import { StepForm } from '../editor/StepForm.jsx';
import { Diagnostics, useValidation } from '../editor/validation.jsx';
import { OpenSpec } from '../editor/OpenSpec.jsx';
import { Tabs } from '../components/Tabs.jsx';

const TABS = [
  ['canvas', 'Canvas'],
  ['yaml', 'YAML'],
];

/**
 * The workflow editor (`/editor`, `/editor?run=ID` to start from a run's workflow): a zoo
 * palette, a canvas whose steps and connections are the spec document's, a form for the
 * selected step, the server's diagnostics live, the YAML; Save, Submit, Open.
 */
export function Editor({ me }) {
  const [zoo, setZoo] = useState(null);
  const [doc, setDoc] = useState(blank);
  const [positions, setPositions] = useState({});
  const [selected, setSelected] = useState(null);
  const [tab, setTab] = useState('canvas');
  const [error, setError] = useState('');
  const [opened, setOpened] = useState(0);
  const centre = useRef(null);
  const yaml = useMemo(() => toYaml(doc), [doc]);
  const check = useValidation(yaml);

  const open = useCallback((document) => {
    setDoc(document);
    setPositions({});
    setSelected(null);
    setTab('canvas');
    setOpened((n) => n + 1);
  }, []);

  useEffect(() => {
    api('GET', '/zoo').then(setZoo, (e) => setError(e.message));
    const run = new URLSearchParams(window.location.search).get('run');
    if (run)
      api('GET', `/runs/${encodeURIComponent(run)}/workflow`)
        .then((w) => api('POST', '/validate', { spec: w.yaml }))
        .then((v) => open(v.document), (e) => setError(e.message));
  }, [open]);

  const g = useMemo(() => (zoo ? graph(doc, zoo) : { nodes: [], edges: [] }), [doc, zoo]);
  useEffect(() => setPositions((p) => laidOut(g, p)), [g]);

  const on = {
    add: (entry, at) => {
      const { doc: next, name } = addStep(doc, entry);
      const where = at || centre.current?.();
      if (where) setPositions((p) => ({ ...p, [name]: where }));
      setDoc(next);
      setSelected(name);
    },
    move: (name, at) => setPositions((p) => ({ ...p, [name]: at })),
    select: setSelected,
    connect: (c) => setDoc((d) => connect(d, c, zoo)),
    allowed: (c) => !refusal(doc, c, zoo),
    disconnect: (e) => setDoc((d) => disconnect(d, e)),
    remove: (name) => {
      setDoc((d) => removeStep(d, name));
      setSelected(null);
    },
  };

  const save = () => {
    const url = URL.createObjectURL(new Blob([yaml], { type: 'application/yaml' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${doc.name || 'workflow'}.yaml`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  const submit = async () => {
    try {
      const r = await api('POST', '/runs', { spec: yaml });
      navigate(`/runs/${encodeURIComponent(r.id)}`);
    } catch (e) {
      setError(e.message);
    }
  };

  if (!zoo) return error ? <p role="alert" className="error">{error}</p> : <p className="loading">Loading…</p>;
  const step = (doc.steps || []).find((s) => s.name === selected);
  const problems = {};
  for (const d of check.diagnostics) {
    const s = stepOfPath(doc, d.path);
    if (s && d.severity === 'error') problems[s] = (problems[s] || 0) + 1;
  }
  return (
    <section className="editor">
      <div className="run-head">
        <label className="workflow-name">
          Workflow
          <input type="text" value={doc.name ?? ''} onChange={(e) => setDoc((d) => ({ ...d, name: e.target.value }))} />
        </label>
        <span className={check.valid ? 'state state-succeeded' : 'state state-failed'} data-testid="validity">
          {check.pending ? 'Checking…' : check.valid ? 'Valid' : 'Invalid'}
        </span>
        <div className="actions">
          <button type="button" onClick={save}>
            Save
          </button>
          {may(me, 'editor', 'default') && (
            <button type="button" onClick={submit} disabled={!check.valid || check.pending}>
              Submit
            </button>
          )}
        </div>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <Tabs label="Views of the workflow" tabs={TABS} tab={tab} onTab={setTab} />
      {tab === 'yaml' ? (
        <OpenSpec yaml={yaml} onOpen={open} />
      ) : (
        <div className="editor-body">
          <Palette zoo={zoo} onAdd={(e) => on.add(e)} />
          <Canvas g={g} positions={positions} problems={problems} selected={selected} zoo={zoo} on={on} fitKey={opened} centre={centre} />
          {step && (
            <StepForm
              key={step.name}
              step={step}
              entry={entryOf(step, zoo)}
              diagnostics={check.diagnostics.filter((d) => stepOfPath(doc, d.path) === step.name)}
              onWith={(k, v) => setDoc((d) => setWith(d, step.name, k, v))}
              onRemove={() => on.remove(step.name)}
            />
          )}
        </div>
      )}
      <Diagnostics diagnostics={check.diagnostics} doc={doc} onSelect={(s) => { setSelected(s); setTab('canvas'); }} />
    </section>
  );
}
