import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startNodeProcess } from './node-process.js';

// A tiny server like the demo: PORT/HOST from the environment, /health, a clean SIGTERM.
const SERVER = `
import { createServer } from 'node:http';
const server = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ path: req.url, greeting: process.env.GREETING }));
});
server.listen(Number(process.env.PORT), process.env.HOST, () => console.log('up', process.env.GREETING));
process.on('SIGTERM', () => {
  if (process.env.IGNORE_SIGTERM === '1') return;
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
`;

const dir = mkdtempSync(join(tmpdir(), 'morgan-node-process-'));
const entry = join(dir, 'server.mjs');
writeFileSync(entry, SERVER);
const crashing = join(dir, 'crash.mjs');
writeFileSync(crashing, "console.error('no config'); process.exit(3);");

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('startNodeProcess', () => {
  it('starts healthy with its environment, stops by signal and starts again on the same port', async () => {
    await using node = await startNodeProcess({ entry, name: 'a', env: { GREETING: 'hi' } });
    expect(node.name).toBe('a');
    expect(node.wsUrl).toBe(`ws://127.0.0.1:${node.port}/trpc`);
    expect(await node.json('/x')).toEqual({ path: '/x', greeting: 'hi' });
    expect(node.output).toContain('up hi');

    await node.stop();
    expect(node.exit).toEqual({ code: 0, signal: null });
    expect(node.pid).toBeUndefined();

    await node.start();
    expect(node.exit).toBeUndefined();
    expect(await node.json('/health')).toMatchObject({ path: '/health' });

    await node.kill();
    expect(node.exit?.signal).toBe('SIGKILL');
  });

  it('sends SIGKILL when the process ignores the stop signal past the deadline', async () => {
    await using node = await startNodeProcess({
      entry,
      env: { IGNORE_SIGTERM: '1' },
      stopTimeoutMs: 200,
    });
    await node.stop('SIGTERM');
    expect(node.exit?.signal).toBe('SIGKILL');
  });

  it('fails with the output when the process exits before it is healthy', async () => {
    await expect(startNodeProcess({ entry: crashing, name: 'crash' })).rejects.toThrow(
      /crash exited with 3:\nno config/,
    );
  });
});
