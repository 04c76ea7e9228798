import { useCallback, useEffect, useState } from 'react';
import { api, token, UNAUTHORIZED } from './api.js';
import { Link, match, usePath } from './router.jsx';
import { Login } from './pages/Login.jsx';
import { Runs } from './pages/Runs.jsx';
import { Run } from './pages/Run.jsx';
import { Editor } from './pages/Editor.jsx';

export function App() {
  const path = usePath();
  // undefined: asking; null: a token is needed; else GET /me's answer.
  const [me, setMe] = useState(undefined);
  const [error, setError] = useState('');

  const whoami = useCallback(async () => {
    try {
      setMe(await api('GET', '/me'));
      setError('');
    } catch (e) {
      if (e.status === 401) {
        if (token.get()) setError(`The server refused the token: ${e.detail}`);
        token.clear();
        setMe(null);
      } else {
        setError(e.message);
        setMe(null);
      }
    }
  }, []);
  useEffect(() => {
    whoami();
  }, [whoami]);
  // Any 401 (a token revoked, a server with a new database): back to the login form.
  useEffect(() => {
    const on = (e) => {
      if (!me || me.auth === 'none') return;
      token.clear();
      setError(`The server asks for a token again: ${e.detail.detail}`);
      setMe(null);
    };
    window.addEventListener(UNAUTHORIZED, on);
    return () => window.removeEventListener(UNAUTHORIZED, on);
  }, [me]);

  if (me === undefined) return <p className="loading">Loading…</p>;
  if (me === null)
    return (
      <Login
        error={error}
        onToken={(t) => {
          token.set(t);
          whoami();
        }}
      />
    );
  const logout = () => {
    token.clear();
    setMe(null);
    setError('');
  };
  const route = match(path);
  return (
    <>
      <header className="top">
        <Link to="/" className="brand">
          Couler
        </Link>
        <nav aria-label="Pages">
          <Link to="/runs">Runs</Link>
          <Link to="/editor">Editor</Link>
        </nav>
        <span className="who">
          {me.user}
          {me.auth === 'token' && (
            <button type="button" onClick={logout}>
              Log out
            </button>
          )}
        </span>
      </header>
      <main>
        {route.name === 'runs' && <Runs me={me} />}
        {route.name === 'run' && <Run me={me} id={route.params[0]} key={route.params[0]} />}
        {route.name === 'editor' && <Editor me={me} key={window.location.search} />}
        {route.name === 'notfound' && (
          <p>
            No page here. <Link to="/">All runs</Link>
          </p>
        )}
      </main>
    </>
  );
}
