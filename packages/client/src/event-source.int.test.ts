import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SessionClientError } from './errors.js';
import {
  type EventSourceHooks,
  type SessionEventSource,
  type SessionMessageEvent,
  type StreamFailure,
  sessionEventSourceClass,
} from './event-source.js';

type Handler = (req: IncomingMessage, res: ServerResponse, attempt: number) => void;

const servers: { close: () => void }[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** A raw HTTP server answering each request with `handler`; records the requests' headers. */
async function sseServer(handler: Handler) {
  const requests: IncomingMessage['headers'][] = [];
  const server = createServer((req, res) => {
    requests.push(req.headers);
    handler(req, res, requests.length);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push({
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/s`, requests };
}

/** Hooks that record what the source reports; waits between attempts are `waits`. */
function recorder(sessionId = 'sid-1') {
  const log = {
    opened: 0,
    dropped: [] as SessionClientError[],
    closed: [] as (SessionClientError | undefined)[],
    failures: [] as (StreamFailure | undefined)[],
    lost: [] as string[],
  };
  const hooks: EventSourceHooks = {
    onCreated: () => {},
    beforeConnect: async (failure) => {
      log.failures.push(failure);
    },
    sessionId: () => sessionId,
    sessionLost: async (sentId) => {
      log.lost.push(sentId);
      return true;
    },
    onOpen: () => {
      log.opened += 1;
    },
    onDrop: (_source, error) => log.dropped.push(error),
    onClosed: (_source, error) => log.closed.push(error),
  };
  return { log, hooks };
}

function collect(source: SessionEventSource, type: string): SessionMessageEvent[] {
  const events: SessionMessageEvent[] = [];
  source.addEventListener(type, (event) => events.push(event));
  return events;
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('SessionEventSource against a real HTTP server', () => {
  it('sends the session header, parses events (CRLF, multi-line data, comments, named events) and resumes with Last-Event-ID', async () => {
    const { url, requests } = await sseServer((_req, res, attempt) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (attempt === 1) {
        res.write(': comment\r\nevent: connected\r\ndata: {}\r\n\r\n');
        res.write('id: 7\ndata: line one\ndata: line two\n\n');
        // Split inside a CRLF: the parser must wait for the LF.
        res.write('id: 8\r');
        res.write('\ndata: eight\r\n\r\n');
        setTimeout(() => res.destroy(), 20);
      } else {
        res.write('id: 9\ndata: nine\n\n');
      }
    });
    const { log, hooks } = recorder();
    const Source = sessionEventSourceClass(fetch, hooks);
    const source = new Source(url, { primary: true });
    const messages = collect(source, 'message');
    const connected = collect(source, 'connected');
    await until(() => messages.length === 3, 'three messages');
    source.close();

    expect(connected).toHaveLength(1);
    expect(messages.map((m) => [m.lastEventId, m.data])).toEqual([
      ['7', 'line one\nline two'],
      ['8', 'eight'],
      ['9', 'nine'],
    ]);
    expect(requests[0]?.['x-session-id']).toBe('sid-1');
    expect(requests[0]?.accept).toBe('text/event-stream');
    expect(requests[0]?.['last-event-id']).toBeUndefined();
    expect(requests[1]?.['last-event-id']).toBe('8');
    expect(log.opened).toBe(2);
    // The cut stream was a loss: the next attempt waited the backoff.
    expect(log.dropped).toHaveLength(1);
    expect(log.failures[1]?.error.code).toBe('NETWORK_ERROR');
    expect(log.closed).toEqual([undefined]);
    expect(source.readyState).toBe(source.CLOSED);
  });

  it('reconnects at once, without a loss, when a stream that ran a while ends cleanly (maxDurationMs)', async () => {
    const { url, requests } = await sseServer((_req, res, attempt) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`id: ${attempt}\ndata: n${attempt}\n\n`);
      if (attempt === 1) setTimeout(() => res.end(), 1_100);
    });
    const { log, hooks } = recorder();
    const source = new (sessionEventSourceClass(fetch, hooks))(url, { primary: true });
    const messages = collect(source, 'message');
    const errors = collect(source, 'error');
    await until(() => messages.length === 2, 'the event after the reconnect');
    source.close();
    expect(messages.map((m) => m.data)).toEqual(['n1', 'n2']);
    expect(requests[1]?.['last-event-id']).toBe('1');
    expect(log.dropped).toEqual([]);
    expect(log.failures).toEqual([undefined, undefined]);
    expect(errors).toEqual([]);
  }, 15_000);

  it('replaces a lost session (404 SESSION_NOT_FOUND) and retries at once; waits Retry-After of a 429; closes on a 403', async () => {
    const { url } = await sseServer((_req, res, attempt) => {
      if (attempt === 1) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'SESSION_NOT_FOUND', message: 'gone' } }));
      } else if (attempt === 2) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '2' });
        res.end(JSON.stringify({ error: { code: 'RATE_LIMITED', message: 'slow' } }));
      } else {
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'FORBIDDEN', message: 'no' } }));
      }
    });
    const { log, hooks } = recorder('sid-lost');
    const source = new (sessionEventSourceClass(fetch, hooks))(url, { primary: true });
    const errors = collect(source, 'error');
    await until(() => log.closed.length === 1, 'the final refusal');
    expect(log.lost).toEqual(['sid-lost']);
    expect(log.failures[0]).toBeUndefined();
    expect(log.failures[1]).toBeUndefined();
    expect(log.failures[2]).toMatchObject({ retryAfterMs: 2_000, error: { httpStatus: 429 } });
    expect(log.closed[0]).toMatchObject({ code: 'FORBIDDEN', httpStatus: 403 });
    expect(source.readyState).toBe(source.CLOSED);
    expect(errors.at(-1)?.error?.code).toBe('FORBIDDEN');
    expect(log.opened).toBe(0);
  });

  it('retries an answer that is not an event stream, and stops for good when beforeConnect rejects', async () => {
    const { url } = await sseServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<p>a captive portal</p>');
    });
    const { log, hooks } = recorder();
    let calls = 0;
    const source = new (sessionEventSourceClass(fetch, {
      ...hooks,
      beforeConnect: async (failure) => {
        log.failures.push(failure);
        calls += 1;
        if (calls === 3) throw new Error('closed');
      },
    }))(url);
    await until(() => log.closed.length === 1, 'the end');
    expect(log.failures[1]?.error.code).toBe('UNEXPECTED_RESPONSE');
    expect(source.readyState).toBe(source.CLOSED);
    expect(source.primary).toBe(false);
  });
});
