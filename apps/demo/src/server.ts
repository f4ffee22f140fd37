// The demo's entry point behind `npm start`: reads MORGAN_* / PORT / REDIS_URL
// (or REDIS_CLUSTER_NODES, or REDIS_SENTINELS and REDIS_SENTINEL_NAME),
// serves the demo on PORT (default 3000; HOST, when set, picks the interface)
// and shuts down gracefully on SIGTERM / SIGINT. The admin API takes the token
// in MORGAN_ADMIN_TOKEN; without it the node draws one and prints the
// dashboard's URL with the token in its fragment (which browsers never send).
import { ConfigError, loadConfig, type MorganConfig } from '@morgan/session-server';
import { type AdminTokenSource, adminTokenFromEnv } from './admin/index.js';
import { createDemoServer } from './app.js';

const DEFAULT_PORT = 3000;

let config: MorganConfig;
let adminToken: AdminTokenSource;
try {
  config = loadConfig(process.env);
  adminToken = adminTokenFromEnv(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`[demo] cannot start: ${error.message}\n`);
  process.exit(1);
}

const demo = createDemoServer({ config, admin: { token: adminToken.token } });
demo.shutdown.installSignalHandlers();
demo.server.on('error', (error: NodeJS.ErrnoException) => {
  process.stderr.write(
    `[demo] cannot listen on port ${config.port ?? DEFAULT_PORT}: ${error.message}\n`,
  );
  process.exit(1);
});
const host = process.env.HOST?.trim() || undefined;
const address = await demo.listen(config.port ?? DEFAULT_PORT, host);
const origin = `http://localhost:${address.port}`;
process.stdout.write(
  `[demo] Morgan Sessions demo on ${origin} (store: ${demo.manager.store.name})\n`,
);
process.stdout.write(
  adminToken.generated
    ? `[demo] Admin dashboard: ${origin}/admin/#token=${encodeURIComponent(adminToken.token)}\n`
    : `[demo] Admin dashboard: ${origin}/admin/ (token: MORGAN_ADMIN_TOKEN)\n`,
);
