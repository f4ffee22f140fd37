import type { IncomingMessage } from 'node:http';
import type { Express } from 'express';
import proxyaddr from 'proxy-addr';

/**
 * The client address of a request as `app` sees it (`req.ip`): the socket's
 * address, or behind proxies the app trusts (Express's `trust proxy`
 * setting) the address they forwarded in `X-Forwarded-For`. Give it to
 * `attachWebSocket` as `clientAddress`, so the limits per address (sockets
 * not yet authenticated, session creations) count each client behind a
 * load balancer apart over WebSocket too, as they do over HTTP.
 *
 * @example
 * app.set('trust proxy', 'loopback');
 * attachWebSocket(server, { manager, router, clientAddress: clientAddressOf(app) });
 */
export function clientAddressOf(app: Express): (req: IncomingMessage) => string | undefined {
  return (req) => {
    const trust = app.get('trust proxy fn') as
      | ((address: string, hop: number) => boolean)
      | undefined;
    if (trust === undefined) return req.socket.remoteAddress;
    return proxyaddr(req, trust);
  };
}
