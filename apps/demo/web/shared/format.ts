/** First 8 characters of a UUID, enough to tell sessions apart on screen. */
export function shortId(id: string | undefined): string {
  return id === undefined ? '—' : `${id.slice(0, 8)}…`;
}

/** `950 ms`, `12 s`, `3 m 05 s`, `2 h 04 m`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} m ${String(seconds % 60).padStart(2, '0')} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${String(minutes % 60).padStart(2, '0')} m`;
}

/** Local wall-clock time with seconds, for activity logs. */
export function clock(at: Date = new Date()): string {
  return at.toLocaleTimeString([], { hour12: false });
}
