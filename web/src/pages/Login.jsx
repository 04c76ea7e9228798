import { useEffect, useRef, useState } from 'react';

/** The token form: `couler server token create` prints the token. */
export function Login({ error, onToken }) {
  const [value, setValue] = useState('');
  const field = useRef(null);
  // A refused token: the field is emptied and has the focus again, its error read with it.
  useEffect(() => {
    if (!error) return;
    setValue('');
    field.current?.focus();
  }, [error]);
  const submit = (e) => {
    e.preventDefault();
    if (value.trim()) onToken(value.trim());
  };
  return (
    <main className="login">
      <h1>Couler</h1>
      <form onSubmit={submit}>
        <label htmlFor="token">Token</label>
        <input
          id="token"
          ref={field}
          type="password"
          autoComplete="off"
          autoFocus
          value={value}
          onChange={(e) => setValue(e.target.value)}
          aria-describedby={error ? 'token-error token-help' : 'token-help'}
          aria-invalid={Boolean(error)}
        />
        <p id="token-help" className="help">
          Your bearer token (<code>couler server token create --user NAME --role viewer</code> prints one). It is kept
          in this tab only.
        </p>
        {error && (
          <p role="alert" id="token-error" className="error">
            {error}
          </p>
        )}
        <button type="submit">Log in</button>
      </form>
    </main>
  );
}
