import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './testing/server.js';
import { transpileClient } from './testing/transpile.js';

// Runs in a child process: if close() left a timer, socket or listener
// behind, the process would not exit on its own.
const CHILD = `
import { WebSocket } from 'ws';
import { createSessionClient } from './index.js';

const [url, mode] = process.argv.slice(2);
const client = createSessionClient({
  url,
  WebSocket,
  storage: 'memory',
  // Long timers: one left behind would keep the process alive past the bound.
  heartbeatIntervalMs: 60_000,
  reconnect: { delayMs: () => 30_000 },
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
`;

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

  it('after connecting, subscribing and heartbeating; the session stays on the server', async () => {
    await using server = await startTestServer();
    const result = await runChild(script, [server.url, 'keep'], 10_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { sessionId, state } = JSON.parse(result.stdout) as { sessionId: string; state: string };
    expect(state).toBe('closed');
    expect(await server.manager.getSession(sessionId)).toMatchObject({ connectionCount: 0 });
  });

  it('with endSession: the session is deleted on the server', async () => {
    await using server = await startTestServer();
    const result = await runChild(script, [server.url, 'end'], 10_000);
    expect(result.code).toBe(0);
    const { sessionId } = JSON.parse(result.stdout) as { sessionId: string };
    expect(await server.manager.getSession(sessionId)).toBeUndefined();
  });

  it('while reconnecting with a backoff timer pending', async () => {
    await using server = await startTestServer();
    await server.cut();
    const result = await runChild(script, [server.url, 'unreachable'], 10_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ state: 'closed' });
  });
});
