import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadServeConfig, parseRate } from "../src/config.js";
import { GATEWAY_MAX_TABS, GATEWAY_RELAY_BUDGET_BYTES, GATEWAY_STREAMS_PER_TAB_MAX } from "../src/constants.js";

describe("serve configuration", () => {
  let cwd: string;
  beforeAll(async () => {
    cwd = await mkdtemp(path.join(tmpdir(), "p2p-config-"));
    await writeFile(path.join(cwd, ".env"), "PEER_NAME=fromfile\nPEER_PORT=7100\nPEER_DIRECTORY_URL=http://127.0.0.1:9000\n");
  });
  afterAll(() => rm(cwd, { recursive: true, force: true }));

  it("takes flags over PEER_* variables over the .env file", () => {
    const fromFile = loadServeConfig({}, {}, cwd);
    expect(fromFile.name).toBe("fromfile");
    expect(fromFile.port).toBe(7100);
    expect(fromFile.directoryUrls).toEqual(["http://127.0.0.1:9000"]);
    expect(fromFile.host).toBe("127.0.0.1");
    expect(fromFile.sharedDir).toBe(path.join(cwd, "shared"));

    const fromEnv = loadServeConfig({}, { PEER_NAME: "fromenv", PEER_DIRECTORY_URL: "http://a:1, http://b:2/" }, cwd);
    expect(fromEnv.name).toBe("fromenv");
    expect(fromEnv.directoryUrls).toEqual(["http://a:1", "http://b:2"]);

    const fromFlags = loadServeConfig({ name: "fromflag", port: "0", "upload-rate": "2M" }, { PEER_NAME: "fromenv" }, cwd);
    expect(fromFlags.name).toBe("fromflag");
    expect(fromFlags.port).toBe(0);
    expect(fromFlags.uploadBytesPerSecond).toBe(2 * 1024 * 1024);
  });

  it("fails fast with every problem named", () => {
    let error: unknown;
    try {
      loadServeConfig({ name: "bad name", port: "70000", "directory-url": "ftp://x", password: "short", "trusted-origins": "http://a.example/path" }, {}, cwd);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/--name "bad name"/);
    expect(message).toMatch(/--port must be a number from 0 to 65535/);
    expect(message).toMatch(/must start with http/);
    expect(message).toMatch(/--password .* 8 to 1024 bytes/);
    expect(message).toMatch(/--trusted-origins/);
  });

  it.each([
    ["1048576", 1048576],
    ["500K", 512000],
    ["1.5M", 1572864],
    ["10MiB/s", 10485760],
    ["0", undefined],
  ])("reads the upload rate %s", (text, bytes) => {
    expect(parseRate(text)).toBe(bytes);
  });

  it("refuses an upload rate below what peers take for a push, and one that is not a rate", () => {
    expect(parseRate("4K")).toBe(4096);
    expect(() => parseRate("3K")).toThrow("--upload-rate must be at least 4K (4096 bytes per second): peers refuse pushes slower than that.");
    expect(() => parseRate("fast")).toThrow('--upload-rate must be bytes per second like 500K or 10M, got "fast".');
  });

  it("reads the gateway's limits, 0 tabs meaning no gateway, and refuses nonsense", () => {
    const cwd = process.cwd();
    const defaults = loadServeConfig({ name: "gw" }, {}, cwd);
    expect(defaults.gatewayMaxTabs).toBe(GATEWAY_MAX_TABS);
    expect(defaults.gatewayStreamsPerTab).toBe(GATEWAY_STREAMS_PER_TAB_MAX);
    expect(defaults.gatewayRelayBudgetBytes).toBe(GATEWAY_RELAY_BUDGET_BYTES);
    const set = loadServeConfig({ name: "gw", "gateway-streams-per-tab": "3", "gateway-relay-budget": "1G" }, { PEER_GATEWAY_MAX_TABS: "0" }, cwd);
    expect(set.gatewayMaxTabs).toBe(0);
    expect(set.gatewayStreamsPerTab).toBe(3);
    expect(set.gatewayRelayBudgetBytes).toBe(1024 ** 3);
    expect(loadServeConfig({ name: "gw" }, { PEER_GATEWAY_RELAY_BUDGET: "64MiB" }, cwd).gatewayRelayBudgetBytes).toBe(64 * 1024 ** 2);
    expect(() => loadServeConfig({ name: "gw", "gateway-relay-budget": "8M" }, {}, cwd)).toThrow(
      '--gateway-relay-budget must be 16M to 64G (at least one piece of the largest size a file may have), got "8M".',
    );
    expect(() => loadServeConfig({ name: "gw", "gateway-relay-budget": "lots" }, {}, cwd)).toThrow('--gateway-relay-budget must be bytes like 256M or 1G (16M to 64G), got "lots".');
    expect(() => loadServeConfig({ name: "gw", "gateway-max-tabs": "many" }, {}, cwd)).toThrow("--gateway-max-tabs must be a whole number from 0 to 100000.");
    expect(() => loadServeConfig({ name: "gw", "gateway-streams-per-tab": "0" }, {}, cwd)).toThrow("--gateway-streams-per-tab must be a whole number from 1 to 64.");
  });

  it("reads --tls-cert, --tls-key and --tls-ca, and stops at start on files that would only fail later", async () => {
    const dir = path.join(cwd, "tls");
    execFileSync("mkdir", ["-p", dir]);
    const makeCert = (name: string) =>
      execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", `/CN=${name}`,
        "-keyout", path.join(dir, `${name}-key.pem`), "-out", path.join(dir, `${name}-cert.pem`)], { stdio: "ignore" });
    makeCert("one");
    makeCert("two");
    await writeFile(path.join(dir, "not-pem.txt"), "hello\n");
    const at = (file: string) => path.join(dir, file);

    const good = loadServeConfig({ name: "gw", "tls-cert": at("one-cert.pem"), "tls-key": at("one-key.pem"), "tls-ca": at("two-cert.pem") }, {}, cwd);
    expect(good.tls?.cert.toString()).toMatch(/BEGIN CERTIFICATE/);
    expect(good.tlsCa?.toString()).toMatch(/BEGIN CERTIFICATE/);

    const problemsOf = (flags: Record<string, string>): string => {
      try {
        loadServeConfig({ name: "gw", ...flags }, {}, cwd);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error("the configuration was accepted");
    };
    // Another certificate's key: the hostile-but-valid case (both files are fine PEM on their own).
    expect(problemsOf({ "tls-cert": at("one-cert.pem"), "tls-key": at("two-key.pem") })).toMatch(/^--tls-cert and --tls-key do not make a usable certificate: .*is the key the one of the certificate\?/);
    expect(problemsOf({ "tls-cert": at("one-key.pem"), "tls-key": at("one-key.pem") })).toBe("--tls-cert must be a PEM certificate (chain): a file with -----BEGIN CERTIFICATE-----.");
    expect(problemsOf({ "tls-cert": at("one-cert.pem"), "tls-key": at("one-cert.pem") })).toMatch(/^--tls-key must be a PEM private key/);
    expect(problemsOf({ "tls-ca": at("not-pem.txt") })).toBe("--tls-ca must hold PEM CA certificates: a file with -----BEGIN CERTIFICATE-----.");
    expect(problemsOf({ "tls-ca": at("missing.pem") })).toMatch(/^--tls-ca .*missing\.pem cannot be read \(ENOENT\)\.$/);
    await writeFile(at("broken.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    expect(problemsOf({ "tls-ca": at("broken.pem") })).toMatch(/^--tls-ca has a certificate that does not parse/);
  });
});
