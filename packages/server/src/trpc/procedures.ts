import type { TRPCRootObject, TRPCRuntimeConfigOptions } from '@trpc/server';
import { z } from 'zod';
import { ErrorCode, MorganError } from '../errors.js';
import type { HeartbeatResult } from '../protocol.js';
import type { MorganContext } from './context.js';
import { notStarted, toTRPCError } from './errors.js';
import { sessionEvents, sessionEventsInput } from './events.js';
import { idempotentCall, type MiddlewareResult } from './idempotency.js';
import type { MorganProcedures } from './procedure-types.js';

/** Options of `createMorganProcedures` and `createSessionRouter`. */
export interface MorganProceduresOptions<TContext extends MorganContext = MorganContext> {
  /**
   * Decides the `userId` of a session that `session.create` makes, from the
   * caller's context (for example the user your login put on `ctx.user`).
   * Identity is the server's: return undefined for an anonymous session.
   * @default undefined (sessions get no userId, unless `allowClientUserId`)
   */
  identify?: ((ctx: TContext) => string | undefined | Promise<string | undefined>) | undefined;
  /**
   * Accept a `userId` sent by the client in `session.create`. Anyone can
   * claim any id then, so only for demos and trusted clients; `identify`
   * wins when it returns one. Otherwise a client-sent `userId` answers 400
   * `INVALID_REQUEST`.
   * @default false
   */
  allowClientUserId?: boolean | undefined;
}

const jsonObject = z.record(z.string(), z.json());

const createInput = z
  .object({
    userId: z.string().min(1).max(256).optional(),
    conversationId: z.string().min(1).max(256).optional(),
    metadata: jsonObject.optional(),
  })
  .strict()
  .optional();

const updateMetadataInput = z
  .object({ patch: jsonObject, ifVersion: z.number().int().positive().optional() })
  .strict();

/**
 * Every `session.create` built by `createMorganProcedures`, so that
 * `trpcHandler` can tell from a request's path alone that it only creates
 * sessions (and turn a refused address away before reading its body).
 */
const sessionCreateProcedures = new WeakSet<object>();

/**
 * Every `session.events` built by `createMorganProcedures`, so that the
 * WebSocket layer serves it itself only where the router has Morgan's own.
 */
const sessionEventsProcedures = new WeakSet<object>();

/** True when `procedure` is a `session.events` built by `createMorganProcedures`. */
export function isSessionEventsProcedure(procedure: unknown): boolean {
  return typeof procedure === 'function' && sessionEventsProcedures.has(procedure);
}

/** True when `procedure` is a `session.create` built by `createMorganProcedures`. */
export function isSessionCreateProcedure(procedure: unknown): boolean {
  return typeof procedure === 'function' && sessionCreateProcedures.has(procedure);
}

/**
 * Morgan's procedures and `session.*` router, built on the app's own tRPC
 * instance, so an app with its own `t`, context and error formatter can
 * merge them into its router. The instance's context must include
 * {@link MorganContext} (what `trpcHandler` and `attachWebSocket` provide);
 * its `errorFormatter` should spread `morganErrorData(error)` into `data`.
 *
 * - `publicProcedure`: any caller; Morgan errors map to their HTTP status;
 *   a mutation sent with an idempotency key runs once per key and session
 *   (`idempotentCall`).
 * - `sessionProcedure`: requires a session; `ctx.session` is typed.
 * - `sessionEventsProcedure`: the `session.events` subscription.
 * - `sessionRouter`: `create`, `get`, `heartbeat`, `updateMetadata`,
 *   `delete`, `metrics`, `events`, to merge under `session`.
 *
 * @example
 * const t = initTRPC.context<AppContext & MorganContext>().create({ transformer: superjson, errorFormatter });
 * const { sessionProcedure, sessionRouter } = createMorganProcedures(t, {
 *   identify: (ctx) => ctx.user?.id,
 * });
 * export const appRouter = t.router({ session: sessionRouter, todo: todoRouter });
 */
export function createMorganProcedures<
  TContext extends MorganContext,
  TMeta extends object,
  TOptions extends TRPCRuntimeConfigOptions<TContext, TMeta>,
>(
  t: TRPCRootObject<TContext, TMeta, TOptions>,
  options: MorganProceduresOptions<TContext> = {},
): MorganProcedures<TContext, TMeta, TOptions> {
  const { identify, allowClientUserId = false } = options;

  const publicProcedure = t.procedure
    // MorganErrors thrown by procedures become TRPCErrors with their mapped status.
    .use(async ({ next }) => {
      const result = await next();
      if (!result.ok && result.error.cause instanceof MorganError) {
        throw toTRPCError(result.error.cause);
      }
      return result;
    })
    // Each call runs through the transport's `ctx.runCall`, when it set one.
    .use(({ ctx, next, path }) =>
      ctx.runCall === undefined ? next() : ctx.runCall(() => next(), path),
    )
    // A mutation sent with an idempotency key runs once per key and session.
    .use(
      ({ ctx, next, path, type, getRawInput }) =>
        idempotentCall({
          ctx,
          type,
          path,
          getRawInput,
          next: next as () => Promise<MiddlewareResult>,
        }) as ReturnType<typeof next>,
    );

  const sessionProcedure = publicProcedure.use(({ ctx, next }) => {
    if (ctx.session === undefined) {
      throw notStarted(
        toTRPCError(new MorganError(ctx.sessionError ?? ErrorCode.SESSION_REQUIRED)),
      );
    }
    return next({ ctx: { session: ctx.session } });
  });

  const sessionEventsProcedure = sessionProcedure
    .input(sessionEventsInput)
    .subscription(({ ctx, input, signal }) =>
      sessionEvents({
        events: ctx.manager.events,
        sessionId: ctx.session.sessionId,
        rotatedTo: (id) => ctx.manager.rotatedTo(id),
        lastEventId: input?.lastEventId,
        signal,
        onEnd: ctx.openSubscription?.(),
      }),
    );
  sessionEventsProcedures.add(sessionEventsProcedure);

  const sessionCreate = publicProcedure
    // The rate limit comes before the input: tRPC reads and parses a
    // request's body only when a call needs its input, so a refused
    // address's bodies (up to `maxBodyBytes` each) are never parsed.
    .use(async ({ ctx, next }) => {
      await ctx.manager.admitCreation(ctx.clientAddress);
      return next();
    })
    .input(createInput)
    .mutation(async ({ ctx, input }) => {
      if (input?.userId !== undefined && !allowClientUserId) {
        throw new MorganError(
          ErrorCode.INVALID_REQUEST,
          'userId is decided by the server; this server does not accept it from clients',
        );
      }
      // tRPC hands procedures the instance's context type, simplified: it is TContext.
      const identified = await identify?.(ctx as unknown as TContext);
      return ctx.manager.createSession({
        userId: identified ?? input?.userId,
        conversationId: input?.conversationId,
        metadata: input?.metadata,
      });
    });
  sessionCreateProcedures.add(sessionCreate);

  const sessionRouter = t.router({
    /** Creates a session; the answer carries its `sessionId`. Its `userId` is the server's to decide. */
    create: sessionCreate,
    /** The caller's session as stored now. */
    get: sessionProcedure.query(
      async ({ ctx }) => (await ctx.manager.getSession(ctx.session.sessionId)) ?? ctx.session,
    ),
    /** Keeps the session alive; reports when it would expire and the server's timeout. */
    heartbeat: sessionProcedure.mutation(async ({ ctx }): Promise<HeartbeatResult> => {
      const session = (await ctx.manager.touch(ctx.session.sessionId)) ?? ctx.session;
      const timeoutMs = ctx.manager.sessionTimeoutMs;
      return {
        lastActivity: session.lastActivity,
        expiresAt: new Date(session.lastActivity.getTime() + timeoutMs),
        sessionTimeoutMs: timeoutMs,
      };
    }),
    /**
     * Changes the caller's session metadata by a JSON merge patch (`null`
     * removes a key); with `ifVersion`, only if the metadata is still that
     * version (else 409 `VERSION_CONFLICT`). Answers the session, with its
     * new `metadataVersion`.
     */
    updateMetadata: sessionProcedure.input(updateMetadataInput).mutation(({ ctx, input }) =>
      ctx.manager.updateMetadata(ctx.session.sessionId, input.patch, {
        ifVersion: input.ifVersion,
      }),
    ),
    /** Ends the caller's session at once. */
    delete: sessionProcedure.mutation(async ({ ctx }) => ({
      deleted: await ctx.manager.deleteSession(ctx.session.sessionId),
    })),
    /** Node and session figures (`getMetrics()`). */
    metrics: publicProcedure.query(({ ctx }) => ctx.manager.getMetrics()),
    /** Server events of the caller's session, resumable by last event id. */
    events: sessionEventsProcedure,
  });

  return { publicProcedure, sessionProcedure, sessionEventsProcedure, sessionRouter };
}
