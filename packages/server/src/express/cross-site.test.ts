// Cross-site request forgery from the attacker's side, on a real server
// built as docs/existing-app.md shows (login in an express-session cookie,
// the app's tRPC context reading it): an HTML form on another site posts
// `multipart/form-data` (no CORS preflight) with the victim's cookie. By
// default Morgan refuses it before anything runs; listed origins,
// same-origin pages and clients that send no browser headers pass.
import { request } from 'node:http';
import { describe, expect, test } from 'vitest';
import { startVictimApp, startVictimBehindNginx } from '../testing/victim-app.js';

const ATTACKER = 'https://attacker.example';

interface Answer {
  status: number;
  body: unknown;
}

/** A raw HTTP request with exactly these headers (no fetch defaults). */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: kept as text, and the test says so
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const BOUNDARY = '----attackerform';
const FORM_BODY = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="amount"\r\n\r\n1000\r\n--${BOUNDARY}--\r\n`;

/** What an HTML form on another site sends: multipart, the victim's cookie, the browser's headers. */
function formPost(url: string, cookie: string, browser: Record<string, string>): Promise<Answer> {
  return send(
    url,
    'POST',
    {
      'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
      cookie,
      ...browser,
    },
    FORM_BODY,
  );
}

const crossSite = { origin: ATTACKER, 'sec-fetch-site': 'cross-site' };

function refusal(origin: string) {
  return {
    error: {
      code: 'CROSS_SITE_REQUEST',
      message: expect.stringContaining(`${origin} is not allowed`),
    },
  };
}

describe('cross-site requests over HTTP', () => {
  test('the attack works when the attacker is listed: a form post runs the mutation as the victim', async () => {
    // The control for every refusal below: the same request, allowed, succeeds.
    await using app = await startVictimApp({ allowedOrigins: [ATTACKER] });
    const cookie = await app.logIn('victim');
    const answer = await formPost(`${app.url}/trpc/bank.transfer`, cookie, crossSite);
    expect(answer.status).toBe(200);
    expect(app.transfers).toEqual(['victim']);
  });

  test('a multipart form post to a tRPC mutation from another site is refused with 403 by default', async () => {
    await using app = await startVictimApp();
    const cookie = await app.logIn('victim');
    const answer = await formPost(`${app.url}/trpc/bank.transfer`, cookie, crossSite);
    expect(answer).toEqual({ status: 403, body: refusal(ATTACKER) });
    expect(answer.body).toMatchObject({
      error: { message: expect.stringContaining('allowedOrigins') },
    });
    expect(app.transfers).toEqual([]);
  });

  test('a plain Express route behind sessionMiddleware is protected the same way', async () => {
    await using app = await startVictimApp();
    const cookie = await app.logIn('victim');
    const answer = await formPost(`${app.url}/api/transfer`, cookie, crossSite);
    expect(answer).toEqual({ status: 403, body: refusal(ATTACKER) });
    expect(app.transfers).toEqual([]);
    // The same route from the app's own page runs.
    const own = await formPost(`${app.url}/api/transfer`, cookie, {
      origin: app.url,
      'sec-fetch-site': 'same-origin',
    });
    expect(own.status).toBe(200);
    expect(app.transfers).toEqual(['victim']);
  });

  test('trpcHandler mounted without sessionMiddleware refuses on its own', async () => {
    await using app = await startVictimApp({ trpcAlone: true });
    const cookie = await app.logIn('victim');
    const answer = await formPost(`${app.url}/trpc/bank.transfer`, cookie, crossSite);
    expect(answer).toEqual({ status: 403, body: refusal(ATTACKER) });
    expect(app.transfers).toEqual([]);
  });

  test('a sibling subdomain (Sec-Fetch-Site: same-site) is another origin, refused', async () => {
    await using app = await startVictimApp();
    const cookie = await app.logIn('victim');
    const sibling = 'https://blog.bank.example';
    const answer = await formPost(`${app.url}/trpc/bank.transfer`, cookie, {
      origin: sibling,
      'sec-fetch-site': 'same-site',
    });
    expect(answer).toEqual({ status: 403, body: refusal(sibling) });
    expect(app.transfers).toEqual([]);
  });

  test('an older browser without Sec-Fetch-Site is judged by Origin against Host', async () => {
    await using app = await startVictimApp();
    const cookie = await app.logIn('victim');
    const foreign = await formPost(`${app.url}/trpc/bank.transfer`, cookie, { origin: ATTACKER });
    expect(foreign).toEqual({ status: 403, body: refusal(ATTACKER) });
    // Origin `null` (a sandboxed frame, a redirect) is never same-origin.
    const opaque = await formPost(`${app.url}/trpc/bank.transfer`, cookie, { origin: 'null' });
    expect(opaque).toEqual({ status: 403, body: refusal('null') });
    expect(app.transfers).toEqual([]);
    const own = await formPost(`${app.url}/trpc/bank.transfer`, cookie, { origin: app.url });
    expect(own.status).toBe(200);
    expect(app.transfers).toEqual(['victim']);
  });

  test('same-origin pages, typed-in navigations and header-less clients pass', async () => {
    await using app = await startVictimApp();
    const cookie = await app.logIn('victim');
    const url = `${app.url}/trpc/bank.transfer`;
    const sameOrigin = await formPost(url, cookie, {
      origin: app.url,
      'sec-fetch-site': 'same-origin',
    });
    const typedIn = await formPost(url, cookie, { 'sec-fetch-site': 'none' });
    const server = await formPost(url, cookie, {});
    expect([sameOrigin.status, typedIn.status, server.status]).toEqual([200, 200, 200]);
    expect(app.transfers).toEqual(['victim', 'victim', 'victim']);
  });

  test('safe methods pass cross-site: a query and a GET route are not refused', async () => {
    await using app = await startVictimApp();
    const session = await send(`${app.url}/trpc/session.create`, 'POST', {
      'content-type': 'application/json',
    });
    const sessionId = (session.body as { result: { data: { json: { sessionId: string } } } }).result
      .data.json.sessionId;
    const query = await send(`${app.url}/trpc/bank.whoami`, 'GET', {
      ...crossSite,
      'x-session-id': sessionId,
    });
    expect(query.status).toBe(200);
  });

  test('a function in allowedOrigins decides, and only for other origins', async () => {
    const asked: string[] = [];
    await using app = await startVictimApp({
      allowedOrigins: (origin) => {
        asked.push(origin ?? '(none)');
        return origin?.endsWith('.partner.example') === true;
      },
    });
    const cookie = await app.logIn('victim');
    const url = `${app.url}/trpc/bank.transfer`;
    const partner = await formPost(url, cookie, {
      origin: 'https://app.partner.example',
      'sec-fetch-site': 'cross-site',
    });
    const attacker = await formPost(url, cookie, crossSite);
    await formPost(url, cookie, { origin: app.url, 'sec-fetch-site': 'same-origin' });
    expect([partner.status, attacker.status]).toEqual([200, 403]);
    // Same-origin requests never reach the function, nor does HTTP ask about a missing Origin.
    expect(new Set(asked)).toEqual(new Set(['https://app.partner.example', ATTACKER]));
  });

  test('behind nginx with trust proxy, the forwarded host is the origin a page is judged by', async () => {
    await using trusting = await startVictimBehindNginx(true);
    await using untrustingStack = await startVictimBehindNginx(false);
    const { app, nginx } = trusting;
    const { app: untrusting, nginx: nginxUntrusted } = untrustingStack;
    const page = (proxy: { url: string }) => ({ origin: proxy.url });
    // nginx sends Host: the upstream group and X-Forwarded-Host: the page's host.
    const cookie = await app.logIn('victim');
    const trusted = await formPost(`${nginx.url}/trpc/bank.transfer`, cookie, page(nginx));
    expect(trusted.status).toBe(200);
    expect(app.transfers).toEqual(['victim']);
    // Without trust proxy the forwarded host is not believed: the page looks cross-site.
    const other = await untrusting.logIn('victim');
    const untrusted = await formPost(
      `${nginxUntrusted.url}/trpc/bank.transfer`,
      other,
      page(nginxUntrusted),
    );
    expect(untrusted).toEqual({ status: 403, body: refusal(nginxUntrusted.url) });
    // An attacker through the trusted proxy is still refused.
    const attack = await formPost(`${nginx.url}/trpc/bank.transfer`, cookie, crossSite);
    expect(attack.status).toBe(403);
    expect(app.transfers).toEqual(['victim']);
  });
});
