/**
 * Holds requests inside a route handler until the test lets them go, and
 * counts how many have arrived, so tests can fill the server deterministically.
 *
 * @example
 * const hold = createHold();
 * app.get('/hold', async (_req, res) => { await hold.enter(); res.json({ ok: true }); });
 * await hold.arrived(3);
 * hold.release();
 */
export interface Hold {
  /** Called by the handler; resolves once released. */
  enter(): Promise<void>;
  /** Resolves once `count` handlers in total have entered. */
  arrived(count: number): Promise<void>;
  /** Lets every held and future handler go on. */
  release(): void;
  /** Handlers that entered so far. */
  readonly entered: number;
}

export function createHold(): Hold {
  let entered = 0;
  let releaseAll: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    releaseAll = resolve;
  });
  const watchers = new Set<{ count: number; resolve: () => void }>();
  return {
    enter() {
      entered += 1;
      for (const watcher of watchers) {
        if (entered >= watcher.count) {
          watchers.delete(watcher);
          watcher.resolve();
        }
      }
      return released;
    },
    arrived(count) {
      if (entered >= count) return Promise.resolve();
      return new Promise((resolve) => watchers.add({ count, resolve }));
    },
    release() {
      releaseAll();
    },
    get entered() {
      return entered;
    },
  };
}
