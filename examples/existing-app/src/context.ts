import type { Db, User } from './db.js';

/** What the app's procedures get in `ctx`, with or without Morgan. */
export interface AppContext {
  db: Db;
  /** The logged-in user (Passport's `req.user`), or undefined. */
  user: User | undefined;
}
