import { useEffect, useState } from 'react';
import { api } from '../api.js';

/**
 * The YAML tab: the spec the canvas makes, editable; *Apply* (or a file opened) reads the text
 * through the server (POST /api/v1/validate answers the document) and the canvas shows it.
 */
export function OpenSpec({ yaml, onOpen }) {
  const [text, setText] = useState(yaml);
  const [error, setError] = useState('');
  useEffect(() => setText(yaml), [yaml]);
  const apply = async (t) => {
    try {
      const v = await api('POST', '/validate', { spec: t });
      const d = v.document;
      if (!d || typeof d !== 'object' || Array.isArray(d)) throw new Error('not a spec: the text is not a YAML or JSON mapping');
      setError('');
      onOpen(d);
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <div className="open-spec">
      <label htmlFor="spec-text">The spec (edit it, or paste one, then Apply)</label>
      <textarea id="spec-text" data-testid="spec-text" spellCheck={false} rows={24} value={text} onChange={(e) => setText(e.target.value)} />
      <div className="actions">
        <button type="button" onClick={() => apply(text)}>
          Apply
        </button>
        <label className="file">
          Open a file
          <input type="file" accept=".yaml,.yml,.json" onChange={async (e) => e.target.files[0] && apply(await e.target.files[0].text())} />
        </label>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </div>
  );
}
