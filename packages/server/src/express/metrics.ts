import type { RequestHandler } from 'express';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SessionManager, SessionMetrics } from '../manager.js';

/** Options of `MorganMetrics`. */
export interface MorganMetricsOptions {
  /** Prefix of every metric name. @default 'morgan_' */
  prefix?: string;
  /** Also export Node process metrics (CPU, memory, event loop, GC). @default true */
  collectDefaultMetrics?: boolean;
  /** Buckets of the request duration histogram, in seconds. @default [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] */
  durationBucketsSeconds?: readonly number[];
}

export const morganMetricsDefaults = {
  prefix: 'morgan_',
  collectDefaultMetrics: true,
  durationBucketsSeconds: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
} as const satisfies Required<MorganMetricsOptions>;

type Figure = (metrics: SessionMetrics) => number;

/**
 * Prometheus metrics of one `SessionManager` in a registry of its own (not
 * prom-client's global one, so two servers in a process never clash):
 * sessions active, created / expired / deleted totals, requests in flight,
 * requests tracked on sessions, the live capacity limit, requests shed, and
 * a request duration histogram fed by `requestTimer()`.
 *
 * @example
 * const metrics = new MorganMetrics(manager);
 * app.use(metrics.requestTimer());
 * app.get('/metrics', async (_req, res) => res.type(metrics.contentType).send(await metrics.render()));
 */
export class MorganMetrics {
  readonly registry = new Registry();
  readonly #manager: SessionManager;
  readonly #prefix: string;
  readonly #duration: Histogram<'status'>;
  #snapshot: Promise<SessionMetrics> | undefined;

  constructor(manager: SessionManager, options: MorganMetricsOptions = {}) {
    const settings = { ...morganMetricsDefaults, ...options };
    const prefix = settings.prefix;
    this.#prefix = prefix;
    this.#manager = manager;
    const registers = [this.registry];
    const gauge = (name: string, help: string, figure: Figure) => {
      const read = () => this.#read();
      new Gauge({
        name: prefix + name,
        help,
        registers,
        async collect() {
          this.set(figure(await read()));
        },
      });
    };
    const counter = (name: string, help: string, figure: Figure) => {
      const read = () => this.#read();
      new Counter({
        name: prefix + name,
        help,
        registers,
        async collect() {
          this.reset();
          this.inc(figure(await read()));
        },
      });
    };
    gauge('sessions_active', 'Sessions alive now', (m) => m.activeSessions);
    counter(
      'sessions_created_total',
      'Sessions created since start',
      (m) => m.totalSessionsCreated,
    );
    counter(
      'sessions_expired_total',
      'Sessions expired since start',
      (m) => m.totalSessionsExpired,
    );
    counter(
      'sessions_deleted_total',
      'Sessions deleted since start',
      (m) => m.totalSessionsDeleted,
    );
    gauge('requests_in_flight', 'Requests holding a capacity slot now', (m) => m.inFlightRequests);
    gauge('session_requests_active', 'Requests tracked on sessions now', (m) => m.activeRequests);
    gauge('requests_max_concurrent', 'Capacity of this node', (m) => m.maxConcurrentRequests);
    gauge(
      'capacity_limit',
      'Requests app traffic may have in flight now: the adaptive limit, or maxConcurrentRequests',
      (m) => m.capacityLimit,
    );
    counter('requests_shed_total', 'Requests answered 503 at capacity', (m) => m.totalRequestsShed);
    this.#duration = new Histogram({
      name: `${prefix}http_request_duration_seconds`,
      help: 'Time from arrival to the end of the response, in seconds',
      labelNames: ['status'],
      buckets: [...settings.durationBucketsSeconds],
      registers,
    });
    if (settings.collectDefaultMetrics) collectDefaultMetrics({ register: this.registry, prefix });
  }

  /**
   * Adds the WebSocket layer's gauges: `ws_sockets` (real sockets serving a
   * session), `ws_shared_sockets` (shared ones, one per browser with
   * `connection: 'shared'`) and `ws_channels` (the tabs they carry), read
   * from the counts a `WebSocketAttachment` (`./ws`) has.
   *
   * @example
   * metrics.observeWebSocket(attachWebSocket(server, { manager, router }));
   */
  observeWebSocket(ws: {
    readonly connectionCount: number;
    readonly sharedSocketCount: number;
    readonly channelCount: number;
  }): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name: this.#prefix + name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge('ws_sockets', 'Real WebSockets serving a session on this node', () => ws.connectionCount);
    gauge(
      'ws_shared_sockets',
      'Shared WebSockets (one per browser, connection: shared) on this node',
      () => ws.sharedSocketCount,
    );
    gauge('ws_channels', 'Tabs carried by shared WebSockets on this node', () => ws.channelCount);
  }

  /** `Content-Type` of `render()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** All metrics in the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Records one finished request. */
  observeRequest(status: number, durationSeconds: number): void {
    this.#duration.observe({ status: String(status) }, durationSeconds);
  }

  /**
   * Middleware that feeds the duration histogram; mount it first so that
   * shed requests count too.
   */
  requestTimer(): RequestHandler {
    return (_req, res, next) => {
      const start = process.hrtime.bigint();
      res.on('finish', () => {
        this.observeRequest(res.statusCode, Number(process.hrtime.bigint() - start) / 1e9);
      });
      next();
    };
  }

  /** One `getMetrics()` per scrape, shared by every collector of that scrape. */
  #read(): Promise<SessionMetrics> {
    if (this.#snapshot === undefined) {
      const snapshot = this.#manager.getMetrics();
      this.#snapshot = snapshot;
      const clear = () => {
        if (this.#snapshot === snapshot) this.#snapshot = undefined;
      };
      snapshot.then(clear, clear);
    }
    return this.#snapshot;
  }
}
