/**
 * The published types of what `createMorganProcedures` builds, written out
 * with tRPC's public type names only, and only with the type parameters
 * every tRPC 11 release has: the declarations an app compiles against then
 * mean the same on the oldest and the newest 11.x it may have installed.
 * (Left to inference, TypeScript would print tRPC's internal generics as the
 * installed release spells them, and an app on another release would lose
 * its procedures' `ctx` and input types.)
 */
import type {
  TRPCBuiltRouter,
  TRPCMutationProcedure,
  TRPCProcedureBuilder,
  TRPCQueryProcedure,
  TRPCRootObject,
  TRPCRuntimeConfigOptions,
  TRPCSubscriptionProcedure,
  TRPCUnsetMarker,
} from '@trpc/server';
import type { SessionMetrics } from '../manager.js';
import type {
  CreateSessionInput,
  HeartbeatResult,
  JsonObject,
  Session,
  SessionEvent,
} from '../protocol.js';

/**
 * A procedure builder of the app's instance whose context gains
 * `TOverrides`, as `t.procedure.use(…)` makes it. Releases from 11.22 on
 * add a ninth parameter, the error shape, whose default is the router's.
 */
export type MorganProcedureBuilder<TContext, TMeta, TOverrides> = TRPCProcedureBuilder<
  TContext,
  TMeta,
  TOverrides,
  TRPCUnsetMarker,
  TRPCUnsetMarker,
  TRPCUnsetMarker,
  TRPCUnsetMarker,
  false
>;

/** The input type tRPC gives a procedure without an input parser. */
// biome-ignore lint/suspicious/noConfusingVoidType: tRPC's own type for "no input"
type NoInput = void;

/** One `session.events` item as a client receives it: a `tracked()` event. */
export interface TrackedSessionEvent {
  /** The event's id, to resume after (`lastEventId`). */
  id: string;
  data: SessionEvent;
}

/** The `session.events` subscription. */
export type SessionEventsProcedure<TMeta> = TRPCSubscriptionProcedure<{
  input: { lastEventId?: string | null | undefined } | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: the `next()` type of tRPC's own subscription outputs
  output: AsyncIterable<TrackedSessionEvent, void, any>;
  meta: TMeta;
}>;

/** The procedures of the `session.*` router, by name. */
export type SessionProcedures<TMeta> = {
  /** Creates a session; the answer carries its `sessionId`. Its `userId` is the server's to decide. */
  create: TRPCMutationProcedure<{
    input: CreateSessionInput | undefined;
    output: Session;
    meta: TMeta;
  }>;
  /** The caller's session as stored now. */
  get: TRPCQueryProcedure<{ input: NoInput; output: Session; meta: TMeta }>;
  /** Keeps the session alive; reports when it would expire and the server's timeout. */
  heartbeat: TRPCMutationProcedure<{ input: NoInput; output: HeartbeatResult; meta: TMeta }>;
  /**
   * Changes the caller's session metadata by a JSON merge patch (`null`
   * removes a key); with `ifVersion`, only if the metadata is still that
   * version (else 409 `VERSION_CONFLICT`). Answers the session, with its
   * new `metadataVersion`.
   */
  updateMetadata: TRPCMutationProcedure<{
    input: { patch: JsonObject; ifVersion?: number | undefined };
    output: Session;
    meta: TMeta;
  }>;
  /** Ends the caller's session at once. */
  delete: TRPCMutationProcedure<{ input: NoInput; output: { deleted: boolean }; meta: TMeta }>;
  /** Node and session figures (`getMetrics()`). */
  metrics: TRPCQueryProcedure<{ input: NoInput; output: SessionMetrics; meta: TMeta }>;
  /** Server events of the caller's session, resumable by last event id. */
  events: SessionEventsProcedure<TMeta>;
};

/** The root types (context, meta, error shape, transformer) of an app's instance. */
export type RootTypesOf<
  TContext extends object,
  TMeta extends object,
  TOptions extends TRPCRuntimeConfigOptions<TContext, TMeta>,
> = TRPCRootObject<TContext, TMeta, TOptions>['_config']['$types'];

/** What `createMorganProcedures(t)` returns, on the app's instance `t`. */
export interface MorganProcedures<
  TContext extends object,
  TMeta extends object,
  TOptions extends TRPCRuntimeConfigOptions<TContext, TMeta>,
> {
  /** Any caller; Morgan errors map to their status; keyed mutations run once per key. */
  publicProcedure: MorganProcedureBuilder<TContext, TMeta, object>;
  /** Requires a session: `ctx.session` is typed and present. */
  sessionProcedure: MorganProcedureBuilder<TContext, TMeta, { session: Session }>;
  /** The `session.events` subscription, for apps that compose their own session router. */
  sessionEventsProcedure: SessionEventsProcedure<TMeta>;
  /** `session.*`: merge it under `session` in the app's router. */
  sessionRouter: TRPCBuiltRouter<RootTypesOf<TContext, TMeta, TOptions>, SessionProcedures<TMeta>>;
}
