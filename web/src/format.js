// How times, durations, sizes and states are shown.

export function when(secs) {
  if (secs == null) return '';
  return new Date(secs * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

export function duration(start, end) {
  if (start == null) return '';
  const s = Math.max(0, (end ?? Date.now() / 1000) - start);
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function kib(k) {
  if (k == null) return '';
  if (k < 1024) return `${k} KiB`;
  if (k < 1024 * 1024) return `${(k / 1024).toFixed(1)} MiB`;
  return `${(k / 1024 / 1024).toFixed(2)} GiB`;
}

export const STATES = ['Queued', 'Running', 'Succeeded', 'Failed', 'Error', 'Stopped'];

/** The CSS class of a run's or step's state. */
export function stateClass(s) {
  return `state state-${(s || 'Pending').toLowerCase()}`;
}
