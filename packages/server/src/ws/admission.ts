import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { ErrorCode } from '../errors.js';
import { CloseCode } from '../protocol.js';
import type { Channel } from './channel.js';
import { Connection } from './connection.js';
import { isMuxRequest, type MuxHost, MuxSocket } from './mux.js';
import type { WebSocketSettings } from './options.js';
import type { SocketRegistry } from './registry.js';
import { listen } from './socket.js';
import { rejectUpgrade } from './upgrade.js';

/** What admission is made with. */
export interface AdmissionOptions {
  wss: WebSocketServer;
  registry: SocketRegistry;
  settings: WebSocketSettings;
  clientAddress: (req: IncomingMessage) => string | undefined;
  /** True once the layer closes: what is admitted then is closed with 1001 at once. */
  closing: () => boolean;
}

/**
 * Lets sockets in: completes the handshake of an upgrade the gate
 * (`upgradeListener`) accepted, unless its client address already holds
 * `maxPendingSocketsPerAddress` sockets that have not authenticated (429),
 * and starts each socket's lifecycle: a `Connection` for a tab's socket, a
 * `MuxSocket` for a shared one, whose channels are admitted here as
 * connections of their own (each taking a place of its address too).
 */
export class Admission implements MuxHost {
  readonly #wss: WebSocketServer;
  readonly #registry: SocketRegistry;
  readonly #settings: WebSocketSettings;
  readonly #clientAddress: AdmissionOptions['clientAddress'];
  readonly #closing: () => boolean;
  /** Sockets per client address that have not authenticated yet. */
  readonly #pendingByAddress = new Map<string, number>();

  constructor(options: AdmissionOptions) {
    this.#wss = options.wss;
    this.#registry = options.registry;
    this.#settings = options.settings;
    this.#clientAddress = options.clientAddress;
    this.#closing = options.closing;
  }

  /**
   * Upgrades the request unless its address holds its share of sockets that
   * have not authenticated yet; the share is taken until the socket is
   * served or closes, whichever comes first.
   */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const settle = this.#takePendingPlace(req);
    if (settle === undefined) {
      rejectUpgrade(
        socket,
        ErrorCode.RATE_LIMITED,
        'Too many unauthenticated sockets from this address',
      );
      return;
    }
    socket.once('close', settle);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      if (isMuxRequest(req.url)) {
        const mux = new MuxSocket(ws, req, this, this.#settings);
        mux.settle = settle;
        this.#registry.addMux(mux);
        if (this.#closing()) mux.end(CloseCode.GOING_AWAY, 'SHUTTING_DOWN');
        return;
      }
      const connection = new Connection(ws, req, this.#registry, this.#settings);
      connection.settle = settle;
      listen(ws, connection);
      this.#admitted(connection);
    });
  }

  // MuxHost

  openChannel(mux: MuxSocket, channel: Channel): void {
    // An unauthenticated channel counts as an unauthenticated socket of its address.
    const settle = this.#takePendingPlace(mux.req);
    if (settle === undefined) {
      channel.close(CloseCode.RATE_LIMITED, ErrorCode.RATE_LIMITED);
      return;
    }
    const connection = new Connection(channel, mux.req, this.#registry, this.#settings);
    connection.settle = settle;
    channel.listen(connection);
    this.#admitted(connection);
  }

  muxClosed(mux: MuxSocket): void {
    this.#registry.muxClosed(mux);
  }

  // Internals

  #admitted(connection: Connection): void {
    this.#registry.addConnection(connection);
    if (this.#closing()) connection.end(CloseCode.GOING_AWAY, 'SHUTTING_DOWN');
  }

  /**
   * Takes a place among the unauthenticated sockets of the request's address
   * (a channel of a shared socket takes one too); returns its release (safe
   * to call twice), or undefined when the address holds its share already.
   */
  #takePendingPlace(req: IncomingMessage): (() => void) | undefined {
    const address = this.#clientAddress(req) ?? '';
    const pending = this.#pendingByAddress.get(address) ?? 0;
    if (pending >= this.#settings.maxPendingSocketsPerAddress) return undefined;
    this.#pendingByAddress.set(address, pending + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (this.#pendingByAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.#pendingByAddress.delete(address);
      else this.#pendingByAddress.set(address, left);
    };
  }
}
