// Configuration: command-line flags over environment variables over a `.env` file over defaults,
// validated before anything starts, with messages that name the setting and where it came from.

import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs, parseEnv } from "node:util";
import { MAX_HEARTBEAT_INTERVAL_MS, MAX_SESSION_TTL_MS, MIN_HEARTBEAT_INTERVAL_MS } from "@p2p/directory-api";
import {
  DEFAULT_ACCOUNT_FAILURES_PER_WINDOW,
  DEFAULT_DATABASE_SCHEMA,
  DEFAULT_DATA_DIR,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HOST,
  DEFAULT_IP_FAILURES_PER_WINDOW,
  DEFAULT_LOGIN_FAILURE_WINDOW_MS,
  DEFAULT_PASSWORD_CONCURRENCY,
  DEFAULT_PASSWORD_QUEUE_LENGTH,
  SQLITE_SEARCH_THREADS,
  DEFAULT_PORT,
  DEFAULT_RATE_LIMIT_PER_MINUTE,
  DEFAULT_REGISTRATION_WINDOW_MS,
  LEASE_SLACK_HEARTBEAT_INTERVALS,
  DEFAULT_REGISTRATIONS_PER_IP,
  DEFAULT_SCRYPT_COST_LOG2,
  DEFAULT_SESSION_RATE_LIMIT_PER_MINUTE,
  DEFAULT_SWEEP_INTERVAL_MS,
  MAX_SCRYPT_COST_LOG2,
  MIN_SCRYPT_COST_LOG2,
  SESSION_TTL_HEARTBEAT_INTERVALS,
} from "./constants.js";

/** pino's log levels. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
/** One of pino's log levels. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The directory's validated configuration. */
export interface DirectoryConfig {
  /** Interface to listen on. */
  host: string;
  /** TCP port (0 picks a free one). */
  port: number;
  /** Directory holding the SQLite database (unused with `databaseUrl`). */
  dataDir: string;
  /** PostgreSQL URL: when set, everything is kept there instead of SQLite, and several directories may share it. */
  databaseUrl?: string | undefined;
  /** PostgreSQL schema of the directory's tables (created if missing). */
  databaseSchema: string;
  /** How often peers are asked to send a heartbeat. */
  heartbeatIntervalMs: number;
  /** How long a session stays live after a login or heartbeat. */
  sessionTtlMs: number;
  /**
   * A renewal is written only when less than the session TTL is left, and then for TTL + this long:
   * with this at the heartbeat interval or more, at most every other heartbeat writes (docs/scale.md).
   */
  leaseSlackMs: number;
  /** Requests per minute from one IP address (0: no limit). */
  rateLimitPerMinute: number;
  /** Requests per minute on one session (0: no limit). */
  sessionRateLimitPerMinute: number;
  /** How often expired sessions and tickets are deleted. */
  sweepIntervalMs: number;
  /** pino log level. */
  logLevel: LogLevel;
  /** Whether to believe X-Forwarded-For (only behind a reverse proxy you run). */
  trustProxy: boolean;
  /** scrypt cost for new password hashes, as log2 of N. */
  scryptCostLog2: number;
  /** Failed logins of one account per failure window before it is locked (except from its owner's usual IPs); 0: no limit. */
  accountLoginFailures: number;
  /** Failed logins from one IP per failure window before it is locked; 0: no limit. */
  ipLoginFailures: number;
  /** Sliding window of both failure limits. */
  loginFailureWindowMs: number;
  /** Accounts one IP may register per registration window; 0: no limit. */
  registrationsPerIp: number;
  /** Sliding window of the registration limit. */
  registrationWindowMs: number;
  /** scrypt computations at once. */
  passwordConcurrency: number;
  /** Password checks that may wait for a slot; more get 503. */
  passwordQueueLength: number;
  /** SQLite only: worker threads that run searches on read-only connections of their own (0: on the event loop). */
  sqliteSearchThreads: number;
  /** Whether a login's address must answer the directory's Ping with the login's proof before a session opens. */
  verifyAddresses: boolean;
  /** Whether peers may advertise loopback and private (RFC 1918, CGNAT, ULA) addresses. */
  allowPrivateAddresses: boolean;
  /** PEM file of CA certificates for calling back https peer addresses (besides the system's). */
  peerCaFile?: string | undefined;
  /** Host names (besides the listen address, localhost, 127.0.0.1, ::1) requests may name in Host; comma-separated. */
  allowedHosts: string[];
  /** The host name clients use to reach this directory (allowed in Host). */
  publicHost?: string | undefined;
  /** PEM certificate (chain) file: with tlsKeyFile, the directory serves HTTPS. */
  tlsCertFile?: string | undefined;
  /** PEM private key file of tlsCertFile. */
  tlsKeyFile?: string | undefined;
}

/** A configuration problem, worded for the person starting the directory. */
export class ConfigError extends Error {
  /** Creates a configuration error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

type Kind = "string" | "integer" | "boolean" | "level" | "database-url" | "optional-string" | "list";

interface Setting {
  key: keyof DirectoryConfig;
  flag: string;
  env: string;
  kind: Kind;
  min?: number;
  max?: number;
  /** A boolean whose flag takes a value (`--verify-addresses false`): for those on by default. */
  valued?: true;
  help: string;
}

/** Every setting, its flag, its environment variable and its bounds (the README's table comes from this). */
export const SETTINGS: readonly Setting[] = [
  { key: "host", flag: "host", env: "DIRECTORY_HOST", kind: "string", help: `interface to listen on (default ${DEFAULT_HOST})` },
  { key: "port", flag: "port", env: "DIRECTORY_PORT", kind: "integer", min: 0, max: 65_535, help: `TCP port, 0 for any free one (default ${DEFAULT_PORT})` },
  { key: "dataDir", flag: "data-dir", env: "DIRECTORY_DATA_DIR", kind: "string", help: `where the SQLite database lives (default ${DEFAULT_DATA_DIR})` },
  {
    key: "databaseUrl",
    flag: "database",
    env: "DIRECTORY_DATABASE_URL",
    kind: "database-url",
    help: "postgres://user:password@host:port/db to keep everything in PostgreSQL, shared by several directories (default: SQLite in the data dir)",
  },
  {
    key: "databaseSchema",
    flag: "database-schema",
    env: "DIRECTORY_DATABASE_SCHEMA",
    kind: "string",
    help: `PostgreSQL schema of the directory's tables, created if missing (default ${DEFAULT_DATABASE_SCHEMA})`,
  },
  {
    key: "heartbeatIntervalMs",
    flag: "heartbeat-interval-ms",
    env: "DIRECTORY_HEARTBEAT_INTERVAL_MS",
    kind: "integer",
    min: MIN_HEARTBEAT_INTERVAL_MS,
    max: MAX_HEARTBEAT_INTERVAL_MS,
    help: `how often peers send a heartbeat (default ${DEFAULT_HEARTBEAT_INTERVAL_MS})`,
  },
  {
    key: "sessionTtlMs",
    flag: "session-ttl-ms",
    env: "DIRECTORY_SESSION_TTL_MS",
    kind: "integer",
    min: MIN_HEARTBEAT_INTERVAL_MS,
    max: MAX_SESSION_TTL_MS,
    help: `a peer silent this long is dead (default ${SESSION_TTL_HEARTBEAT_INTERVALS}x the heartbeat interval)`,
  },
  {
    key: "leaseSlackMs",
    flag: "lease-slack-ms",
    env: "DIRECTORY_LEASE_SLACK_MS",
    kind: "integer",
    min: 0,
    max: MAX_SESSION_TTL_MS,
    help: `renewals write a lease this much longer than the TTL, and skip the write while one is left (default ${LEASE_SLACK_HEARTBEAT_INTERVALS}x the heartbeat interval; 0: every heartbeat writes)`,
  },
  {
    key: "rateLimitPerMinute",
    flag: "rate-limit-per-minute",
    env: "DIRECTORY_RATE_LIMIT_PER_MINUTE",
    kind: "integer",
    min: 0,
    max: 100_000_000,
    help: `requests per minute from one IP, 0 for no limit (default ${DEFAULT_RATE_LIMIT_PER_MINUTE})`,
  },
  {
    key: "sessionRateLimitPerMinute",
    flag: "session-rate-limit-per-minute",
    env: "DIRECTORY_SESSION_RATE_LIMIT_PER_MINUTE",
    kind: "integer",
    min: 0,
    max: 100_000_000,
    help: `requests per minute on one session, 0 for no limit (default ${DEFAULT_SESSION_RATE_LIMIT_PER_MINUTE})`,
  },
  {
    key: "sweepIntervalMs",
    flag: "sweep-interval-ms",
    env: "DIRECTORY_SWEEP_INTERVAL_MS",
    kind: "integer",
    min: 100,
    max: MAX_SESSION_TTL_MS,
    help: `how often expired sessions are deleted (default ${DEFAULT_SWEEP_INTERVAL_MS})`,
  },
  { key: "logLevel", flag: "log-level", env: "DIRECTORY_LOG_LEVEL", kind: "level", help: `${LOG_LEVELS.join(", ")} (default info)` },
  { key: "trustProxy", flag: "trust-proxy", env: "DIRECTORY_TRUST_PROXY", kind: "boolean", help: "take client IPs from X-Forwarded-For (default false)" },
  {
    key: "scryptCostLog2",
    flag: "scrypt-cost",
    env: "DIRECTORY_SCRYPT_COST",
    kind: "integer",
    min: MIN_SCRYPT_COST_LOG2,
    max: MAX_SCRYPT_COST_LOG2,
    help: `scrypt cost of new password hashes as log2 N (default ${DEFAULT_SCRYPT_COST_LOG2})`,
  },
  {
    key: "accountLoginFailures",
    flag: "account-login-failures",
    env: "DIRECTORY_ACCOUNT_LOGIN_FAILURES",
    kind: "integer",
    min: 0,
    max: 1_000_000,
    help: `failed logins of one account per window before it is locked, except from its usual IPs; 0 for no limit (default ${DEFAULT_ACCOUNT_FAILURES_PER_WINDOW})`,
  },
  {
    key: "ipLoginFailures",
    flag: "ip-login-failures",
    env: "DIRECTORY_IP_LOGIN_FAILURES",
    kind: "integer",
    min: 0,
    max: 1_000_000,
    help: `failed logins from one IP per window before it is locked; 0 for no limit (default ${DEFAULT_IP_FAILURES_PER_WINDOW})`,
  },
  {
    key: "loginFailureWindowMs",
    flag: "login-failure-window-ms",
    env: "DIRECTORY_LOGIN_FAILURE_WINDOW_MS",
    kind: "integer",
    min: 1_000,
    max: MAX_SESSION_TTL_MS,
    help: `sliding window of the login failure limits (default ${DEFAULT_LOGIN_FAILURE_WINDOW_MS})`,
  },
  {
    key: "registrationsPerIp",
    flag: "registrations-per-ip",
    env: "DIRECTORY_REGISTRATIONS_PER_IP",
    kind: "integer",
    min: 0,
    max: 1_000_000,
    help: `accounts one IP may register per registration window; 0 for no limit (default ${DEFAULT_REGISTRATIONS_PER_IP})`,
  },
  {
    key: "registrationWindowMs",
    flag: "registration-window-ms",
    env: "DIRECTORY_REGISTRATION_WINDOW_MS",
    kind: "integer",
    min: 1_000,
    max: MAX_SESSION_TTL_MS,
    help: `sliding window of the registration limit (default ${DEFAULT_REGISTRATION_WINDOW_MS})`,
  },
  {
    key: "passwordConcurrency",
    flag: "password-concurrency",
    env: "DIRECTORY_PASSWORD_CONCURRENCY",
    kind: "integer",
    min: 1,
    max: 64,
    help: `scrypt computations at once (default ${DEFAULT_PASSWORD_CONCURRENCY})`,
  },
  {
    key: "passwordQueueLength",
    flag: "password-queue-length",
    env: "DIRECTORY_PASSWORD_QUEUE_LENGTH",
    kind: "integer",
    min: 0,
    max: 100_000,
    help: `password checks that may wait for a slot, more get 503 (default ${DEFAULT_PASSWORD_QUEUE_LENGTH})`,
  },
  {
    key: "sqliteSearchThreads",
    flag: "sqlite-search-threads",
    env: "DIRECTORY_SQLITE_SEARCH_THREADS",
    kind: "integer",
    min: 0,
    max: 64,
    help: `SQLite: threads that run searches off the event loop, 0 to search on it (default ${SQLITE_SEARCH_THREADS})`,
  },
  {
    key: "verifyAddresses",
    flag: "verify-addresses",
    env: "DIRECTORY_VERIFY_ADDRESSES",
    kind: "boolean",
    valued: true,
    help: "call each login's address back and list the peer only when it proves the login's key (default true)",
  },
  {
    key: "allowPrivateAddresses",
    flag: "allow-private-addresses",
    env: "DIRECTORY_ALLOW_PRIVATE_ADDRESSES",
    kind: "boolean",
    valued: true,
    help: "accept loopback and private (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) peer addresses (default true)",
  },
  { key: "peerCaFile", flag: "peer-ca", env: "DIRECTORY_PEER_CA", kind: "optional-string", help: "PEM CA certificates for https peer addresses, besides the system's" },
  {
    key: "allowedHosts",
    flag: "allowed-hosts",
    env: "DIRECTORY_ALLOWED_HOSTS",
    kind: "list",
    help: "comma-separated host names requests may carry in Host, besides the listen address, localhost, 127.0.0.1 and ::1",
  },
  { key: "publicHost", flag: "public-host", env: "DIRECTORY_PUBLIC_HOST", kind: "optional-string", help: "the host name clients reach this directory by (allowed in Host)" },
  { key: "tlsCertFile", flag: "tls-cert", env: "DIRECTORY_TLS_CERT", kind: "optional-string", help: "PEM certificate file: with --tls-key, serve HTTPS" },
  { key: "tlsKeyFile", flag: "tls-key", env: "DIRECTORY_TLS_KEY", kind: "optional-string", help: "PEM private key file of --tls-cert" },
];

/** Where loadConfig reads from (all default to the process's own). */
export interface ConfigSources {
  /** Command-line arguments after the script name. */
  argv?: readonly string[];
  /** Environment variables. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The `.env` file; a missing file is fine (default: `.env` in the working directory). */
  envFile?: string;
}

/** The command-line help text. */
export function usage(): string {
  const lines = SETTINGS.map((s) => `  --${s.flag.padEnd(31)} ${s.env.padEnd(40)} ${s.help}`);
  return `Usage: node --import tsx src/main.ts [options]\n\nEach option can also be set by its environment variable or in a .env file.\n\n${lines.join("\n")}\n  --help\n`;
}

/** Reads and validates the configuration from flags, then environment, then `.env`, then defaults. */
export function loadConfig(sources: ConfigSources = {}): DirectoryConfig {
  const argv = sources.argv ?? process.argv.slice(2);
  const env = sources.env ?? process.env;
  const options = Object.fromEntries(
    SETTINGS.map((s) => [s.flag, { type: s.kind === "boolean" && !s.valued ? ("boolean" as const) : ("string" as const) }]),
  );
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as typeof flags;
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n\n${usage()}`);
  }
  const envFile = resolve(sources.envFile ?? ".env");
  let fileValues: Record<string, string> = {};
  if (existsSync(envFile)) {
    try {
      fileValues = parseEnv(readFileSync(envFile, "utf8")) as Record<string, string>;
    } catch (error) {
      throw new ConfigError(`cannot read ${envFile}: ${(error as Error).message}`);
    }
  }
  const raw: Partial<Record<keyof DirectoryConfig, { value: string | boolean; from: string }>> = {};
  for (const setting of SETTINGS) {
    const flag = flags[setting.flag];
    if (flag !== undefined) raw[setting.key] = { value: flag, from: `--${setting.flag}` };
    else if (env[setting.env] !== undefined && env[setting.env] !== "") {
      raw[setting.key] = { value: env[setting.env] as string, from: setting.env };
    } else if (fileValues[setting.env] !== undefined) {
      raw[setting.key] = { value: fileValues[setting.env] as string, from: `${setting.env} in ${envFile}` };
    }
  }
  const overrides: Partial<DirectoryConfig> = {};
  for (const setting of SETTINGS) {
    const given = raw[setting.key];
    if (given) Object.assign(overrides, { [setting.key]: parseSetting(setting, given.value, given.from) });
  }
  return resolveConfig(overrides);
}

/** Fills in defaults and checks bounds and consistency; for callers (tests, startDirectory) that pass values directly. */
export function resolveConfig(overrides: Partial<DirectoryConfig> = {}): DirectoryConfig {
  const heartbeatIntervalMs = overrides.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  const dataDir = overrides.dataDir ?? DEFAULT_DATA_DIR;
  if (dataDir.trim() === "") throw new ConfigError("dataDir must not be empty");
  const config: DirectoryConfig = {
    host: overrides.host ?? DEFAULT_HOST,
    port: overrides.port ?? DEFAULT_PORT,
    dataDir: resolve(dataDir),
    heartbeatIntervalMs,
    sessionTtlMs: overrides.sessionTtlMs ?? SESSION_TTL_HEARTBEAT_INTERVALS * heartbeatIntervalMs,
    leaseSlackMs: overrides.leaseSlackMs ?? LEASE_SLACK_HEARTBEAT_INTERVALS * heartbeatIntervalMs,
    rateLimitPerMinute: overrides.rateLimitPerMinute ?? DEFAULT_RATE_LIMIT_PER_MINUTE,
    sessionRateLimitPerMinute: overrides.sessionRateLimitPerMinute ?? DEFAULT_SESSION_RATE_LIMIT_PER_MINUTE,
    sweepIntervalMs: overrides.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS,
    logLevel: overrides.logLevel ?? "info",
    trustProxy: overrides.trustProxy ?? false,
    scryptCostLog2: overrides.scryptCostLog2 ?? DEFAULT_SCRYPT_COST_LOG2,
    databaseUrl: overrides.databaseUrl,
    databaseSchema: overrides.databaseSchema ?? DEFAULT_DATABASE_SCHEMA,
    accountLoginFailures: overrides.accountLoginFailures ?? DEFAULT_ACCOUNT_FAILURES_PER_WINDOW,
    ipLoginFailures: overrides.ipLoginFailures ?? DEFAULT_IP_FAILURES_PER_WINDOW,
    loginFailureWindowMs: overrides.loginFailureWindowMs ?? DEFAULT_LOGIN_FAILURE_WINDOW_MS,
    registrationsPerIp: overrides.registrationsPerIp ?? DEFAULT_REGISTRATIONS_PER_IP,
    registrationWindowMs: overrides.registrationWindowMs ?? DEFAULT_REGISTRATION_WINDOW_MS,
    passwordConcurrency: overrides.passwordConcurrency ?? DEFAULT_PASSWORD_CONCURRENCY,
    passwordQueueLength: overrides.passwordQueueLength ?? DEFAULT_PASSWORD_QUEUE_LENGTH,
    sqliteSearchThreads: overrides.sqliteSearchThreads ?? SQLITE_SEARCH_THREADS,
    verifyAddresses: overrides.verifyAddresses ?? true,
    allowPrivateAddresses: overrides.allowPrivateAddresses ?? true,
    peerCaFile: overrides.peerCaFile,
    allowedHosts: overrides.allowedHosts ?? [],
    publicHost: overrides.publicHost,
    tlsCertFile: overrides.tlsCertFile,
    tlsKeyFile: overrides.tlsKeyFile,
  };
  for (const setting of SETTINGS) {
    const value = config[setting.key];
    if (setting.kind === "integer") checkInteger(setting, value, setting.key);
    if (setting.kind === "level" && !LOG_LEVELS.includes(value as LogLevel)) {
      throw new ConfigError(`${setting.key} must be one of ${LOG_LEVELS.join(", ")}, got "${String(value)}"`);
    }
    if (setting.kind === "string" && (typeof value !== "string" || value.trim() === "")) {
      throw new ConfigError(`${setting.key} must not be empty`);
    }
  }
  if (config.databaseUrl !== undefined) checkDatabaseUrl(config.databaseUrl, "databaseUrl");
  if (!DATABASE_SCHEMA.test(config.databaseSchema)) {
    throw new ConfigError(
      `databaseSchema must be 1-63 characters of a-z, 0-9 and _, not starting with a digit, got "${config.databaseSchema}"`,
    );
  }
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    throw new ConfigError("tlsCertFile and tlsKeyFile go together: give both (HTTPS) or neither (HTTP)");
  }
  if (config.allowedHosts.some((h) => !HOST_NAME.test(h)) || (config.publicHost !== undefined && !HOST_NAME.test(config.publicHost))) {
    throw new ConfigError("allowedHosts and publicHost must be host names or IP addresses, without scheme or port");
  }
  if (config.sessionTtlMs <= config.heartbeatIntervalMs) {
    throw new ConfigError(
      `the session TTL (${config.sessionTtlMs} ms) must be longer than the heartbeat interval ` +
        `(${config.heartbeatIntervalMs} ms), or every peer would expire between two heartbeats`,
    );
  }
  return config;
}

function parseSetting(setting: Setting, value: string | boolean, from: string): unknown {
  if (setting.kind === "boolean") {
    if (typeof value === "boolean") return value;
    if (/^(1|true|yes|on)$/i.test(value)) return true;
    if (/^(0|false|no|off)$/i.test(value)) return false;
    throw new ConfigError(`${from} must be true or false, got "${value}"`);
  }
  const text = String(value).trim();
  if (setting.kind === "integer") {
    if (!/^-?\d+$/.test(text)) throw new ConfigError(`${from} must be a whole number, got "${text}"`);
    const number = Number(text);
    checkInteger(setting, number, from);
    return number;
  }
  if (setting.kind === "list") {
    return text
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");
  }
  if (setting.kind === "optional-string" && text === "") throw new ConfigError(`${from} must not be empty`);
  if (setting.kind === "database-url") {
    checkDatabaseUrl(text, from);
    return text;
  }
  if (setting.kind === "level" && !LOG_LEVELS.includes(text as LogLevel)) {
    throw new ConfigError(`${from} must be one of ${LOG_LEVELS.join(", ")}, got "${text}"`);
  }
  return text;
}

/** A host name, IPv4 address or bracket-less IPv6 address. */
const HOST_NAME = /^(?:[A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}\.?$|^[0-9A-Fa-f:.]+$/;

/** Schema names PgStore accepts (plain lower-case identifiers). */
const DATABASE_SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

/** A PostgreSQL URL; the message never repeats the value, which may hold a password. */
function checkDatabaseUrl(value: string, name: string): void {
  let valid = false;
  try {
    const url = new URL(value);
    valid = (url.protocol === "postgres:" || url.protocol === "postgresql:") && url.hostname !== "";
  } catch {
    valid = false;
  }
  if (!valid) throw new ConfigError(`${name} must be a URL like postgres://user:password@host:5432/database`);
}

function checkInteger(setting: Setting, value: unknown, name: string): void {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = setting;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
}
