// buildApp: the directory as an unstarted Fastify app. Tests import only this; main.ts listens.

import { join } from "node:path";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { BODY_LIMIT_BYTES, PATTERN_MESSAGES } from "@p2p/directory-api";
import { Ajv, type AnySchema } from "ajv";
import Fastify, { type FastifyBaseLogger, type FastifyReply, type FastifyRequest, LogController } from "fastify";
import { type Bindings, type ChildLoggerOptions, pino, type Logger } from "pino";
import type { Clock } from "./clock.js";
import type { DirectoryConfig } from "./config.js";
import { DATABASE_FILE_NAME, RATE_LIMIT_MAX_KEYS, RATE_LIMIT_WINDOW_MS } from "./constants.js";
import { Directory } from "./directory.js";
import { DirectoryError, handleError } from "./errors.js";
import { HttpMetrics } from "./metrics.js";
import { FixedWindowLimiter } from "./rate-limiter.js";
import { createAuth } from "./routes/auth.js";
import { operationsRoutes } from "./routes/operations.js";
import { peerIndexRoutes } from "./routes/peer-index.js";
import { peerRoutes } from "./routes/peers.js";
import type { DirectoryApp, RouteDeps } from "./routes/route-context.js";
import { searchRoutes } from "./routes/search.js";
import { sessionRoutes } from "./routes/sessions.js";
import { ticketRoutes } from "./routes/tickets.js";
import { PgStore } from "./storage/pg-store.js";
import { SqliteStore } from "./storage/sqlite-store.js";
import type { DirectoryStore } from "./storage/store.js";

export type { DirectoryApp } from "./routes/route-context.js";

declare module "fastify" {
  interface FastifyInstance {
    /** The directory service behind the routes (tests use it to sweep on demand). */
    directory: Directory;
  }
  interface FastifyContextConfig {
    /** false: the per-IP rate limit does not apply to this route (health checks, metrics). */
    rateLimit?: false;
  }
}

/** What buildApp needs. */
export interface BuildAppOptions {
  /** Validated configuration (see loadConfig / resolveConfig). */
  config: DirectoryConfig;
  /** A store to use instead of the one config names (PostgreSQL, else SQLite in dataDir); the caller then closes it. */
  store?: DirectoryStore;
  /**
   * Clock of the store buildApp opens (ignored with `store`); tests pass a ManualClock. Tests only for
   * PostgreSQL, whose store otherwise uses the database's clock.
   */
  clock?: Clock;
  /** A pino logger to use instead of one at config.logLevel on stdout. */
  logger?: Logger;
}

/** Creates the pino logger the directory uses: never the password, token or Authorization header. */
export function createLogger(level: DirectoryConfig["logLevel"]): Logger {
  return pino({
    level,
    base: { service: "directory" },
    redact: { paths: ["req.headers.authorization", "*.password", "*.token", "*.ticket"], censor: "[redacted]" },
  });
}

/** Logs each request at debug, not info: at 1,000 peers the heartbeats alone would drown the log. */
class QuietLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, "incoming request");
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, "request errored");
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, "request completed");
  }
}

type LogMethod = "fatal" | "error" | "warn" | "info" | "debug" | "trace";

/**
 * A request's logger, created only when something is logged at an enabled level. pino builds a child
 * logger per request otherwise, for every heartbeat, though nearly all of them log nothing.
 */
class LazyChildLogger {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  get level(): string {
    return this.#parent.level;
  }

  set level(level: string) {
    this.#real().level = level;
  }

  #real(): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options);
    return this.#child;
  }

  #log(method: LogMethod, args: unknown[]): void {
    if (!(this.#parent as unknown as Logger).isLevelEnabled(method)) return;
    (this.#real()[method] as (...values: unknown[]) => void)(...args);
  }

  fatal(...args: unknown[]): void {
    this.#log("fatal", args);
  }
  error(...args: unknown[]): void {
    this.#log("error", args);
  }
  warn(...args: unknown[]): void {
    this.#log("warn", args);
  }
  info(...args: unknown[]): void {
    this.#log("info", args);
  }
  debug(...args: unknown[]): void {
    this.#log("debug", args);
  }
  trace(...args: unknown[]): void {
    this.#log("trace", args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options);
  }
}

/**
 * Two validators: request bodies are JSON and must have the right types ("5" is not a size), while
 * query strings and path parameters are text that must be coerced ("?limit=5").
 */
function validatorCompiler() {
  const common = { useDefaults: true, allErrors: false, strict: true } as const;
  // Bodies keep unknown fields so `additionalProperties: false` refuses them (a misspelt "targett" must not
  // silently become "any peer"); query strings and path parameters still drop them and are coerced.
  const bodies = new Ajv({ ...common, removeAdditional: false, coerceTypes: false });
  const text = new Ajv({ ...common, removeAdditional: true, coerceTypes: true });
  return ({ schema, httpPart }: { schema: AnySchema; httpPart?: string }) =>
    (httpPart === "body" ? bodies : text).compile(schema);
}

/** Decodes request bodies; throws on invalid UTF-8 instead of substituting U+FFFD. */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The raw query string's first key or value whose percent-escapes are not UTF-8 (Fastify's parser would
 * decode them to U+FFFD), or undefined when all decode.
 */
export function invalidQueryPart(url: string): string | undefined {
  const start = url.indexOf("?");
  if (start < 0) return undefined;
  for (const pair of url.slice(start + 1).split("&")) {
    const eq = pair.indexOf("=");
    const key = eq < 0 ? pair : pair.slice(0, eq);
    for (const part of eq < 0 ? [key] : [key, pair.slice(eq + 1)]) {
      try {
        decodeURIComponent(part);
      } catch {
        let name = key;
        try {
          name = decodeURIComponent(key);
        } catch {
          // the key itself is the bad part: name it raw
        }
        return name;
      }
    }
  }
  return undefined;
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
  if (config.databaseUrl === undefined) return SqliteStore.open(join(config.dataDir, DATABASE_FILE_NAME), { clock });
  return PgStore.open({
    connectionString: config.databaseUrl,
    schema: config.databaseSchema,
    testClock: clock,
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
    // pino's Logger is a FastifyBaseLogger; typing the app with the narrower one keeps DirectoryApp simple.
    loggerInstance: logger as FastifyBaseLogger,
    logController: new QuietLogController(),
    childLoggerFactory: (parent, bindings, options) => new LazyChildLogger(parent, bindings, options),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: config.trustProxy,
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  const directory = new Directory({
    store,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    sessionTtlMs: config.sessionTtlMs,
    scryptCostLog2: config.scryptCostLog2,
    sweepIntervalMs: config.sweepIntervalMs,
    logger,
  });
  app.decorate("directory", directory);
  app.addHook("onReady", async () => directory.startSweeper());
  app.addHook("onClose", async () => {
    await directory.close();
    if (ownStore) await store.close();
  });

  app.setValidatorCompiler(validatorCompiler());
  app.setSchemaErrorFormatter((errors, dataVar) => {
    const first = errors[0];
    if (!first) return new Error(`${dataVar} is invalid`);
    const field = `${dataVar}${first.instancePath}`;
    if (first.keyword === "required") {
      return new Error(`${field}/${String(first.params.missingProperty)} is required`);
    }
    if (first.keyword === "additionalProperties") {
      return new Error(`${field}/${String(first.params.additionalProperty)} is not a known field`);
    }
    const explained = first.keyword === "pattern" ? PATTERN_MESSAGES[String(first.params.pattern)] : undefined;
    return new Error(`${field} ${explained ?? first.message ?? "is invalid"}`);
  });
  app.setErrorHandler(handleError);

  // JSON bodies: an empty body is no body (curl -X POST .../logout with a JSON content type), and a
  // syntax error says so without quoting the body back (Node's messages quote it: it may hold a password).
  // Only JSON: a text/plain body would otherwise reach validation as a string ("body must be object").
  app.removeContentTypeParser("text/plain");
  const parseJson = app.getDefaultJsonParser("error", "error");
  // Bytes, decoded strictly: invalid UTF-8 is refused, not turned into U+FFFD (a password or a name other
  // than the bytes sent).
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, raw, done) => {
    let body: string;
    try {
      body = strictUtf8.decode(raw as Buffer);
    } catch {
      return done(new DirectoryError("invalid_argument", "body is not valid UTF-8"), undefined);
    }
    if (body === "") return done(null, undefined);
    parseJson(request, body, (error, value) => {
      if (!error) return done(null, value);
      // Valid JSON with a "__proto__" (or "constructor": {"prototype"}) key is refused too (prototype
      // poisoning); say where it is, so the caller can tell it from a syntax error.
      // (Fastify's parser error does not say which: a second look tells.)
      const at = poisonedKeyPath(body);
      done(new DirectoryError("invalid_argument", at ? `${at} is a forbidden key (prototype poisoning)` : "body is not valid JSON"), undefined);
    });
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "P2P directory",
        version: "1",
        description: "Peers, sessions, indexes and push tickets. Contract: docs/directory-api.md.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  if (config.rateLimitPerMinute > 0) {
    const perIp = new FixedWindowLimiter(config.rateLimitPerMinute, RATE_LIMIT_WINDOW_MS, RATE_LIMIT_MAX_KEYS);
    app.addHook("onRequest", (request, reply, done) => {
      if (request.routeOptions.config.rateLimit === false) return done();
      const retryAfterSeconds = perIp.hit(request.ip);
      if (retryAfterSeconds === 0) return done();
      reply.header("retry-after", String(retryAfterSeconds));
      done(
        new DirectoryError(
          "rate_limited",
          `too many requests from ${request.ip}: at most ${config.rateLimitPerMinute} per minute; retry in ${retryAfterSeconds} s`,
        ),
      );
    });
  }

  // Query strings: invalid UTF-8 in a percent-escape (?q=%ff%fe) is refused rather than searched as U+FFFD.
  app.addHook("onRequest", (request, _reply, done) => {
    const raw = request.raw.url ?? "";
    if (!raw.includes("%") || !raw.includes("?")) return done();
    const bad = invalidQueryPart(raw);
    if (bad === undefined) return done();
    done(new DirectoryError("invalid_argument", `querystring/${bad} is not valid UTF-8`));
  });

  const metrics = new HttpMetrics();
  // A callback hook, not an async one: it runs on every request and a promise per request shows up.
  app.addHook("onResponse", (request, reply, done) => {
    metrics.observe(request.method, request.routeOptions.url ?? "unmatched", reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
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
    },
    { prefix: "/api/v1" },
  );
  operationsRoutes(app, { store, metrics });
  return app;
}

/**
 * Where the first "__proto__" key, or "constructor" key holding a "prototype", sits in the JSON `text`,
 * as "body/a/b/__proto__"; undefined when there is none. JSON.parse makes such keys plain own
 * properties (it never sets a prototype), so reading the text again here is safe.
 */
export function poisonedKeyPath(text: string): string | undefined {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return undefined;
  }
  const stack: Array<{ value: unknown; path: string }> = [{ value: root, path: "body" }];
  for (let visited = 0; stack.length > 0 && visited < 100_000; visited++) {
    const { value, path } = stack.pop()!;
    if (value === null || typeof value !== "object") continue;
    const keys = Object.keys(value);
    for (const key of keys) {
      const child = (value as Record<string, unknown>)[key];
      if (key === "__proto__") return `${path}/__proto__`;
      if (key === "constructor" && child !== null && typeof child === "object" && Object.hasOwn(child, "prototype")) return `${path}/constructor/prototype`;
    }
    for (const key of keys.reverse()) stack.push({ value: (value as Record<string, unknown>)[key], path: `${path}/${key}` });
  }
  return undefined;
}
