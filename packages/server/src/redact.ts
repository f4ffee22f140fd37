const UUID = /\b([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi;

/**
 * Text fit for a log: session ids (bearer credentials) shortened to their
 * first 8 characters, and passwords in URLs (`redis://:secret@host`)
 * replaced by `***`.
 *
 * @example
 * redact('session 5f0c2a8e-1b7d-4c3e-9a6f-2d8b7e4c1a90 on redis://:pw@db:6379');
 * // → 'session 5f0c2a8e… on redis://:***@db:6379'
 */
export function redact(text: string): string {
  return text.replace(UUID, '$1…').replace(URL_PASSWORD, '$1***@');
}

/** `redact` for anything thrown: its stack (or message), and its causes. */
export function redactError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth += 1) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return redact(parts.join('\ncaused by: '));
}
