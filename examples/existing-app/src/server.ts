// `npm start` of the example: the app with Morgan on PORT (default 3000),
// with two users, alice / wonderland and bob / builder.
import { randomBytes } from 'node:crypto';
import { createShutdown } from '@morgan/session-server/express';
import { createApp } from './app.js';
import { createDb } from './db.js';

const db = createDb([
  { id: 'u-alice', name: 'Alice', username: 'alice', password: 'wonderland' },
  { id: 'u-bob', name: 'Bob', username: 'bob', password: 'builder' },
]);
const { server, manager, ws } = createApp({
  db,
  secret: process.env.SESSION_SECRET ?? randomBytes(32).toString('hex'),
});
manager.start();
const shutdown = createShutdown({ server, manager });
shutdown.onShutdown(() => ws.close());
const port = Number(process.env.PORT ?? 3000);
server.listen(port, () => console.log(`listening on http://localhost:${port}`));
shutdown.installSignalHandlers();
