// The app's login, as it was before Morgan: express-session keeps a cookie
// session, Passport's local strategy checks the password and `req.login`
// regenerates the cookie session (no session fixation). Morgan changes
// nothing here: it keeps to `req.morgan` and never touches `req.session`.
import type { IncomingMessage } from 'node:http';
import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import expressSession from 'express-session';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import type { User as AppUser, Db } from './db.js';

declare global {
  namespace Express {
    /** What Passport puts at `req.user`. */
    interface User extends AppUser {}
  }
}

declare module 'express-session' {
  interface SessionData {
    /** Passport's part of the cookie session: the logged-in user's id. */
    passport?: { user?: string };
  }
}

export interface Auth {
  /** express-session, then Passport: mount before the routes that read `req.user`. */
  middleware: RequestHandler[];
  /** `POST /login` (JSON `{ username, password }`), `POST /logout`, `GET /me`. */
  routes: Router;
  /**
   * The logged-in user of a WebSocket upgrade request, from its session
   * cookie: the upgrade does not go through Express, so the cookie session
   * is read here, with the same express-session middleware.
   */
  userOfUpgrade(req: IncomingMessage): Promise<AppUser | undefined>;
}

export function createAuth(db: Db, options: { secret: string }): Auth {
  const cookieSession = expressSession({
    secret: options.secret,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax' },
  });
  const passport = new Passport();
  passport.use(
    new LocalStrategy((username, password, done) => {
      done(null, db.verifyPassword(username, password) ?? false);
    }),
  );
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id: string, done) => done(null, db.userById(id) ?? false));

  const routes = Router();
  routes.post('/login', express.json(), (req, res, next) => {
    passport.authenticate('local', (error: unknown, user: AppUser | false) => {
      if (error) return next(error);
      if (!user) return res.status(401).json({ error: { code: 'LOGIN_FAILED' } });
      // Passport regenerates the cookie session here (express-session's regenerate).
      req.login(user, (loginError) => (loginError ? next(loginError) : res.json({ user })));
    })(req, res, next);
  });
  routes.post('/logout', (req, res, next) => {
    req.logout((error) => (error ? next(error) : res.json({ ok: true })));
  });
  routes.get('/me', (req, res) => {
    res.json({ user: req.user ?? null });
  });

  return {
    middleware: [cookieSession, passport.initialize(), passport.session()],
    routes,
    userOfUpgrade(req) {
      return new Promise((resolve, reject) => {
        // express-session only reads here: with no response, it sets no cookie.
        cookieSession(req as Request, {} as Response, (error?: unknown) => {
          if (error) return reject(error);
          const id = (req as Request).session?.passport?.user;
          resolve(id === undefined ? undefined : db.userById(id));
        });
      });
    },
  };
}
