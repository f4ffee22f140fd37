// The demo's entry point behind `npm start`: reads MORGAN_* / PORT / REDIS_URL,
// serves the demo on PORT (default 3000; HOST, when set, picks the interface)
// and shuts down gracefully on SIGTERM / SIGINT.
import { ConfigError, loadConfig, type MorganConfig } from '@morgan/session-server';
import { createDemoServer } from './app.js';

const DEFAULT_PORT = 3000;

let config: MorganConfig;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`[demo] cannot start: ${error.message}\n`);
  process.exit(1);
}

const demo = createDemoServer({ config });
demo.shutdown.installSignalHandlers();
demo.server.on('error', (error: NodeJS.ErrnoException) => {
  process.stderr.write(
    `[demo] cannot listen on port ${config.port ?? DEFAULT_PORT}: ${error.message}\n`,
  );
  process.exit(1);
});
const host = process.env.HOST?.trim() || undefined;
const address = await demo.listen(config.port ?? DEFAULT_PORT, host);
process.stdout.write(
  `[demo] Morgan Sessions demo on http://localhost:${address.port} (store: ${demo.manager.store.name})\n`,
);
