import type { Server } from 'node:http';
import type { AnyRouter } from '@trpc/server';
import { WebSocketServer } from 'ws';
import { ErrorCode } from '../errors.js';
import type { SessionManager } from '../manager.js';
import { CloseCode } from '../protocol.js';
import { Admission } from './admission.js';
import { CallRunner } from './calls.js';
import { closeSockets } from './closing.js';
import { Heartbeat } from './heartbeat.js';
import {
  type AttachWebSocketOptions,
  type CloseWebSocketOptions,
  resolveSettings,
  type WebSocketErrorInfo,
} from './options.js';
import { PendingWork } from './pending-work.js';
import { SocketRegistry } from './registry.js';
import { compileUpgradeOriginCheck, rejectUpgrade, upgradeListener } from './upgrade.js';

/** What `attachWebSocket` returns. */
export interface WebSocketAttachment {
  /** The underlying `ws` server (`noServer`, fed by the HTTP server's `upgrade`). */
  readonly wss: WebSocketServer;
  /**
   * Real sockets open on this node that serve at least one authenticated
   * session: a tab's own socket, or a shared socket (`?mux=1`) carrying the
   * channels of a browser's tabs.
   */
  readonly connectionCount: number;
  /** Shared sockets (`connection: 'shared'` in the SDK) with at least one authenticated channel. */
  readonly sharedSocketCount: number;
  /** Authenticated channels of shared sockets: one per tab, each with its own session. */
  readonly channelCount: number;
  /** Sockets of one session open on this node. */
  socketCount(sessionId: string): number;
  /** Asks every client to reconnect (tRPC's reconnect notification), e.g. before a deploy. */
  broadcastReconnectNotification(): void;
  /**
   * Stops accepting sockets, lets calls in flight finish (up to
   * `drainTimeoutMs`), closes every socket with 1001, then the server.
   * Later calls return the same promise.
   */
  close(options?: CloseWebSocketOptions): Promise<void>;
}

const RECONNECT_NOTIFICATION = JSON.stringify({ id: null, method: 'reconnect' });

/**
 * Serves the app's tRPC router over WebSocket on the same HTTP server, at
 * `/trpc`. Each socket authenticates with tRPC `connectionParams`
 * `{ sessionId }` (4400 when missing or malformed, 4404 when unknown), is
 * counted on its session while open, is pinged every `heartbeatIntervalMs`
 * and closed with 4404 as soon as its session is deleted or expires on any
 * node.
 *
 * @example
 * const server = app.listen(3000);
 * const ws = attachWebSocket(server, { manager, router: appRouter });
 * shutdown.onShutdown(() => ws.close());
 * // client: createWSClient({ url: 'ws://host/trpc', connectionParams: () => ({ sessionId }) })
 */
export function attachWebSocket<TRouter extends AnyRouter>(
  server: Server,
  options: AttachWebSocketOptions<TRouter>,
): WebSocketAttachment {
  const { onError } = options;
  return new WebSocketLayer(server, {
    ...options,
    // Reported with the context the router's calls run with.
    onError: onError && ((info) => onError(info as WebSocketErrorInfo<TRouter>)),
  });
}

/**
 * The layer `attachWebSocket` returns: wires the parts together, each in a
 * module of one concern (upgrade gate, admission, registry of connections
 * and sessions, the call runner every connection's tRPC handler shares,
 * heartbeat, closing), and delegates to them.
 */
class WebSocketLayer implements WebSocketAttachment {
  readonly wss: WebSocketServer;
  readonly #manager: SessionManager;
  readonly #server: Server;
  readonly #onUpgrade: ReturnType<typeof upgradeListener>;
  readonly #registry: SocketRegistry;
  readonly #runner: CallRunner;
  readonly #heartbeat: Heartbeat;
  readonly #work = new PendingWork();
  readonly #closeTimeoutMs: number;
  #closing: Promise<void> | undefined;

  constructor(server: Server, options: AttachWebSocketOptions<AnyRouter>) {
    const { manager, router, allowedOrigins, onError, createContext, requestHost, ...rest } =
      options;
    const { clientAddress: addressOf, ...numbers } = rest;
    const clientAddress = addressOf ?? ((req) => req.socket.remoteAddress);
    const settings = resolveSettings(numbers);
    this.#manager = manager;
    this.#server = server;
    this.#closeTimeoutMs = settings.closeTimeoutMs;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: settings.maxPayload,
    });
    // Handshake errors (bad version, key, …) get the same JSON error bodies as HTTP.
    this.wss.on('wsClientError', (error, socket) =>
      rejectUpgrade(socket, ErrorCode.INVALID_REQUEST, error.message),
    );
    const work = this.#work;
    const { maxBatchSize } = settings;
    this.#runner = new CallRunner({
      manager,
      router,
      maxBatchSize,
      createContext,
      onError,
      clientAddress,
      work,
    });
    this.#registry = new SocketRegistry({ manager, runner: this.#runner, work, settings });
    const admission = new Admission({
      wss: this.wss,
      registry: this.#registry,
      settings,
      clientAddress,
      closing: () => this.#closing !== undefined,
    });
    this.#onUpgrade = upgradeListener({
      server,
      path: settings.path,
      originAllowed: compileUpgradeOriginCheck(
        allowedOrigins ?? manager.allowedOrigins,
        requestHost ?? ((req) => req.headers.host),
      ),
      closing: () => this.#closing !== undefined,
      accept: (req, socket, head) => admission.accept(req, socket, head),
    });
    const { heartbeatIntervalMs, heartbeatTimeoutMs } = settings;
    const peers = this.#registry.heartbeatPeers();
    this.#heartbeat = new Heartbeat(peers, heartbeatIntervalMs, heartbeatTimeoutMs);
    this.#heartbeat.start();
    server.on('upgrade', this.#onUpgrade);
    this.#registry.watch();
  }

  get connectionCount(): number {
    return this.#registry.connectionCount;
  }

  get sharedSocketCount(): number {
    return this.#registry.sharedSocketCount;
  }

  get channelCount(): number {
    return this.#registry.channelCount;
  }

  socketCount(sessionId: string): number {
    return this.#registry.socketCount(sessionId);
  }

  broadcastReconnectNotification(): void {
    this.#registry.broadcast(RECONNECT_NOTIFICATION);
  }

  close(options: CloseWebSocketOptions = {}): Promise<void> {
    this.#closing ??= this.#close(
      options.code ?? CloseCode.GOING_AWAY,
      options.drainTimeoutMs ?? this.#manager.drainTimeoutMs,
    );
    return this.#closing;
  }

  async #close(code: number, drainTimeoutMs: number): Promise<void> {
    const parts = { registry: this.#registry, runner: this.#runner, work: this.#work };
    await closeSockets({ ...parts, closeTimeoutMs: this.#closeTimeoutMs }, code, drainTimeoutMs);
    this.#heartbeat.stop();
    this.#work.clear();
    this.#server.off('upgrade', this.#onUpgrade);
    this.#registry.unwatch();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await this.#work.settled();
  }
}
