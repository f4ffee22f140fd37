/** The addresses the client talks to, derived once from its options. */
export interface ClientUrls {
  /** Base URL that `fetch()` resolves relative inputs against. */
  base: string;
  /** HTTP URL of the tRPC endpoint. */
  trpcHttp: string;
  /** WebSocket URL of the tRPC endpoint (`ws:` or `wss:`). */
  trpcWs: string;
}

/**
 * Resolves `url` (absolute, or relative to the page in a browser) and the
 * tRPC path into the HTTP and WebSocket endpoints.
 *
 * @example
 * resolveUrls('http://localhost:3000', '/trpc').trpcWs; // 'ws://localhost:3000/trpc'
 */
export function resolveUrls(url: string, trpcPath: string): ClientUrls {
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  const base = new URL(url, page);
  const basePath = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
  const endpoint = new URL(base.toString());
  endpoint.pathname = `${basePath}${trpcPath.replace(/^\/+/, '')}`.replace(/\/+$/, '');
  endpoint.search = '';
  endpoint.hash = '';
  const ws = new URL(endpoint.toString());
  ws.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';
  return { base: base.toString(), trpcHttp: endpoint.toString(), trpcWs: ws.toString() };
}
