// What P9's load generator (users.ts) is given and reports; shared with the
// target that runs it (a module of its own: users.ts runs when imported).

export interface SoakSpec {
  url: string;
  users: number;
  durationSeconds: number;
}

export interface SoakResult {
  cycles: number;
  sessionsCreated: number;
  sessionsEnded: number;
  httpRequests: number;
  wsSockets: number;
  wsCalls: number;
  /** Failures by kind (status, close code, timeout). */
  errors: Record<string, number>;
  /** Close codes the sockets saw. */
  closeCodes: Record<string, number>;
  elapsedSeconds: number;
}

/** A result with nothing counted yet. */
export function emptySoakResult(): SoakResult {
  return {
    cycles: 0,
    sessionsCreated: 0,
    sessionsEnded: 0,
    httpRequests: 0,
    wsSockets: 0,
    wsCalls: 0,
    errors: {},
    closeCodes: {},
    elapsedSeconds: 0,
  };
}
