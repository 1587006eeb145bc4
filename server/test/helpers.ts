// Shared test fixtures: a directory on a real store (a SQLite file in a temp dir, or a PostgreSQL
// schema of its own: see stores.ts), reached either through app.inject or through a real listener on
// 127.0.0.1 port 0, and captured warning logs.

import { createHash } from "node:crypto";
import { isContentId } from "@p2p/directory-api";
import { pino } from "pino";
import { buildApp, type DirectoryApp } from "../src/app.js";
import type { Clock } from "../src/clock.js";
import { type DirectoryConfig, resolveConfig } from "../src/config.js";
import { urlOf } from "../src/index.js";
import type { DirectoryStore } from "../src/storage/store.js";
import type { AddressInfo } from "node:net";
import { STORES, type StoreFixture, type StoreLocation } from "./stores.js";

/** A response as a user sees it. */
export interface Response {
  status: number;
  headers: Record<string, string | number | string[] | undefined>;
  body: any;
  text: string;
}

/** One way of reaching the app. */
export type Transport = "inject" | "http";
export const TRANSPORTS: Transport[] = ["inject", "http"];

/** What a request may carry. */
export interface RequestOptions {
  body?: unknown;
  /** Raw body text or bytes (sent with content-type application/json unless contentType says otherwise). */
  rawBody?: string | Buffer;
  contentType?: string;
  token?: string;
  headers?: Record<string, string>;
}

/** A running test directory. */
export interface TestDirectory {
  app: DirectoryApp;
  /** Where its data is (reopen it with startTestDirectory({ location })). */
  location: StoreLocation;
  config: DirectoryConfig;
  /** Warning (and worse) log lines, parsed. */
  logs: Array<Record<string, unknown>>;
  request(method: string, url: string, options?: RequestOptions): Promise<Response>;
  /** Closes the app; keeps the data (for restarts) unless `remove`. */
  close(remove?: boolean): Promise<void>;
}

/** Options of startTestDirectory. */
export interface TestDirectoryOptions {
  transport?: Transport;
  clock?: Clock;
  config?: Partial<DirectoryConfig>;
  /** Which store, on a fresh location (default: SQLite). */
  storage?: StoreFixture;
  /** An existing location to start on instead (a restart); the caller removes it. */
  location?: StoreLocation;
  /** An opened store to use instead (the caller closes it). */
  store?: DirectoryStore;
}

/**
 * Starts a directory for a test: fast scrypt, rate limits, login limits and address verification off
 * unless configured (the tests of those turn them on), warnings captured.
 */
export async function startTestDirectory(options: TestDirectoryOptions = {}): Promise<TestDirectory> {
  const location = options.location ?? (await (options.storage ?? (STORES[0] as StoreFixture)).create());
  const config = resolveConfig({
    ...location.config,
    scryptCostLog2: 10,
    rateLimitPerMinute: 0,
    sessionRateLimitPerMinute: 0,
    accountLoginFailures: 0,
    ipLoginFailures: 0,
    registrationsPerIp: 0,
    verifyAddresses: false,
    logLevel: "warn",
    ...options.config,
  });
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => logs.push(JSON.parse(line)) });
  // buildApp gives only SQLite a clock; on PostgreSQL, a test's clock comes with a store of its own.
  const ownStore =
    options.store === undefined && options.clock !== undefined && location.kind === "postgres"
      ? await location.open(options.clock)
      : undefined;
  let app: DirectoryApp;
  try {
    app = ownStore
      ? await buildApp({ config, logger, store: ownStore })
      : await buildApp({ config, logger, clock: options.clock, store: options.store });
    if (ownStore) app.addHook("onClose", () => ownStore.close());
  } catch (error) {
    await ownStore?.close();
    if (!options.location) await location.remove();
    throw error;
  }
  const transport = options.transport ?? "inject";
  let baseUrl = "";
  if (transport === "http") {
    await app.listen({ host: "127.0.0.1", port: 0 });
    baseUrl = urlOf(app.server.address() as AddressInfo);
  }
  const request = async (method: string, url: string, opts: RequestOptions = {}): Promise<Response> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    let payload: string | Buffer | undefined;
    if (opts.rawBody !== undefined || opts.body !== undefined) {
      payload = opts.rawBody ?? JSON.stringify(opts.body);
      headers["content-type"] = opts.contentType ?? "application/json";
    }
    if (transport === "inject") {
      const res = await app.inject({ method: method as "GET", url, headers, payload });
      return { status: res.statusCode, headers: res.headers, text: res.body, body: parse(res.body) };
    }
    const res = await fetch(baseUrl + url, { method, headers, body: payload });
    const text = await res.text();
    return { status: res.status, headers: Object.fromEntries(res.headers), text, body: parse(text) };
  };
  return {
    app,
    location,
    config,
    logs,
    request,
    async close(remove = true) {
      await app.close();
      if (remove && !options.location) await location.remove();
    },
  };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A deterministic content id (m1_ and the SHA-256 of a label, shaped as a content id is). */
export function contentId(label: string | number): string {
  return `m1_${createHash("sha256").update(String(label)).digest("hex")}`;
}

/** A deterministic token hash (64 hex, as the directory stores a token's SHA-256). */
export function tokenHash(label: string): string {
  return createHash("sha256").update(label).digest("hex");
}

/** A valid index entry. */
export function file(name: string, id: string | number = name, size = 1000): {
  name: string;
  size: number;
  contentId: string;
  pieceSize: number;
} {
  return { name, size, contentId: isContentId(id) ? id : contentId(id), pieceSize: 1 << 20 };
}

/** A port of its own per peer name (two live peers never share an address). */
export function portOf(username: string): number {
  return 20_000 + (Number.parseInt(createHash("sha256").update(username.toLowerCase()).digest("hex").slice(0, 8), 16) % 40_000);
}

/** Logs a peer in and returns its token. */
export async function login(
  dir: TestDirectory,
  username: string,
  port = portOf(username),
  password = "correct horse",
): Promise<string> {
  const res = await dir.request("POST", "/api/v1/login", {
    body: { username, password, address: `http://127.0.0.1:${port}` },
  });
  if (res.status !== 200) throw new Error(`login of ${username} failed: ${res.status} ${res.text}`);
  return res.body.token as string;
}

/** Logs a peer in and publishes its files; returns its token. */
export async function publish(
  dir: TestDirectory,
  username: string,
  files: ReturnType<typeof file>[],
  port = portOf(username),
): Promise<string> {
  const token = await login(dir, username, port);
  const res = await dir.request("PUT", "/api/v1/index", { token, body: { files } });
  if (res.status !== 200) throw new Error(`publish by ${username} failed: ${res.status} ${res.text}`);
  return token;
}

/** A push policy that takes anything from anyone (for tests that are about picking targets, not consent). */
export const ACCEPT_ANY_PUSH = { accept: "anyone", from: [], maxFileBytes: 2 ** 40, quotaBytes: 2 ** 40 } as const;

/** Logs a peer in that takes pushes (by default from anyone); returns its token. */
export async function receiver(
  dir: TestDirectory,
  username: string,
  port = portOf(username),
  policy: Record<string, unknown> = ACCEPT_ANY_PUSH,
): Promise<string> {
  const token = await login(dir, username, port);
  const res = await dir.request("PUT", "/api/v1/push-policy", { token, body: policy });
  if (res.status !== 200) throw new Error(`push policy of ${username} failed: ${res.status} ${res.text}`);
  return token;
}
