import { randomBytes } from 'node:crypto';
import { ConfigError } from '@morgan/session-server';

/** Shortest admin token accepted, in characters. */
export const ADMIN_TOKEN_MIN_LENGTH = 16;
/** Longest admin token accepted, in characters. */
export const ADMIN_TOKEN_MAX_LENGTH = 256;
/** The environment variable that sets the admin token. */
export const ADMIN_TOKEN_VARIABLE = 'MORGAN_ADMIN_TOKEN';

/** Visible ASCII, no spaces: it goes into an `Authorization: Bearer` header. */
const TOKEN = /^[\x21-\x7e]+$/;

/** Where the admin token of a node comes from. */
export interface AdminTokenSource {
  token: string;
  /** True when the node drew it at start-up (`MORGAN_ADMIN_TOKEN` unset). */
  generated: boolean;
}

/** A new random token: 32 bytes from `crypto.randomBytes`, base64url (43 characters). */
export function generateAdminToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Why `token` is not a valid admin token, or undefined when it is: 16 to 256
 * visible ASCII characters without spaces.
 */
export function adminTokenProblem(token: string): string | undefined {
  if (token.length < ADMIN_TOKEN_MIN_LENGTH || token.length > ADMIN_TOKEN_MAX_LENGTH)
    return `${ADMIN_TOKEN_MIN_LENGTH} to ${ADMIN_TOKEN_MAX_LENGTH} characters`;
  if (!TOKEN.test(token)) return 'visible ASCII characters without spaces';
  return undefined;
}

/**
 * The admin token from `MORGAN_ADMIN_TOKEN`, or a random one when it is unset
 * or empty.
 *
 * @throws ConfigError naming the variable; the message never shows the value,
 *   only its length (the variable holds a secret and the message is logged).
 * @example
 * const { token, generated } = adminTokenFromEnv(process.env);
 */
export function adminTokenFromEnv(
  env: Record<string, string | undefined> = process.env,
): AdminTokenSource {
  const raw = env[ADMIN_TOKEN_VARIABLE];
  if (raw === undefined || raw.trim() === '')
    return { token: generateAdminToken(), generated: true };
  const problem = adminTokenProblem(raw);
  if (problem !== undefined)
    throw new ConfigError(ADMIN_TOKEN_VARIABLE, `<${raw.length} characters, not shown>`, problem);
  return { token: raw, generated: false };
}
