// Typed access to a demo node's admin API and health report. The shapes come
// from the demo's own source, so a change there breaks this suite's types.
import type { AdminState } from '../../apps/demo/src/admin/types.js';

export type { AdminState };

/** `GET /health` of a node. */
export interface Health {
  status: string;
  activeSessions: number | null;
  activeRequests: number;
  uptimeSeconds: number;
  store: string;
}

export async function adminState(baseUrl: string): Promise<AdminState> {
  return getJson<AdminState>(`${baseUrl}/api/admin/state`);
}

export async function health(baseUrl: string): Promise<Health> {
  return getJson<Health>(`${baseUrl}/health`);
}

/** Reads one sample of a Prometheus metric (without labels) from `/metrics`. */
export async function metric(baseUrl: string, name: string): Promise<number | undefined> {
  const response = await fetch(`${baseUrl}/metrics`);
  const text = await response.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

export async function setOverload(
  baseUrl: string,
  settings: { enabled: boolean; freeSlots?: number; replyDelayMs?: number },
): Promise<void> {
  const response = await fetch(`${baseUrl}/api/admin/overload`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(settings),
  });
  if (!response.ok) throw new Error(`PUT /api/admin/overload answered ${response.status}`);
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok)
    throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}
