// Typed access to a demo node's admin API and health report. The shapes come
// from the demo's own source, so a change there breaks this suite's types.
import { shortSessionId } from '../../apps/demo/src/admin/short-id.js';
import type { AdminState } from '../../apps/demo/src/admin/types.js';

export type { AdminState };
export { shortSessionId };

/**
 * The admin token of every demo node the suite starts (`resources.demo()`
 * sets `MORGAN_ADMIN_TOKEN` to it): the admin API answers 401 without it.
 */
export const adminToken = 'e2e-admin-token-0123456789abcdef';

/** Headers of an admin call. */
export const adminHeaders: Readonly<Record<string, string>> = {
  authorization: `Bearer ${adminToken}`,
};

/** The dashboard's address with the token in the fragment, as `npm start` prints it. */
export function dashboardUrl(baseUrl: string, token: string = adminToken): string {
  return `${baseUrl}/admin/#token=${encodeURIComponent(token)}`;
}

/** `GET /health` of a node. */
export interface Health {
  status: string;
  activeSessions: number | null;
  activeRequests: number;
  uptimeSeconds: number;
  store: string;
}

export async function adminState(baseUrl: string): Promise<AdminState> {
  return getJson<AdminState>(`${baseUrl}/api/admin/state`, adminHeaders);
}

/** The shortened ids of the sessions a node lists (ids themselves are never listed), sorted. */
export async function listedShortIds(baseUrl: string): Promise<string[]> {
  return (await adminState(baseUrl)).sessions.map((s) => s.shortId).sort();
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
    headers: { ...adminHeaders, 'content-type': 'application/json' },
    body: JSON.stringify(settings),
  });
  if (!response.ok) throw new Error(`PUT /api/admin/overload answered ${response.status}`);
}

async function getJson<T>(url: string, headers?: Readonly<Record<string, string>>): Promise<T> {
  const response = await fetch(url, headers === undefined ? {} : { headers });
  if (!response.ok)
    throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}
