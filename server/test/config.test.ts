import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, resolveConfig } from "../src/config.js";

describe("loadConfig", () => {
  let dir: string;
  let envFile: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "directory-config-"));
    envFile = join(dir, ".env");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("has safe defaults: loopback, 10 s heartbeats, 3x TTL", () => {
    const config = loadConfig({ argv: [], env: {}, envFile });
    expect(config).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
      heartbeatIntervalMs: 10_000,
      sessionTtlMs: 30_000,
      rateLimitPerMinute: 60_000,
      logLevel: "info",
      trustProxy: false,
    });
  });

  it("has safe defaults for the open network: login limits on, addresses verified, a bounded password queue", () => {
    const config = loadConfig({ argv: [], env: {}, envFile });
    expect(config).toMatchObject({
      accountLoginFailures: 10,
      ipLoginFailures: 50,
      loginFailureWindowMs: 15 * 60_000,
      registrationsPerIp: 10,
      registrationWindowMs: 60 * 60_000,
      passwordConcurrency: 2,
      passwordQueueLength: 32,
      sqliteSearchThreads: 0,
      verifyAddresses: true,
      allowPrivateAddresses: true,
      allowedHosts: [],
    });
    expect(config.tlsCertFile).toBeUndefined();
  });

  it("reads the hardening settings from flags and the environment", () => {
    const config = loadConfig({
      argv: ["--verify-addresses", "false", "--allowed-hosts", "a.example, b.example", "--tls-cert", "c.pem", "--tls-key", "k.pem"],
      env: { DIRECTORY_ALLOW_PRIVATE_ADDRESSES: "off", DIRECTORY_PUBLIC_HOST: "dir.example.org" },
      envFile,
    });
    expect(config).toMatchObject({
      verifyAddresses: false,
      allowPrivateAddresses: false,
      allowedHosts: ["a.example", "b.example"],
      publicHost: "dir.example.org",
      tlsCertFile: "c.pem",
      tlsKeyFile: "k.pem",
    });
    expect(() => loadConfig({ argv: ["--tls-cert", "c.pem"], env: {}, envFile })).toThrow("tlsCertFile and tlsKeyFile go together");
    expect(() => loadConfig({ argv: ["--verify-addresses", "maybe"], env: {}, envFile })).toThrow('--verify-addresses must be true or false, got "maybe"');
    expect(() => loadConfig({ argv: ["--allowed-hosts", "http://x.example/"], env: {}, envFile })).toThrow("must be host names");
  });

  it("takes flags over environment variables over the .env file", async () => {
    await writeFile(envFile, "DIRECTORY_PORT=1111\nDIRECTORY_HOST=10.0.0.1\nDIRECTORY_LOG_LEVEL=debug\n");
    const env = { DIRECTORY_PORT: "2222", DIRECTORY_HOST: "0.0.0.0" };
    const config = loadConfig({ argv: ["--port", "3333"], env, envFile });
    expect(config.port).toBe(3333);
    expect(config.host).toBe("0.0.0.0");
    expect(config.logLevel).toBe("debug");
    expect(loadConfig({ argv: [], env, envFile }).port).toBe(2222);
    expect(loadConfig({ argv: [], env: {}, envFile }).port).toBe(1111);
  });

  it("derives the session TTL from the heartbeat interval unless set", () => {
    expect(loadConfig({ argv: ["--heartbeat-interval-ms", "2000"], env: {}, envFile }).sessionTtlMs).toBe(6_000);
    expect(
      loadConfig({ argv: ["--heartbeat-interval-ms", "2000", "--session-ttl-ms", "9000"], env: {}, envFile }).sessionTtlMs,
    ).toBe(9_000);
  });

  it("accepts port 0, disabled rate limits and --trust-proxy", () => {
    const config = loadConfig({
      argv: ["--port", "0", "--rate-limit-per-minute", "0", "--trust-proxy"],
      env: { DIRECTORY_SESSION_RATE_LIMIT_PER_MINUTE: "0" },
      envFile,
    });
    expect(config).toMatchObject({ port: 0, rateLimitPerMinute: 0, sessionRateLimitPerMinute: 0, trustProxy: true });
  });

  it.each([
    [["--port", "http"], {}, "--port must be a whole number, got \"http\""],
    [["--port", "70000"], {}, "--port must be a whole number from 0 to 65535, got 70000"],
    [[], { DIRECTORY_PORT: "-1" }, "DIRECTORY_PORT must be a whole number from 0 to 65535, got -1"],
    [["--log-level", "loud"], {}, "--log-level must be one of fatal, error, warn, info, debug, trace, silent"],
    [[], { DIRECTORY_TRUST_PROXY: "maybe" }, "DIRECTORY_TRUST_PROXY must be true or false"],
    [["--heartbeat-interval-ms", "10000", "--session-ttl-ms", "5000"], {}, "the session TTL (5000 ms) must be longer than the heartbeat interval"],
    [["--scrypt-cost", "4"], {}, "--scrypt-cost must be a whole number from 10 to 20"],
    [["--colour"], {}, "Unknown option '--colour'"],
    [["--data-dir", " "], {}, "dataDir must not be empty"],
  ])("rejects %j %j with a clear message", (argv, env, message) => {
    expect(() => loadConfig({ argv, env, envFile })).toThrow(ConfigError);
    expect(() => loadConfig({ argv, env, envFile })).toThrow(message);
  });

  it("names the .env file when a value there is wrong", async () => {
    await writeFile(envFile, "DIRECTORY_HEARTBEAT_INTERVAL_MS=soon\n");
    expect(() => loadConfig({ argv: [], env: {}, envFile })).toThrow(`DIRECTORY_HEARTBEAT_INTERVAL_MS in ${envFile} must be a whole number`);
  });

  it("takes a PostgreSQL URL and schema from flags or the environment; SQLite stays the default", () => {
    expect(loadConfig({ argv: [], env: {}, envFile }).databaseUrl).toBeUndefined();
    const fromEnv = loadConfig({ argv: [], env: { DIRECTORY_DATABASE_URL: "postgres://dir@db.example:5432/p2p" }, envFile });
    expect(fromEnv).toMatchObject({ databaseUrl: "postgres://dir@db.example:5432/p2p", databaseSchema: "public" });
    const fromFlags = loadConfig({
      argv: ["--database", "postgresql://dir@10.0.0.5/p2p", "--database-schema", "directory"],
      env: { DIRECTORY_DATABASE_URL: "postgres://other@db.example/x" },
      envFile,
    });
    expect(fromFlags).toMatchObject({ databaseUrl: "postgresql://dir@10.0.0.5/p2p", databaseSchema: "directory" });
  });

  it.each([
    [["--database", "mysql://root:hunter2@db/p2p"], "--database must be a URL like postgres://user:password@host:5432/database"],
    [["--database", "hunter2"], "--database must be a URL like postgres://"],
    [["--database-schema", "Directory; DROP"], 'databaseSchema must be 1-63 characters of a-z, 0-9 and _'],
  ])("rejects %j without repeating a password", (argv, message) => {
    expect(() => loadConfig({ argv, env: {}, envFile })).toThrow(message);
    try {
      loadConfig({ argv, env: {}, envFile });
    } catch (error) {
      expect((error as Error).message).not.toContain("hunter2");
    }
  });

  it("resolveConfig checks values passed directly", () => {
    expect(() => resolveConfig({ port: 1.5 })).toThrow("port must be a whole number from 0 to 65535, got 1.5");
  });
});
