import type { IncomingMessage } from 'node:http';
import type { Express } from 'express';
import proxyaddr from 'proxy-addr';
import { requestHost, type TrustProxy } from '../cross-origin.js';

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
    const trust = trustOf(app);
    if (trust === undefined) return req.socket.remoteAddress;
    return proxyaddr(req, trust);
  };
}

/**
 * The host a raw request was sent to, as `app` sees it (Express's
 * `req.host`): `X-Forwarded-Host` when the peer is a proxy the app trusts
 * (`trust proxy`), else `Host`. Give it to `attachWebSocket` as
 * `requestHost` behind a load balancer that rewrites `Host`, so a page of
 * the app's public origin counts as same-origin over WebSocket as it does
 * over HTTP.
 *
 * @example
 * app.set('trust proxy', 'loopback');
 * attachWebSocket(server, { manager, router, requestHost: requestHostOf(app) });
 */
export function requestHostOf(app: Express): (req: IncomingMessage) => string | undefined {
  return (req) => requestHost(req.headers, req.socket.remoteAddress, trustOf(app));
}

/** The app's compiled `trust proxy` setting. */
export function trustOf(app: { get(name: string): unknown } | undefined): TrustProxy | undefined {
  return app?.get('trust proxy fn') as TrustProxy | undefined;
}
