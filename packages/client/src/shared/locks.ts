/**
 * The part of the Web Locks API (`navigator.locks`) the shared connection
 * uses: an exclusive lock held while `callback`'s promise is pending, granted
 * to waiters in the order they asked, released when the holder's page goes
 * (closed or crashed). A waiting request is dropped when `signal` aborts (its
 * promise rejects).
 */
export interface LockManagerLike {
  request(
    name: string,
    options: { signal?: AbortSignal },
    callback: (lock: unknown) => Promise<unknown> | unknown,
  ): Promise<unknown>;
}

/**
 * An in-process lock manager with the semantics of `navigator.locks`
 * (exclusive, first come first served, `signal` drops a waiter): for Node,
 * where there is no Web Locks API, so that several clients of one process
 * (tests, benchmarks, a worker pool) can share one socket with
 * `connection: sharedConnection()`. Pass the same instance to every client.
 *
 * @example
 * const locks = createMemoryLocks();
 * const tabs = [1, 2, 3].map(() =>
 *   createSessionClient<AppRouter>({ url, WebSocket, connection: sharedConnection(), locks }),
 * );
 */
export function createMemoryLocks(): LockManagerLike {
  const queues = new Map<string, Array<() => void>>();
  const release = (name: string): void => {
    const next = queues.get(name)?.shift();
    if (next === undefined) queues.delete(name);
    else next();
  };
  return {
    request(name, options, callback) {
      return new Promise((resolve, reject) => {
        const { signal } = options;
        if (signal?.aborted === true) {
          reject(abortError());
          return;
        }
        const onAbort = (): void => {
          const queue = queues.get(name);
          const at = queue?.indexOf(grant) ?? -1;
          if (at >= 0) queue?.splice(at, 1);
          reject(abortError());
        };
        function grant(): void {
          signal?.removeEventListener('abort', onAbort);
          Promise.resolve()
            .then(() => callback({ name }))
            .then(resolve, reject)
            .finally(() => release(name));
        }
        const queue = queues.get(name);
        if (queue === undefined) {
          queues.set(name, []);
          grant();
        } else {
          queue.push(grant);
          signal?.addEventListener('abort', onAbort, { once: true });
        }
      });
    },
  };
}

function abortError(): Error {
  const error = new Error('The lock request was aborted');
  error.name = 'AbortError';
  return error;
}
