// Morgan beside express-session and a Passport-style login: Morgan keeps to
// `req.morgan`, so the app's own `req.session`, its cookie and its login keep
// working whether Morgan is mounted before or after express-session.
import express, { type Express } from 'express';
import expressSession from 'express-session';
import { afterEach, describe, expect, test } from 'vitest';
import { SessionManager } from '../manager.js';
import { startHttpServer } from '../testing/http-server.js';
import { requireSession, sessionMiddleware } from './index.js';

declare module 'express-session' {
  interface SessionData {
    user?: string;
  }
}

const managers: SessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
});

function appWith(
  order: 'morgan-first' | 'express-session-first',
  manager: SessionManager,
): Express {
  const app = express();
  const cookieSessions = expressSession({
    secret: 'test secret',
    resave: false,
    saveUninitialized: false,
  });
  const morgan = sessionMiddleware(manager);
  if (order === 'morgan-first') app.use(morgan, cookieSessions);
  else app.use(cookieSessions, morgan);
  app.use(express.json());
  // A Passport-style login: regenerate the cookie session, then record the user on it.
  app.post('/login', (req, res, next) => {
    const { user } = req.body as { user: string };
    req.session.regenerate((error) => {
      if (error) return next(error);
      req.session.user = user;
      req.session.save((saveError) => (saveError ? next(saveError) : res.json({ ok: true })));
    });
  });
  app.get('/me', (req, res) => {
    res.json({
      typeofSession: typeof req.session,
      user: req.session.user ?? null,
      morganSession: req.morgan.session?.sessionId ?? null,
    });
  });
  app.get('/both', requireSession(), (req, res) => {
    res.json({ user: req.session.user ?? null, morganSession: req.morgan.session?.sessionId });
  });
  return app;
}

describe.each(['morgan-first', 'express-session-first'] as const)(
  'with express-session, %s',
  (order) => {
    test('the app’s login, its cookie and req.session work; Morgan’s session is at req.morgan', async () => {
      const manager = new SessionManager().start();
      managers.push(manager);
      const morganSession = await manager.createSession();
      await using http = await startHttpServer(appWith(order, manager));

      const anonymous = await fetch(`${http.url}/me`);
      expect(await anonymous.json()).toEqual({
        typeofSession: 'object',
        user: null,
        morganSession: null,
      });

      const login = await fetch(`${http.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'X-Session-Id': morganSession.sessionId },
        body: JSON.stringify({ user: 'alice' }),
      });
      expect(login.status).toBe(200);
      const cookie = login.headers.get('set-cookie')?.split(';')[0];
      expect(cookie).toMatch(/^connect\.sid=/);

      const me = await fetch(`${http.url}/me`, { headers: { cookie: cookie as string } });
      expect(await me.json()).toEqual({
        typeofSession: 'object',
        user: 'alice',
        morganSession: null,
      });

      const both = await fetch(`${http.url}/both`, {
        headers: { cookie: cookie as string, 'X-Session-Id': morganSession.sessionId },
      });
      expect(await both.json()).toEqual({ user: 'alice', morganSession: morganSession.sessionId });
      // Morgan's requireSession looks at Morgan's session only, not the cookie session.
      const cookieOnly = await fetch(`${http.url}/both`, { headers: { cookie: cookie as string } });
      expect(cookieOnly.status).toBe(401);
    });
  },
);
