// The directory's logging: pino, which never logs a password, token, ticket or Authorization header;
// requests at debug, not info; and a request's child logger made only when the request logs something.
// Fastify takes its logger when the instance is created, not from a registered plugin, so this module
// gives buildApp the options to create the instance with.

import type { FastifyBaseLogger, FastifyReply, FastifyRequest, FastifyServerOptions } from "fastify";
import { LogController } from "fastify";
import { type Bindings, type ChildLoggerOptions, pino, type Logger } from "pino";
import type { DirectoryConfig } from "../config.js";

/** Creates the pino logger the directory uses: never the password, token or Authorization header. */
export function createLogger(level: DirectoryConfig["logLevel"]): Logger {
  return pino({
    level,
    base: { service: "directory" },
    redact: { paths: ["req.headers.authorization", "*.password", "*.token", "*.ticket"], censor: "[redacted]" },
  });
}

/** The Fastify options that make `logger` the app's logger, quiet per request. */
export function loggingOptions(
  logger: Logger,
): Pick<FastifyServerOptions, "loggerInstance" | "logController" | "childLoggerFactory"> {
  return {
    // pino's Logger is a FastifyBaseLogger; typing the app with the narrower one keeps DirectoryApp simple.
    loggerInstance: logger as FastifyBaseLogger,
    logController: new QuietLogController(),
    childLoggerFactory: (parent, bindings, options) => new LazyChildLogger(parent, bindings, options),
  };
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
