import { createTRPCClient, type TRPCClient, type TRPCLink } from '@trpc/client';
import { describe, expectTypeOf, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  createSessionClient,
  isRotatedEvent,
  ROTATED_EVENT_TYPE,
  type RotatedEvent,
  type RotatedEventData,
  type SessionClientEvents,
  type SessionEvent,
  type SessionRotatedEvent,
} from './index.js';
import type { TestRouter } from './testing/server.js';

describe('public types of rotation and links()', () => {
  it('types session-rotated handlers', () => {
    const client = createSessionClient<TestRouter>({ url: 'http://127.0.0.1:1', WebSocket });
    client.on('session-rotated', (event) => {
      expectTypeOf(event).toEqualTypeOf<SessionRotatedEvent>();
      expectTypeOf(event.previousSessionId).toEqualTypeOf<string>();
      expectTypeOf(event.sessionId).toEqualTypeOf<string>();
    });
    expectTypeOf<SessionRotatedEvent>().toEqualTypeOf<{
      previousSessionId: string;
      sessionId: string;
    }>();
    expectTypeOf<SessionClientEvents['session-rotated']>().toEqualTypeOf<
      (event: SessionRotatedEvent) => void
    >();
    // @ts-expect-error a rotation carries no reason, unlike a replacement
    client.on('session-rotated', (event) => event.reason);
    void client.close();
  });

  it('types the rotation notice of the wire protocol', () => {
    expectTypeOf(ROTATED_EVENT_TYPE).toEqualTypeOf<'session.rotated'>();
    expectTypeOf<RotatedEvent['data']>().toEqualTypeOf<RotatedEventData>();
    expectTypeOf<RotatedEventData>().toEqualTypeOf<{ sessionId: string }>();
    const event = {} as SessionEvent;
    if (isRotatedEvent(event)) expectTypeOf(event.data.sessionId).toEqualTypeOf<string>();
  });

  it('types client.links() by the client’s router, for createTRPCClient', () => {
    const client = createSessionClient<TestRouter>({ url: 'http://127.0.0.1:1', WebSocket });
    expectTypeOf(client.links).returns.toEqualTypeOf<TRPCLink<TestRouter>[]>();
    const trpc = createTRPCClient<TestRouter>({ links: client.links() });
    expectTypeOf(trpc).toEqualTypeOf<TRPCClient<TestRouter>>();
    expectTypeOf(trpc).toEqualTypeOf(client.trpc);
    expectTypeOf(trpc.test.whoami.query).returns.resolves.toEqualTypeOf<string>();
    expectTypeOf(trpc.test.rotate.mutate).returns.resolves.toEqualTypeOf<string>();
    void client.close();
  });
});
