// buildApp: the directory as an unstarted Fastify app. Tests import only this; main.ts listens.
// The app is the directory service, the plugins every route shares (plugins/: logging, rate limits,
// strict input, metrics, OpenAPI) and the routes (routes/), assembled in that order.

import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { BODY_LIMIT_BYTES } from "@p2p/directory-api";
import Fastify from "fastify";
import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import type { DirectoryConfig } from "./config.js";
import { DATABASE_FILE_NAME } from "./constants.js";
import { Directory } from "./directory.js";
import { handleError } from "./errors.js";
import { createLogger, loggingOptions } from "./plugins/logging.js";
import { LoginGuard } from "./login/login-guard.js";
import { hostAllowlist } from "./plugins/host-allowlist.js";
import { requestMetrics } from "./plugins/metrics.js";
import { publicReads } from "./plugins/public-reads.js";
import { openApi } from "./plugins/openapi.js";
import { rateLimit } from "./plugins/rate-limit.js";
import { closeSilentConnections } from "./plugins/silent-connections.js";
import { strictInput } from "./plugins/strict-input.js";
import { accountRoutes } from "./routes/account.js";
import { createAuth } from "./routes/auth.js";
import { operationsRoutes } from "./routes/operations.js";
import { peerIndexRoutes } from "./routes/peer-index.js";
import { peerRoutes } from "./routes/peers.js";
import { pushPolicyRoutes } from "./routes/push-policy.js";
import type { DirectoryApp, RouteDeps } from "./routes/route-context.js";
import { searchRoutes } from "./routes/search.js";
import { sessionRoutes } from "./routes/sessions.js";
import { ticketRoutes } from "./routes/tickets.js";
import { PgStore } from "./storage/pg-store.js";
import { SqliteStore } from "./storage/sqlite-store.js";
import type { DirectoryStore } from "./storage/store.js";

export { createLogger } from "./plugins/logging.js";
export type { DirectoryApp } from "./routes/route-context.js";

declare module "fastify" {
  interface FastifyInstance {
    /** The directory service behind the routes (tests use it to sweep on demand). */
    directory: Directory;
  }
}

/** What buildApp needs. */
export interface BuildAppOptions {
  /** Validated configuration (see loadConfig / resolveConfig). */
  config: DirectoryConfig;
  /** A store to use instead of the one config names (PostgreSQL, else SQLite in dataDir); the caller then closes it. */
  store?: DirectoryStore;
  /**
   * Clock of the SQLite store buildApp opens (ignored with `store`); tests pass a ManualClock. A
   * PostgreSQL store always reads the database's clock, which every instance shares: a test that needs
   * another passes a store of its own.
   */
  clock?: Clock;
  /** A pino logger to use instead of one at config.logLevel on stdout. */
  logger?: Logger;
}

/** Builds the directory as an unstarted Fastify app (call listen, or inject in tests). */
export async function buildApp(options: BuildAppOptions): Promise<DirectoryApp> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.logLevel);
  const ownStore = options.store === undefined;
  const store = options.store ?? (await openStore(config, options.clock, logger));
  try {
    return await assemble(config, store, ownStore, logger);
  } catch (error) {
    if (ownStore) await store.close();
    throw error;
  }
}

/** The store the configuration names: PostgreSQL when a database URL is set, else SQLite in the data dir. */
async function openStore(config: DirectoryConfig, clock: Clock | undefined, logger: Logger): Promise<DirectoryStore> {
  const onMigration = (note: string) => logger.warn({ migration: note }, "database migrated");
  if (config.databaseUrl === undefined) {
    return SqliteStore.open(join(config.dataDir, DATABASE_FILE_NAME), { clock, onMigration, searchThreads: config.sqliteSearchThreads });
  }
  if (clock !== undefined) throw new Error("a clock is for the SQLite store only: PostgreSQL reads the database's clock");
  return PgStore.open({
    connectionString: config.databaseUrl,
    schema: config.databaseSchema,
    onMigration,
    onConnectionError: (error) =>
      logger.warn({ err: error }, "an idle PostgreSQL connection failed; the pool opens a new one when needed"),
  });
}

async function assemble(
  config: DirectoryConfig,
  store: DirectoryStore,
  ownStore: boolean,
  logger: Logger,
): Promise<DirectoryApp> {
  const app = Fastify({
    ...loggingOptions(logger),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: config.trustProxy,
    return503OnClosing: true,
    ...tlsOptions(config),
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as DirectoryApp;
  closeSilentConnections(app);

  const guard = new LoginGuard({
    limits: {
      accountFailures: config.accountLoginFailures,
      ipFailures: config.ipLoginFailures,
      failureWindowMs: config.loginFailureWindowMs,
      registrationsPerIp: config.registrationsPerIp,
      registrationWindowMs: config.registrationWindowMs,
    },
    passwordConcurrency: config.passwordConcurrency,
    passwordQueueLength: config.passwordQueueLength,
    verifyAddresses: config.verifyAddresses,
    allowPrivateAddresses: config.allowPrivateAddresses,
    selfPort: () => (app.server.listening ? (app.server.address() as AddressInfo).port : undefined),
    proof: { ca: config.peerCaFile === undefined ? undefined : readFileSync(config.peerCaFile) },
  });

  const directory = new Directory({
    store,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    sessionTtlMs: config.sessionTtlMs,
    leaseSlackMs: config.leaseSlackMs,
    scryptCostLog2: config.scryptCostLog2,
    sweepIntervalMs: config.sweepIntervalMs,
    logger,
    guard,
  });
  app.decorate("directory", directory);
  app.addHook("onReady", async () => directory.startSweeper());
  app.addHook("onClose", async () => {
    await directory.close();
    if (ownStore) await store.close();
  });

  app.setErrorHandler(handleError);
  // Hooks run in the order the plugins add them: the Host allowlist first, then the per-IP limit
  // before any other work on a request.
  const publicHosts = config.publicHost === undefined ? [] : [config.publicHost];
  await app.register(hostAllowlist, { listenHost: config.host, hosts: [...publicHosts, ...config.allowedHosts] });
  await app.register(rateLimit, { perMinute: config.rateLimitPerMinute });
  await app.register(strictInput);
  await app.register(requestMetrics);
  await app.register(publicReads);
  await app.register(openApi);
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    request.log.warn({ status: 404, method: request.method, path }, "request rejected: no such route");
    return reply.status(404).send({ error: "Not Found", message: `there is no route ${request.method} ${path}` });
  });

  const deps: RouteDeps = { directory, auth: createAuth(app, directory, config.sessionRateLimitPerMinute) };
  await app.register(
    async (api) => {
      const typed = api.withTypeProvider<TypeBoxTypeProvider>();
      sessionRoutes(typed, deps);
      peerIndexRoutes(typed, deps);
      searchRoutes(typed, deps);
      peerRoutes(typed, deps);
      ticketRoutes(typed, deps);
      accountRoutes(typed, deps);
      pushPolicyRoutes(typed, deps);
    },
    { prefix: "/api/v1" },
  );
  operationsRoutes(app, { store, metrics: app.metrics, extraMetrics: () => guard.metricsText() });
  return app;
}


/** Fastify's https options when the configuration names a certificate and key (read once, at start). */
function tlsOptions(config: DirectoryConfig): { https: { cert: Buffer; key: Buffer } } | Record<string, never> {
  if (config.tlsCertFile === undefined || config.tlsKeyFile === undefined) return {};
  return { https: { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) } };
}
