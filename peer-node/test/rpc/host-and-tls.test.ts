// The one port's Host allowlist (DNS rebinding) and TLS, against real pservers and a real directory:
// HTTP/1.1, h2c/h2 (gRPC) and Connect; a self-signed certificate made for the test with openssl.
import { execFileSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import path from "node:path";
import { ConnectError, createClient } from "@connectrpc/connect";
import { pino } from "pino";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientService, PushAccept, TransferState } from "../../src/gen.js";
import { startPserver, type Pserver } from "../../src/pserver.js";
import { hostOf } from "../../src/rpc/host-allowlist.js";
import { runCli } from "../cli/run-cli.js";
import { logger, removeDir, tempDir, TEST_PASSWORD, waitFor, writeRandomFile } from "../pserver-harness.js";

let root: string;
let directory: { url: string; close(): Promise<void> };
/** The directory of the TLS tests: it checks https peer addresses against the test's certificate. */
let tlsDirectory: { url: string; close(): Promise<void> } | undefined;
const pservers: Pserver[] = [];

beforeAll(async () => {
  const { startDirectory } = await import("@p2p/server");
  root = await tempDir("p2p-host-tls-");
  directory = await startDirectory({ dataDir: path.join(root, "directory"), host: "127.0.0.1", port: 0, heartbeatIntervalMs: 500, logLevel: "silent", scryptCostLog2: 10 });
});
afterAll(async () => {
  for (const p of pservers) await p.close();
  await tlsDirectory?.close();
  await directory.close();
  await removeDir(root);
}, 120_000);

async function start(name: string, extra: Partial<Parameters<typeof startPserver>[0]> = {}): Promise<Pserver> {
  const p = await startPserver({
    name,
    password: TEST_PASSWORD,
    directoryUrl: directory.url,
    sharedDir: path.join(root, name, "shared"),
    dataDir: path.join(root, name, "state"),
    logger,
    directoryRetryMaxMs: 500,
    ...extra,
  });
  pservers.push(p);
  return p;
}

/** One HTTP/1.1 GET with a chosen Host header. */
function get1(url: string, host: string, options: https.RequestOptions = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const lib = u.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request({ host: u.hostname, port: u.port, path: "/", headers: { host }, ...options }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** One HTTP/2 request with a chosen :authority. */
function get2(url: string, authority: string, options: http2.SecureClientSessionOptions = {}): Promise<number> {
  const session = http2.connect(url, options);
  return new Promise<number>((resolve, reject) => {
    session.on("error", reject);
    const req = session.request({ ":path": "/p2p.v1.ClientService/GetStatus", ":method": "POST", ":authority": authority, "content-type": "application/json" });
    req.on("response", (h) => resolve(Number(h[":status"])));
    req.on("error", reject);
    req.end("{}");
  }).finally(() => session.close());
}

describe("the Host allowlist", () => {
  it("reads a Host or :authority value into its host", () => {
    expect(hostOf("Example.COM:7001")).toBe("example.com");
    expect(hostOf("[::1]:7001")).toBe("::1");
    expect(hostOf("127.0.0.1")).toBe("127.0.0.1");
    expect(hostOf("evil.example.:80")).toBe("evil.example");
    expect(hostOf("a b")).toBeUndefined();
    expect(hostOf(undefined)).toBeUndefined();
  });

  it("answers 421 to a foreign Host over HTTP/1.1 and to a foreign :authority over HTTP/2, before any handler", async () => {
    const p = await start("hosta", { allowHosts: ["files.example"] });
    const port = p.port;
    expect((await get1(p.url, `127.0.0.1:${port}`)).status).not.toBe(421);
    expect((await get1(p.url, `localhost:${port}`)).status).not.toBe(421);
    expect((await get1(p.url, `files.example:${port}`)).status).not.toBe(421);
    const refused = await get1(p.url, `rebind.attacker.example:${port}`);
    expect(refused.status).toBe(421);
    expect(JSON.parse(refused.body)).toMatchObject({ error: "Misdirected Request" });
    expect(await get2(p.url, `127.0.0.1:${port}`)).toBe(200);
    expect(await get2(p.url, `rebind.attacker.example:${port}`)).toBe(421);
    // A gRPC client sent to the wrong name gets no answer from the service.
    const grpc = createClient(ClientService, createGrpcTransport({ baseUrl: p.url, interceptors: [(next) => (req) => {
      req.header.set("host", "evil.example");
      return next(req);
    }] }));
    const err = await grpc.getStatus({}).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
  });
});

describe("TLS on the one port", () => {
  let cert: Buffer;
  let key: Buffer;
  beforeAll(async () => {
    const dir = path.join(root, "tls");
    execFileSync("mkdir", ["-p", dir]);
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    cert = await readFile(path.join(dir, "cert.pem"));
    key = await readFile(path.join(dir, "key.pem"));
    // The directory calls an https address back at login (Ping proof), so it must trust the certificate.
    const { startDirectory } = await import("@p2p/server");
    tlsDirectory = await startDirectory({
      dataDir: path.join(root, "tls-directory"),
      host: "127.0.0.1",
      port: 0,
      heartbeatIntervalMs: 500,
      logLevel: "silent",
      scryptCostLog2: 10,
      peerCaFile: path.join(dir, "cert.pem"),
    });
  });

  it("serves https to HTTP/1.1 (the tab, curl) and HTTP/2 (gRPC) on one port, and peers push to each other over TLS", async () => {
    const alice = await start("tlsalice", { host: "127.0.0.1", tls: { cert, key }, tlsCa: cert, directoryUrl: tlsDirectory!.url });
    const bob = await start("tlsbob", { host: "127.0.0.1", tls: { cert, key }, tlsCa: cert, directoryUrl: tlsDirectory!.url });
    expect(alice.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    // HTTP/1.1 over TLS, ALPN http/1.1: the pserver's own answer (no web app in this test).
    const plain = await get1(alice.url, `127.0.0.1:${alice.port}`, { ca: cert });
    expect(plain.status).toBe(404);
    expect(plain.body).toMatch(/this pserver serves RPCs/);
    // Connect over HTTP/1.1 and gRPC over h2, both checking the certificate.
    const connect = createClient(ClientService, createConnectTransport({ baseUrl: alice.url, httpVersion: "1.1", nodeOptions: { ca: cert } }));
    expect((await connect.getStatus({})).peerName).toBe("tlsalice");
    const grpc = createClient(ClientService, createGrpcTransport({ baseUrl: alice.url, nodeOptions: { ca: cert } }));
    const login = await grpc.login({ username: "tlsalice", password: TEST_PASSWORD });
    // An untrusted certificate is refused.
    const untrusted = await createClient(ClientService, createGrpcTransport({ baseUrl: alice.url })).getStatus({}).catch((e: unknown) => ConnectError.from(e));
    expect(untrusted).toBeInstanceOf(ConnectError);
    expect((untrusted as ConnectError).rawMessage).toMatch(/self-signed certificate/);

    // A push from alice to bob travels pserver to pserver over gRPC on TLS (bob checks alice's... and alice bob's certificate with --tls-ca).
    const authed = createClient(ClientService, createGrpcTransport({ baseUrl: alice.url, nodeOptions: { ca: cert }, interceptors: [(next) => (req) => {
      req.header.set("authorization", `Bearer ${login.sessionToken}`);
      return next(req);
    }] }));
    const bobClient = createClient(ClientService, createGrpcTransport({ baseUrl: bob.url, nodeOptions: { ca: cert } }));
    const bobToken = (await bobClient.login({ username: "tlsbob", password: TEST_PASSWORD })).sessionToken;
    await bobClient.updateSettings({ pushPolicy: { accept: PushAccept.ANYONE, maxFileBytes: 10_000_000n, quotaBytes: 10_000_000n } }, { headers: { authorization: `Bearer ${bobToken}` } });
    const file = await writeRandomFile(path.join(root, "tlsalice", "shared", "secret-plans.bin"), 300_000);
    await waitFor(async () => (await authed.listFiles({})).files.some((f) => f.name === "secret-plans.bin"), "alice to index her file");
    const contentId = (await authed.listFiles({})).files.find((f) => f.name === "secret-plans.bin")!.contentId;
    let state: TransferState | undefined;
    await waitFor(async () => {
      for await (const { progress } of authed.upload({ contentId, targetPeer: "tlsbob" })) state = progress?.state;
      return state === TransferState.COMPLETED;
    }, "the push to bob over TLS", 20_000, 500);
    expect((await readFile(path.join(root, "tlsbob", "shared", "secret-plans.bin"))).equals(file.bytes)).toBe(true);
  });

  it("the CLI drives an https pserver whose certificate only --ca vouches for; without it, it says so and names the flag", async () => {
    const p = await start("tlscli", { host: "127.0.0.1", tls: { cert, key }, tlsCa: cert, directoryUrl: tlsDirectory!.url });
    const dir = path.join(root, "tls");
    await writeFile(path.join(dir, "not-a-cert.txt"), "hello");
    const cli = (...argv: string[]) => runCli(argv, { PEER_TOKEN_FILE: path.join(dir, "sessions.json") }, dir);
    const trusted = await cli("login", "--url", p.url, "--ca", "cert.pem", "--username", "tlscli", "--password", TEST_PASSWORD);
    expect(trusted.err).toBe("");
    expect(trusted.code).toBe(0);
    const status = await cli("status", "--url", p.url, "--ca", path.join(dir, "cert.pem"));
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/tlscli/);

    const untrusted = await cli("status", "--url", p.url);
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.err).toMatch(/The certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\)\. .*--ca FILE/);
    const notPem = await cli("status", "--url", p.url, "--ca", "not-a-cert.txt");
    expect(notPem.code).not.toBe(0);
    expect(notPem.err).toMatch(/--ca .*not-a-cert\.txt holds no PEM certificate/);
    const missing = await cli("status", "--url", p.url, "--ca", "nowhere.pem");
    expect(missing.err).toMatch(/--ca .*nowhere\.pem cannot be read \(ENOENT\)/);
  });

  it("reaches an https directory whose certificate only --tls-ca vouches for; without it, the directory is unreachable and the log says why", async () => {
    const { startDirectory } = await import("@p2p/server");
    const dir = path.join(root, "tls");
    const httpsDirectory = await startDirectory({
      dataDir: path.join(root, "https-directory"),
      host: "127.0.0.1",
      port: 0,
      heartbeatIntervalMs: 500,
      logLevel: "silent",
      scryptCostLog2: 10,
      tlsCertFile: path.join(dir, "cert.pem"),
      tlsKeyFile: path.join(dir, "key.pem"),
      peerCaFile: path.join(dir, "cert.pem"),
    });
    try {
      expect(httpsDirectory.url).toMatch(/^https:/);
      // With the CA: logged in at start, over https, to a directory the system's CAs know nothing of.
      const trusting = await start("tlscarol", { host: "127.0.0.1", tls: { cert, key }, tlsCa: cert, directoryUrl: httpsDirectory.url });
      const status = await createClient(ClientService, createConnectTransport({ baseUrl: trusting.url, httpVersion: "2", nodeOptions: { ca: cert } })).getStatus({});
      expect(status).toMatchObject({ loggedIn: true, directoryUrl: httpsDirectory.url });

      // Without it: the pserver still starts (the directory may be fixed later) but cannot log in, and says why.
      const lines: string[] = [];
      const captured = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
      const doubting = await start("tlsdave", { directoryUrl: httpsDirectory.url, logger: captured });
      const refused = await createClient(ClientService, createConnectTransport({ baseUrl: doubting.url, httpVersion: "1.1" })).getStatus({});
      expect(refused).toMatchObject({ loggedIn: false });
      expect(lines.join("\n")).toMatch(/is unreachable \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
    } finally {
      for (const p of pservers.splice(0)) await p.close();
      await httpsDirectory.close();
    }
  });
});
