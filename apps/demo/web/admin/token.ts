// Where the dashboard keeps the admin token: it arrives in the URL fragment
// (`/admin/#token=…`, printed by `npm start`; a fragment never reaches a
// server log or a Referer), leaves the address bar at once, and stays in this
// tab's sessionStorage so that a reload keeps working.

const STORAGE_KEY = 'morgan-admin-token';

/** The admin token of this tab, read from `#token=` first, then sessionStorage. */
export function loadToken(): string | undefined {
  return tokenFromFragment() ?? read() ?? undefined;
}

/**
 * The token in `#token=<token>` of the address, saved for this tab and
 * removed from the address bar and the history entry; undefined when the
 * fragment has none. Call it again on `hashchange` (the URL pasted into a
 * tab that already shows the dashboard does not reload the page).
 */
export function tokenFromFragment(): string | undefined {
  const fromUrl = takeFromFragment();
  if (fromUrl !== undefined) saveToken(fromUrl);
  return fromUrl;
}

/** Keeps `token` for this tab (reloads included). */
export function saveToken(token: string): void {
  try {
    sessionStorage.setItem(STORAGE_KEY, token);
  } catch {
    // Storage disabled: the token lasts as long as the page.
  }
}

/** Forgets the token (the server refused it). */
export function forgetToken(): void {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Nothing stored.
  }
}

/** `#token=<token>` of the address, removed from the address bar and history entry. */
function takeFromFragment(): string | undefined {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get('token')?.trim();
  if (!fragment.has('token')) return undefined;
  fragment.delete('token');
  const rest = fragment.toString();
  history.replaceState(
    history.state,
    '',
    `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`,
  );
  return token === '' ? undefined : token;
}

function read(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}
