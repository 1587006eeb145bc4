import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import tls from "node:tls";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import {
  GATEWAY_MAX_TABS,
  GATEWAY_RELAY_BUDGET_BYTES,
  GATEWAY_RELAY_BUDGET_MAX_BYTES,
  GATEWAY_RELAY_BUDGET_MIN_BYTES,
  GATEWAY_STREAMS_PER_TAB_MAX,
  PUSH_MIN_BYTES_PER_SECOND,
  USERNAME_MAX_CHARS,
} from "./constants.js";
import { isPeerName } from "./directory/wire.js";

/** Everything `peer-node serve` needs, validated. */
export interface ServeConfig {
  readonly name: string;
  readonly password: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly sharedDir: string;
  readonly dataDir: string;
  readonly directoryUrls: string[];
  readonly advertisedAddress: string | undefined;
  readonly trustedOrigins: string[];
  readonly uploadBytesPerSecond: number | undefined;
  readonly webDir: string | undefined;
  readonly logLevel: string;
  /** Browser peers this pserver is the gateway of at most; 0: it is no gateway. */
  readonly gatewayMaxTabs: number;
  /** Relayed calls to one browser peer at once. */
  readonly gatewayStreamsPerTab: number;
  /** Relayed piece bytes the gateway holds in memory at once, across all its browser peers. */
  readonly gatewayRelayBudgetBytes: number;
  /** Host names answered besides the defaults (listen address, localhost, 127.0.0.1, ::1, advertised host). */
  readonly allowHosts: string[];
  /** TLS certificate chain and key (PEM), read from --tls-cert and --tls-key. */
  readonly tls: { cert: Buffer; key: Buffer } | undefined;
  /** CA certificates (PEM) for other peers' and the directory's https:// addresses, from --tls-ca. */
  readonly tlsCa: Buffer | undefined;
}

/** A configuration value is missing or wrong; the message says which and how to fix it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Raw settings by key: flag values already merged over the environment. */
export type Settings = Readonly<Record<string, string | string[] | boolean | undefined>>;

/** Each serve setting: its flag, its environment variable, and what it means (also drives --help). */
export const SERVE_SETTINGS = [
  { key: "name", flag: "--name", alias: "--username", env: "PEER_NAME", help: "peer name = directory username (required)" },
  { key: "password", flag: "--password", env: "PEER_PASSWORD", help: "directory password: log in at start (8-1024 bytes)" },
  { key: "host", flag: "--host", env: "PEER_HOST", help: "interface to listen on (default 127.0.0.1)" },
  { key: "port", flag: "--port", env: "PEER_PORT", help: "port for gRPC, gRPC-Web, Connect and the tab (default 7001; 0 = any)" },
  { key: "shared-dir", flag: "--shared-dir", env: "PEER_SHARED_DIR", help: "folder to share (default ./shared)" },
  { key: "data-dir", flag: "--data-dir", env: "PEER_DATA_DIR", help: "state folder (default ~/.local/state/p2p-share/<name>)" },
  { key: "directory-url", flag: "--directory-url", env: "PEER_DIRECTORY_URL", help: "directory base URL(s), comma-separated for failover (default http://127.0.0.1:7000)" },
  { key: "advertised-address", flag: "--advertised-address", env: "PEER_ADVERTISED_ADDRESS", help: "URL other peers reach this pserver at (default http://host:port)" },
  { key: "trusted-origins", flag: "--trusted-origins", env: "PEER_TRUSTED_ORIGINS", help: "comma-separated browser origins allowed cross-origin (\"*\" = any)" },
  { key: "upload-rate", flag: "--upload-rate", env: "PEER_UPLOAD_RATE", help: "cap on upload bytes/s, at least 4K, e.g. 500K, 10M (default: none)" },
  { key: "web-dir", flag: "--web-dir", env: "PEER_WEB_DIR", help: "built web app to serve at / (default: web/dist of this repo when present)" },
  { key: "log-level", flag: "--log-level", env: "PEER_LOG_LEVEL", help: "pino level: fatal, error, warn, info, debug (default info)" },
  { key: "gateway-max-tabs", flag: "--gateway-max-tabs", env: "PEER_GATEWAY_MAX_TABS", help: `browser peers served as their gateway at once (default ${GATEWAY_MAX_TABS}; 0 = no gateway)` },
  {
    key: "gateway-streams-per-tab",
    flag: "--gateway-streams-per-tab",
    env: "PEER_GATEWAY_STREAMS_PER_TAB",
    help: `relayed downloads from one browser peer at once (default ${GATEWAY_STREAMS_PER_TAB_MAX})`,
  },
  {
    key: "gateway-relay-budget",
    flag: "--gateway-relay-budget",
    env: "PEER_GATEWAY_RELAY_BUDGET",
    help: `relayed piece bytes held in memory at once across all browser peers, e.g. 256M, 1G (default ${GATEWAY_RELAY_BUDGET_BYTES / 2 ** 20}M; ${GATEWAY_RELAY_BUDGET_MIN_BYTES / 2 ** 20}M to ${GATEWAY_RELAY_BUDGET_MAX_BYTES / 2 ** 30}G)`,
  },
  { key: "allow-host", flag: "--allow-host", env: "PEER_ALLOW_HOST", help: "comma-separated host names answered besides the listen address, localhost and the advertised host (\"*\" = any)" },
  { key: "tls-cert", flag: "--tls-cert", env: "PEER_TLS_CERT", help: "PEM certificate chain: serve https (h2 and http/1.1) on the port (needs --tls-key)" },
  { key: "tls-key", flag: "--tls-key", env: "PEER_TLS_KEY", help: "PEM private key of --tls-cert" },
  { key: "tls-ca", flag: "--tls-ca", env: "PEER_TLS_CA", help: "PEM CA certificates that other peers' and the directory's https certificates are checked against" },
] as const;

const DEFAULT_PORT = 7001;
const DEFAULT_DIRECTORY_URL = "http://127.0.0.1:7000";
const LOG_LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/**
 * Merges flags over `PEER_*` environment variables over a `.env` file (given values win in that order)
 * and validates the result, failing fast with one clear message per problem.
 */
export function loadServeConfig(flags: Settings, env: NodeJS.ProcessEnv, cwd: string): ServeConfig {
  const fileEnv = readEnvFile(typeof flags["env-file"] === "string" ? path.resolve(cwd, flags["env-file"]) : path.join(cwd, ".env"), flags["env-file"] !== undefined);
  const get = (key: (typeof SERVE_SETTINGS)[number]["key"]): string | undefined => {
    const setting = SERVE_SETTINGS.find((s) => s.key === key)!;
    const flag = flags[key];
    if (typeof flag === "string") return flag;
    if (Array.isArray(flag)) return flag.join(",");
    return nonEmpty(env[setting.env]) ?? nonEmpty(fileEnv[setting.env]);
  };
  const problems: string[] = [];
  const check = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
      return undefined;
    }
  };

  const name = check(() => {
    const v = get("name");
    if (!v) throw new Error("--name (or PEER_NAME) is required: the peer's name, which is also its directory username.");
    if (!isPeerName(v)) throw new Error(`--name "${v}" must be 1 to ${USERNAME_MAX_CHARS} characters of A-Z, a-z, 0-9, '.', '_' or '-'.`);
    return v;
  });
  const password = check(() => {
    const v = get("password");
    if (v === undefined) return undefined;
    const bytes = Buffer.byteLength(v, "utf8");
    if (bytes < 8 || bytes > 1024) throw new Error("--password (PEER_PASSWORD) must be 8 to 1024 bytes.");
    return v;
  });
  const host = get("host") ?? "127.0.0.1";
  const port = check(() => parsePort(get("port")));
  const directoryUrls = check(() => parseUrls(get("directory-url") ?? DEFAULT_DIRECTORY_URL, "--directory-url")) ?? [];
  const advertisedAddress = check(() => {
    const v = get("advertised-address");
    if (v === undefined) return undefined;
    const [url] = parseUrls(v, "--advertised-address");
    if (new URL(url!).pathname !== "/") throw new Error("--advertised-address must be a base URL without a path.");
    return url;
  });
  const trustedOrigins = check(() => parseOrigins(get("trusted-origins"))) ?? [];
  const uploadBytesPerSecond = check(() => parseRate(get("upload-rate")));
  const logLevel = check(() => {
    const v = get("log-level") ?? "info";
    if (!LOG_LEVELS.has(v)) throw new Error(`--log-level must be one of ${[...LOG_LEVELS].join(", ")}.`);
    return v;
  });
  const gatewayMaxTabs = check(() => parseCount(get("gateway-max-tabs"), "--gateway-max-tabs", 0, 100_000)) ?? GATEWAY_MAX_TABS;
  const gatewayStreamsPerTab = check(() => parseCount(get("gateway-streams-per-tab"), "--gateway-streams-per-tab", 1, 64)) ?? GATEWAY_STREAMS_PER_TAB_MAX;
  const gatewayRelayBudgetBytes = check(() => parseRelayBudget(get("gateway-relay-budget"))) ?? GATEWAY_RELAY_BUDGET_BYTES;
  const webDirSetting = get("web-dir");
  const webDir = webDirSetting !== undefined ? path.resolve(cwd, webDirSetting) : defaultWebDir();
  if (webDir !== undefined && webDirSetting !== undefined && !existsSync(path.join(webDir, "index.html"))) {
    problems.push(`--web-dir ${webDir} has no index.html; build the web app (npm run build -w web) or leave --web-dir out.`);
  }

  const allowHosts = (get("allow-host") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const readPem = (key: "tls-cert" | "tls-key" | "tls-ca"): Buffer | undefined => {
    const file = get(key);
    if (file === undefined) return undefined;
    return check(() => {
      try {
        return readFileSync(path.resolve(cwd, file));
      } catch (err) {
        throw new Error(`--${key} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}).`);
      }
    });
  };
  const cert = readPem("tls-cert");
  const key = readPem("tls-key");
  const tlsCa = readPem("tls-ca");
  if ((get("tls-cert") === undefined) !== (get("tls-key") === undefined)) problems.push("--tls-cert and --tls-key go together: give both or neither.");
  // A wrong file would otherwise surface as an OpenSSL error at listen, or as every https call failing.
  if (cert !== undefined && key !== undefined) check(() => checkCertificateAndKey(cert, key));
  if (tlsCa !== undefined) check(() => checkCaCertificates(tlsCa));

  if (problems.length > 0) throw new ConfigError(problems.join("\n"));
  const stateHome = env.XDG_STATE_HOME || path.join(os.homedir(), ".local", "state");
  return {
    name: name!,
    password,
    host,
    port: port!,
    sharedDir: path.resolve(cwd, get("shared-dir") ?? "shared"),
    dataDir: path.resolve(cwd, get("data-dir") ?? path.join(stateHome, "p2p-share", name ?? "peer")),
    directoryUrls,
    advertisedAddress,
    trustedOrigins,
    uploadBytesPerSecond,
    webDir,
    logLevel: logLevel!,
    gatewayMaxTabs: gatewayMaxTabs ?? GATEWAY_MAX_TABS,
    gatewayStreamsPerTab: gatewayStreamsPerTab ?? GATEWAY_STREAMS_PER_TAB_MAX,
    gatewayRelayBudgetBytes,
    allowHosts,
    tls: cert && key ? { cert, key } : undefined,
    tlsCa,
  };
}

/** Throws a sentence for the person when --tls-cert and --tls-key are not a PEM certificate and its own key. */
export function checkCertificateAndKey(cert: Buffer, key: Buffer): void {
  if (!PEM_CERTIFICATE.test(cert.toString("latin1"))) throw new Error("--tls-cert must be a PEM certificate (chain): a file with -----BEGIN CERTIFICATE-----.");
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString("latin1"))) throw new Error("--tls-key must be a PEM private key: a file with -----BEGIN PRIVATE KEY----- (or EC/RSA PRIVATE KEY).");
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`--tls-cert and --tls-key do not make a usable certificate: ${why} (is the key the one of the certificate?).`);
  }
}

/** Throws a sentence for the person when --tls-ca holds no PEM certificate or one that does not parse. */
export function checkCaCertificates(ca: Buffer): void {
  const blocks = ca.toString("latin1").match(new RegExp(PEM_CERTIFICATE.source, "g")) ?? [];
  if (blocks.length === 0) throw new Error("--tls-ca must hold PEM CA certificates: a file with -----BEGIN CERTIFICATE-----.");
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new Error(`--tls-ca has a certificate that does not parse (${err instanceof Error ? err.message : String(err)}).`);
    }
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/** Parses a whole number of things from `min` to `max`; undefined when not given. */
function parseCount(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new Error(`${flag} must be a whole number from ${min} to ${max}.`);
  return Number(value);
}

/**
 * Parses the gateway's relay budget, bytes like 268435456, 256M or 1G (binary multiples); undefined when
 * not given. At least one piece of the largest size (a smaller budget could never relay such a file).
 */
export function parseRelayBudget(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+)\s*([KMG]?)(?:i?B)?$/i.exec(value.trim());
  const range = `${GATEWAY_RELAY_BUDGET_MIN_BYTES / 2 ** 20}M to ${GATEWAY_RELAY_BUDGET_MAX_BYTES / 2 ** 30}G`;
  if (!match) throw new Error(`--gateway-relay-budget must be bytes like 256M or 1G (${range}), got "${value}".`);
  const scale = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2]!.toUpperCase() as "" | "K" | "M" | "G"];
  const bytes = Number(match[1]) * scale;
  if (bytes < GATEWAY_RELAY_BUDGET_MIN_BYTES || bytes > GATEWAY_RELAY_BUDGET_MAX_BYTES) {
    throw new Error(`--gateway-relay-budget must be ${range} (at least one piece of the largest size a file may have), got "${value}".`);
  }
  return bytes;
}

/** The web app next to this package in the repository (web/dist), when it has been built. */
export function defaultWebDir(): string | undefined {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "web", "dist");
  return existsSync(path.join(dir, "index.html")) ? dir : undefined;
}

/** Parses a port (0 = any free port). */
export function parsePort(value: string | undefined): number {
  if (value === undefined) return DEFAULT_PORT;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) throw new Error(`--port must be a number from 0 to 65535, got "${value}".`);
  return port;
}

/** Parses comma-separated http(s) base URLs, without trailing slashes. */
export function parseUrls(value: string, what: string): string[] {
  const urls = value.split(",").map((s) => s.trim()).filter(Boolean);
  if (urls.length === 0) throw new Error(`${what} needs at least one URL.`);
  return urls.map((u) => {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new Error(`${what}: "${u}" is not a URL (expected e.g. http://127.0.0.1:7000).`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`${what}: "${u}" must start with http:// or https://.`);
    if (url.search || url.hash || url.username) throw new Error(`${what}: "${u}" must not have a query, fragment or credentials.`);
    return url.href.replace(/\/+$/, "");
  });
}

/** Parses the trusted browser origins ("*" = any). */
export function parseOrigins(value: string | undefined): string[] {
  if (!value) return [];
  return value.split(",").map((s) => s.trim()).filter(Boolean).map((o) => {
    if (o === "*") return o;
    let url: URL;
    try {
      url = new URL(o);
    } catch {
      throw new Error(`--trusted-origins: "${o}" is not an origin (expected e.g. http://localhost:5173).`);
    }
    if (url.origin !== o.replace(/\/$/, "")) throw new Error(`--trusted-origins: "${o}" must be just scheme://host[:port], e.g. ${url.origin}.`);
    return url.origin;
  });
}

/** Parses a byte rate like 1048576, 500K, 10M or 1G (binary multiples); undefined = no cap. */
export function parseRate(value: string | undefined): number | undefined {
  if (value === undefined || value === "0") return undefined;
  const match = /^(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?(?:\/s)?$/i.exec(value.trim());
  if (!match) throw new Error(`--upload-rate must be bytes per second like 500K or 10M, got "${value}".`);
  const scale = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2]!.toUpperCase() as "" | "K" | "M" | "G"];
  const rate = Math.floor(Number(match[1]) * scale);
  // Peers refuse pushes slower than this (PUSH_MIN_BYTES_PER_SECOND): a lower cap could push nothing.
  if (rate < PUSH_MIN_BYTES_PER_SECOND) {
    throw new Error(`--upload-rate must be at least ${PUSH_MIN_BYTES_PER_SECOND / 1024}K (${PUSH_MIN_BYTES_PER_SECOND} bytes per second): peers refuse pushes slower than that.`);
  }
  return rate;
}

function readEnvFile(file: string, required: boolean): Record<string, string> {
  if (!existsSync(file)) {
    if (required) throw new ConfigError(`--env-file ${file} does not exist.`);
    return {};
  }
  try {
    return parseEnv(readFileSync(file, "utf8")) as Record<string, string>;
  } catch (err) {
    throw new ConfigError(`${file} is not a valid .env file: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
