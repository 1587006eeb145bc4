// @p2p/server: the directory. Other packages import only this module.

import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { buildApp, type DirectoryApp } from "./app.js";
import type { Clock } from "./clock.js";
import { type DirectoryConfig, resolveConfig } from "./config.js";
import type { DirectoryStore } from "./storage/store.js";

export { buildApp, createLogger, type BuildAppOptions, type DirectoryApp } from "./app.js";
export { ManualClock, systemClock, type Clock } from "./clock.js";
export {
  ConfigError,
  loadConfig,
  resolveConfig,
  usage,
  type ConfigSources,
  type DirectoryConfig,
  type LogLevel,
} from "./config.js";
export { Directory } from "./directory.js";
export { DirectoryError, type DirectoryErrorCode } from "./errors.js";
export type { ErrorBody } from "@p2p/directory-api";
export { SqliteStore, type SqliteStoreOptions } from "./storage/sqlite-store.js";
export { PgStore, probePostgres, redactConnectionString, type PgStoreOptions } from "./storage/pg-store.js";
export type * from "./storage/store.js";

/** Options of startDirectory: any config value, plus a store, clock or logger to use. */
export interface StartDirectoryOptions extends Partial<DirectoryConfig> {
  /** A store instead of the configured one (the caller closes it). */
  store?: DirectoryStore;
  /** Clock of the SQLite store (tests pass a ManualClock); PostgreSQL always reads the database's clock. */
  clock?: Clock;
  /** A pino logger instead of one at logLevel. */
  logger?: Logger;
}

/** A directory listening on a real port. */
export interface RunningDirectory {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** The Fastify app. */
  app: DirectoryApp;
  /** Stops listening, waits for requests in flight, closes the store (and deletes a temporary data dir). */
  close(): Promise<void>;
}

/**
 * Starts a directory in this process: on 127.0.0.1, port 0 (a free port) and log level "warn" unless
 * told otherwise; with `databaseUrl`, on PostgreSQL; else without `dataDir`, in a fresh temporary
 * directory that close() deletes.
 */
export async function startDirectory(options: StartDirectoryOptions = {}): Promise<RunningDirectory> {
  const { store, clock, logger, ...overrides } = options;
  const needsTemporaryDir = overrides.dataDir === undefined && overrides.databaseUrl === undefined && store === undefined;
  const temporaryDir = needsTemporaryDir ? await mkdtemp(join(tmpdir(), "p2p-directory-")) : undefined;
  const removeTemporaryDir = async () => {
    if (temporaryDir) await rm(temporaryDir, { recursive: true, force: true });
  };
  try {
    const config = resolveConfig({
      host: "127.0.0.1",
      port: 0,
      logLevel: "warn",
      ...overrides,
      dataDir: overrides.dataDir ?? temporaryDir,
    });
    const app = await buildApp({ config, store, clock, logger });
    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (error) {
      await app.close();
      throw error;
    }
    return {
      url: urlOf(app.server.address() as AddressInfo, config.tlsCertFile === undefined ? "http" : "https"),
      app,
      async close() {
        await app.close();
        await removeTemporaryDir();
      },
    };
  } catch (error) {
    await removeTemporaryDir();
    throw error;
  }
}

/** The URL a local client uses to reach a listening address (wildcards become loopback). */
export function urlOf(address: AddressInfo, protocol: "http" | "https" = "http"): string {
  const host =
    address.address === "0.0.0.0" ? "127.0.0.1" : address.address === "::" ? "[::1]" : address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `${protocol}://${host}:${address.port}`;
}
