// Client routes: the server answers index.html for any path outside /api, so each page has a
// real URL. The table is the one place a page is declared.
import { useEffect, useState } from 'react';

export const ROUTES = [
  { name: 'runs', pattern: /^\/$|^\/runs\/?$/ },
  { name: 'run', pattern: /^\/runs\/([^/]+)\/?$/ },
  { name: 'editor', pattern: /^\/editor\/?$/ },
];

export function match(path) {
  for (const r of ROUTES) {
    const m = path.match(r.pattern);
    if (m) return { name: r.name, params: m.slice(1).map(decodeURIComponent) };
  }
  return { name: 'notfound', params: [] };
}

export function navigate(to) {
  window.history.pushState(null, '', to);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function usePath() {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const on = () => setPath(window.location.pathname);
    window.addEventListener('popstate', on);
    return () => window.removeEventListener('popstate', on);
  }, []);
  return path;
}

/** A link that navigates inside the app (a real <a>: keyboard, middle-click and copy work). */
export function Link({ to, children, ...rest }) {
  const click = (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={click} {...rest}>
      {children}
    </a>
  );
}
