// Shapes of the admin API, shared by the server routes and the dashboard's
// browser code (so this file imports nothing).

/** One point of the dashboard's chart. */
export interface LoadSample {
  /** Epoch ms. */
  at: number;
  activeSessions: number;
  /** Real requests holding a capacity slot (simulated load left out). */
  inFlightRequests: number;
  /** Requests shed with 503 since the previous sample. */
  shed: number;
  /** The node's capacity limit at that moment (it moves in adaptive mode). */
  capacityLimit: number;
}

/** What the dashboard shows about the simulation. */
export interface OverloadState {
  enabled: boolean;
  freeSlots: number;
  replyDelayMs: number;
  /** Slots held by the simulated background load now. */
  heldSlots: number;
}

/** One row of the dashboard's session table. */
export interface AdminSessionRow {
  /** The id's first 8 characters and `…`: the id itself is a bearer credential, never listed. */
  shortId: string;
  /**
   * Names the session in `DELETE /sessions/:session` and
   * `POST /sessions/:session/rotate` on this node; stable while the node runs,
   * useless as a session id.
   */
  handle: string;
  userId: string | null;
  conversationId: string | null;
  createdAt: number;
  lastActivity: number;
  ageMs: number;
  idleMs: number;
  connectionCount: number;
  activeRequests: number;
}

/** This node's WebSockets: real sockets, and the tabs that share one per browser. */
export interface WebSocketTotals {
  /** Real sockets serving a session: a tab's own, or a browser's shared one. */
  sockets: number;
  /** Shared sockets (`?connection=shared`): one per browser. */
  sharedSockets: number;
  /** Tabs (channels, each with its own session) over the shared sockets. */
  channels: number;
}

/** Body of `GET /api/admin/state`. */
export interface AdminState {
  now: number;
  node: { name: string; pid: number; store: string; uptimeSeconds: number };
  totals: {
    activeSessions: number;
    created: number;
    deleted: number;
    expired: number;
    /** Real requests holding a capacity slot on this node (simulated load left out). */
    inFlightRequests: number;
    /** Requests tracked on sessions of this node. */
    activeRequests: number;
    maxConcurrentRequests: number;
    /** Requests app traffic may have in flight now: the adaptive limit, or `maxConcurrentRequests`. */
    capacityLimit: number;
    capacityMode: 'static' | 'adaptive';
    shed: number;
    /** Open connections of the listed sessions. */
    connections: number;
  };
  /** This node's WebSockets (null when the node serves none). */
  webSockets: WebSocketTotals | null;
  overload: OverloadState;
  sessions: AdminSessionRow[];
  /** True when more sessions exist than `listLimit`. */
  truncated: boolean;
  /** Why the list is empty although sessions exist (a store that cannot list). */
  listError: string | null;
  series: { intervalMs: number; windowMs: number; samples: LoadSample[] };
}
