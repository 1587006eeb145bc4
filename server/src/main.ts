// The directory as a program: read the configuration, listen, close with grace on SIGINT/SIGTERM.

import type { AddressInfo } from "node:net";
import { buildApp, createLogger } from "./app.js";
import { ConfigError, loadConfig, usage } from "./config.js";
import { SHUTDOWN_GRACE_MS } from "./constants.js";
import { urlOf } from "./index.js";
import { redactConnectionString } from "./storage/pg-store.js";

if (process.argv.includes("--help")) {
  process.stdout.write(usage());
  process.exit(0);
}

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`directory: invalid configuration: ${error.message}\n`);
  process.exit(2);
}

const logger = createLogger(config.logLevel);
// Where everything is kept, for the log (a database URL without its password).
const storage =
  config.databaseUrl === undefined
    ? { dataDir: config.dataDir }
    : { database: redactConnectionString(config.databaseUrl), schema: config.databaseSchema };
let app;
try {
  app = await buildApp({ config, logger });
  await app.listen({ host: config.host, port: config.port });
} catch (error) {
  logger.fatal({ err: error, ...storage }, `the directory could not start: ${(error as Error).message}`);
  await app?.close().catch(() => undefined);
  process.exit(1);
}

const url = urlOf(app.server.address() as AddressInfo, config.tlsCertFile === undefined ? "http" : "https");
logger.info({ url, ...storage }, `directory listening on ${url}`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) {
    logger.warn({ signal }, "second signal: exiting without waiting");
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal }, "shutting down: finishing requests in flight");
  setTimeout(() => {
    logger.error(`shutdown took longer than ${SHUTDOWN_GRACE_MS} ms: exiting anyway`);
    process.exit(1);
  }, SHUTDOWN_GRACE_MS).unref();
  await app.close();
  logger.info("directory stopped");
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    stop(signal).catch((error: unknown) => {
      logger.error({ err: error }, "shutdown failed");
      process.exit(1);
    });
  });
}
