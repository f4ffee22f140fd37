import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestServer } from './testing/server.js';
import { transpileClient } from './testing/transpile.js';

// Runs in a child process: if close() left a timer, socket or listener
// behind, the process would not exit on its own.
const CHILD = `
import { WebSocket } from 'ws';
import { createSessionClient } from './index.js';
import { createMemoryLocks, sharedConnection } from './opt-in/shared.js';

const [url, mode] = process.argv.slice(2);
if (mode === 'shared') {
  // Three clients sharing one socket (BroadcastChannel, memory locks): all closed, nothing left.
  const locks = createMemoryLocks();
  const tabs = [1, 2, 3].map(() =>
    createSessionClient({ url, WebSocket, storage: 'memory', connection: sharedConnection(), locks, heartbeatIntervalMs: 600_000 }),
  );
  // Listening first: a tab that connects early beats before the others have connected.
  const beats = tabs.map((tab) => new Promise((resolve) => tab.on('heartbeat', resolve)));
  await Promise.all(tabs.map((tab) => tab.connect()));
  for (const tab of tabs) tab.subscribeEvents(() => {});
  await Promise.all(beats);
  for (const tab of tabs) await tab.close();
  process.stdout.write(JSON.stringify({ states: tabs.map((tab) => tab.state), leading: tabs.map((tab) => tab.leading) }));
} else {
const client = createSessionClient({
  url,
  WebSocket,
  storage: 'memory',
  // Ten-minute timers: one left behind would keep the process alive far past the bound.
  heartbeatIntervalMs: 600_000,
  reconnect: { delayMs: () => 600_000 },
});
const connected = client.connect();
if (mode === 'unreachable') {
  // The server is down: wait until a backoff timer is pending, then close.
  await new Promise((resolve) => client.on('reconnect', resolve));
  await client.close();
  await connected.catch(() => {});
} else {
  await connected;
  client.subscribeEvents(() => {});
  await new Promise((resolve) => client.on('heartbeat', resolve));
  await client.close({ endSession: mode === 'end' });
}
process.stdout.write(JSON.stringify({ sessionId: client.sessionId ?? null, state: client.state }));
}
`;

/**
 * How long a child may take to exit by itself: starting Node and the client
 * takes well under a second, but a loaded machine may be ten times slower;
 * a timer left behind would hold it for ten minutes.
 */
const EXIT_BOUND_MS = 30_000;
const TEST_TIMEOUT_MS = EXIT_BOUND_MS + 20_000;

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the child and waits for it to exit by itself; kills it (and fails) after `boundMs`. */
function runChild(script: string, args: string[], boundMs: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`child did not exit within ${boundMs} ms; stdout: ${stdout}; stderr: ${stderr}`),
      );
    }, boundMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('close() leaves nothing behind (a child process must exit on its own)', () => {
  let script = '';
  beforeAll(async () => {
    const dir = await transpileClient('close-test');
    script = join(dir, 'close-child.mjs');
    await writeFile(script, CHILD);
  });

  it(
    'after connecting, subscribing and heartbeating; the session stays on the server',
    async () => {
      await using server = await startTestServer();
      const result = await runChild(script, [server.url, 'keep'], EXIT_BOUND_MS);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const { sessionId, state } = JSON.parse(result.stdout) as {
        sessionId: string;
        state: string;
      };
      expect(state).toBe('closed');
      // The server counts the socket down when it has seen the close, which may
      // come after the child's exit reached this process.
      await vi.waitFor(
        async () =>
          expect(await server.manager.getSession(sessionId)).toMatchObject({ connectionCount: 0 }),
        { timeout: 10_000, interval: 20 },
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'with endSession: the session is deleted on the server',
    async () => {
      await using server = await startTestServer();
      const result = await runChild(script, [server.url, 'end'], EXIT_BOUND_MS);
      expect(result.code).toBe(0);
      const { sessionId } = JSON.parse(result.stdout) as { sessionId: string };
      expect(await server.manager.getSession(sessionId)).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "with connection: 'shared', three clients on one socket, the leader among them",
    async () => {
      await using server = await startTestServer();
      const result = await runChild(script, [server.url, 'shared'], EXIT_BOUND_MS);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({
        states: ['closed', 'closed', 'closed'],
        leading: [false, false, false],
      });
      expect(server.upgrades).toBe(1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'while reconnecting with a backoff timer pending',
    async () => {
      await using server = await startTestServer();
      await server.cut();
      const result = await runChild(script, [server.url, 'unreachable'], EXIT_BOUND_MS);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ state: 'closed' });
    },
    TEST_TIMEOUT_MS,
  );
});
