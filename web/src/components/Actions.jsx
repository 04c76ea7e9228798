import { useState } from 'react';
import { api } from '../api.js';

const ACTIVE = ['Queued', 'Running'];
const RESUMABLE = ['Failed', 'Error', 'Stopped'];

/** Stop, resume (from failure) and delete, for an editor; a refusal is shown as the server said it. */
export function Actions({ path, state, onDone, onDeleted }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const act = async (method, suffix, after) => {
    setBusy(true);
    setError('');
    try {
      await api(method, `${path}${suffix}`);
      after();
    } catch (e) {
      setError(e.status === 403 ? `Not allowed: ${e.detail}` : e.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="actions">
      {ACTIVE.includes(state) && (
        <button type="button" disabled={busy} onClick={() => act('POST', '/stop', onDone)}>
          Stop
        </button>
      )}
      {RESUMABLE.includes(state) && (
        <button type="button" disabled={busy} onClick={() => act('POST', '/resume', onDone)}>
          Resume
        </button>
      )}
      {!ACTIVE.includes(state) && (
        <button
          type="button"
          className="danger"
          disabled={busy}
          onClick={() => window.confirm('Delete this run, its logs and artifacts?') && act('DELETE', '', onDeleted)}
        >
          Delete
        </button>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </div>
  );
}
