import type { Server } from 'node:http';
import type { SessionManager } from '../manager.js';

/** Options of `createShutdown`. */
export interface ShutdownOptions {
  /** The manager to drain and stop last. */
  manager: SessionManager;
  /** The HTTP server to stop accepting on; omit when there is none. */
  server?: Server | undefined;
  /**
   * Longest wait for requests in flight, in ms; past it, remaining
   * connections are cut and the manager stops anyway.
   * @default 10_000
   */
  drainTimeoutMs?: number;
  /** Longest wait for the shutdown hooks together, in ms. @default 5_000 */
  hookTimeoutMs?: number;
  /** Ends the process once shut down (0) or on a second signal (1). @default process.exit */
  exit?: (code: number) => void;
  /** Progress messages. @default writes `[morgan] …` lines to stderr */
  log?: (message: string) => void;
}

export const shutdownDefaults = {
  drainTimeoutMs: 10_000,
  hookTimeoutMs: 5_000,
  exit: (code: number): void => process.exit(code),
  log: (message: string): void => {
    process.stderr.write(`[morgan] ${message}\n`);
  },
} as const satisfies Omit<Required<ShutdownOptions>, 'manager' | 'server'>;

/** Work to do during shutdown, after requests drained and before the manager stops. */
export type ShutdownHook = () => void | Promise<void>;

/** The graceful shutdown of one node; see `createShutdown`. */
export interface Shutdown {
  /** True once shutdown started: readiness answers 503 from then on. */
  readonly draining: boolean;
  /** Registers a hook (e.g. close WebSockets with 1001); returns its removal. */
  onShutdown(hook: ShutdownHook): () => void;
  /**
   * Runs the shutdown once (later calls return the same promise): stop
   * accepting, mark not ready, drain in-flight requests up to the deadline,
   * run the hooks, stop the manager, then `exit(0)` when `exitWhenDone`.
   */
  shutdown(options?: { exitWhenDone?: boolean }): Promise<void>;
  /** Calls `shutdown({ exitWhenDone: true })` on each signal; a second signal exits with 1. Returns the removal. */
  installSignalHandlers(signals?: readonly NodeJS.Signals[]): () => void;
}

const POLL_MS = 20;

/**
 * Graceful shutdown for a node: on SIGTERM / SIGINT it stops accepting
 * connections, turns `/ready` to 503, lets requests in flight finish (up to
 * `drainTimeoutMs`), runs the registered hooks, stops the manager and exits 0.
 *
 * @example
 * const shutdown = createShutdown({ server, manager });
 * app.use(healthRoutes(manager, { isDraining: () => shutdown.draining }));
 * shutdown.installSignalHandlers();
 */
export function createShutdown(options: ShutdownOptions): Shutdown {
  const settings = { ...shutdownDefaults, ...options };
  const { manager, server, log, exit } = settings;
  const hooks = new Set<ShutdownHook>();
  let running: Promise<void> | undefined;

  const inFlight = () => manager.capacity.inFlight + manager.activeRequestCount;

  const drain = async (deadline: number): Promise<boolean> => {
    while (inFlight() > 0 && performance.now() < deadline) {
      server?.closeIdleConnections();
      await sleep(POLL_MS);
    }
    return inFlight() === 0;
  };

  const runHooks = async (): Promise<void> => {
    const all = Promise.allSettled([...hooks].map(async (hook) => hook()));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), settings.hookTimeoutMs);
    });
    const outcome = await Promise.race([all, timeout]);
    clearTimeout(timer);
    if (outcome === undefined) {
      log(`shutdown hooks still running after ${settings.hookTimeoutMs} ms; going on`);
      return;
    }
    for (const result of outcome) {
      if (result.status === 'rejected') log(`shutdown hook failed: ${String(result.reason)}`);
    }
  };

  const run = async (exitWhenDone: boolean): Promise<void> => {
    const deadline = performance.now() + settings.drainTimeoutMs;
    log(`shutting down: draining ${inFlight()} request(s)`);
    const closed = server?.listening
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    server?.closeIdleConnections();
    const drained = await drain(deadline);
    if (!drained) log(`drain deadline passed with ${inFlight()} request(s) in flight`);
    await runHooks();
    server?.closeAllConnections();
    await closed;
    await manager.stop({ drainTimeoutMs: Math.max(0, deadline - performance.now()) });
    log('shut down');
    if (exitWhenDone) exit(0);
  };

  const shutdown: Shutdown = {
    get draining() {
      return running !== undefined;
    },
    onShutdown(hook) {
      hooks.add(hook);
      return () => hooks.delete(hook);
    },
    shutdown({ exitWhenDone = false } = {}) {
      running ??= run(exitWhenDone).catch((error: unknown) => {
        log(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        if (exitWhenDone) exit(1);
      });
      return running;
    },
    installSignalHandlers(signals = ['SIGTERM', 'SIGINT']) {
      const onSignal = (signal: NodeJS.Signals) => {
        if (running !== undefined) {
          log(`${signal} again: exiting now`);
          exit(1);
          return;
        }
        log(`${signal} received`);
        void shutdown.shutdown({ exitWhenDone: true });
      };
      for (const signal of signals) process.on(signal, onSignal);
      return () => {
        for (const signal of signals) process.off(signal, onSignal);
      };
    },
  };
  return shutdown;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
