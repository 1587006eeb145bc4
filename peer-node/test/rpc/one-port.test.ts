import { execFile } from "node:child_process";
import http from "node:http";
import { promisify } from "node:util";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PeerService } from "../../src/gen.js";
import { startPserver, type Pserver } from "../../src/index.js";

const execFileAsync = promisify(execFile);
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

let pserver: Pserver;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "p2p-one-port-"));
  // No password: the pserver never calls the directory, so a closed port stands in for its URL.
  pserver = await startPserver({
    name: "alice",
    port: 0,
    directoryUrl: "http://127.0.0.1:9",
    sharedDir: path.join(dir, "shared"),
    dataDir: path.join(dir, "data"),
    trustedOrigins: ["http://tab.example"],
    logger,
  });
});
afterAll(async () => {
  await pserver.close();
  await rm(dir, { recursive: true, force: true });
});

// Every protocol a pserver promises on its one port, and the HTTP version each rides on.
const transports: Array<[string, () => Transport]> = [
  ["connect (HTTP/1.1, JSON)", () => createConnectTransport({ baseUrl: pserver.url, httpVersion: "1.1", useBinaryFormat: false })],
  ["connect (HTTP/1.1, binary)", () => createConnectTransport({ baseUrl: pserver.url, httpVersion: "1.1", useBinaryFormat: true })],
  ["connect (h2c)", () => createConnectTransport({ baseUrl: pserver.url, httpVersion: "2" })],
  ["grpc (h2c)", () => createGrpcTransport({ baseUrl: pserver.url })],
  ["grpc-web (HTTP/1.1)", () => createGrpcWebTransport({ baseUrl: pserver.url, httpVersion: "1.1" })],
  ["grpc-web (h2c)", () => createGrpcWebTransport({ baseUrl: pserver.url, httpVersion: "2" })],
];

describe.each(transports)("Ping over %s", (_name, makeTransport) => {
  it("answers with the peer's name, version and clock", async () => {
    const client = createClient(PeerService, makeTransport());
    const before = Date.now();
    const res = await client.ping({ from: "test" });
    expect(res.peerName).toBe("alice");
    expect(res.version).toMatch(/^\d+\.\d+\.\d+/);
    const serverMs = Number(res.serverTime!.seconds) * 1000;
    expect(serverMs).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
  });
});

/** Sends one raw HTTP/1.1 request and returns status, headers and body text. */
function rawRequest(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${pserver.url}${path}`, { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("curl and raw HTTP against the Connect JSON endpoint", () => {
  it("curl gets a JSON Ping answer", async () => {
    const { stdout } = await execFileAsync("curl", [
      "--silent",
      "--show-error",
      "--max-time",
      "10",
      "-H",
      "Content-Type: application/json",
      "-d",
      '{"from":"curl"}',
      `${pserver.url}/p2p.v1.PeerService/Ping`,
    ]);
    const body = JSON.parse(stdout) as { peerName: string; version: string; serverTime: string };
    expect(body.peerName).toBe("alice");
    expect(new Date(body.serverTime).getTime()).toBeGreaterThan(0);
  });

  it("curl over h2c (--http2-prior-knowledge) gets the same answer", async () => {
    const { stdout } = await execFileAsync("curl", [
      "--silent",
      "--http2-prior-knowledge",
      "--max-time",
      "10",
      "-H",
      "Content-Type: application/json",
      "-d",
      "{}",
      `${pserver.url}/p2p.v1.PeerService/Ping`,
    ]);
    expect((JSON.parse(stdout) as { peerName: string }).peerName).toBe("alice");
  });

  const malformed: Array<[string, string, Record<string, string>, string | undefined, number, string]> = [
    ["bad JSON", "/p2p.v1.PeerService/Ping", { "Content-Type": "application/json" }, "{not json", 400, "invalid_argument"],
    ["a field of the wrong type", "/p2p.v1.PeerService/Ping", { "Content-Type": "application/json" }, '{"from":42}', 400, "invalid_argument"],
    ["an unknown method", "/p2p.v1.PeerService/Nope", { "Content-Type": "application/json" }, "{}", 404, ""],
    ["an unknown service", "/p2p.v9.Nothing/Ping", { "Content-Type": "application/json" }, "{}", 404, ""],
    ["a wrong content type", "/p2p.v1.PeerService/Ping", { "Content-Type": "text/plain" }, "{}", 415, ""],
  ];
  it.each(malformed)("%s gets a clean error and the server keeps serving", async (_n, path, headers, body, status, code) => {
    const res = await rawRequest("POST", path, headers, body);
    expect(res.status).toBe(status);
    if (code) expect((JSON.parse(res.body) as { code: string; message: string }).code).toBe(code);
    const after = await createClient(PeerService, createConnectTransport({ baseUrl: pserver.url, httpVersion: "1.1" })).ping({});
    expect(after.peerName).toBe("alice");
  });

  it("a connection that sends garbage bytes gets a 400 and others are unharmed", async () => {
    const net = await import("node:net");
    const reply = await new Promise<string>((resolve) => {
      let text = "";
      const socket = net.connect(pserver.port, "127.0.0.1", () => socket.write("\x00\x01\x02garbage\r\n\r\n"));
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => (text += chunk));
      socket.on("close", () => resolve(text));
      socket.on("error", () => resolve(text));
      socket.setTimeout(5_000, () => socket.destroy());
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    const after = await createClient(PeerService, createGrpcTransport({ baseUrl: pserver.url })).ping({});
    expect(after.peerName).toBe("alice");
  });
});

describe("CORS", () => {
  it("answers a preflight from a trusted origin and exposes the gRPC status headers", async () => {
    const res = await rawRequest("OPTIONS", "/p2p.v1.PeerService/Ping", {
      Origin: "http://tab.example",
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers": "content-type,connect-protocol-version",
    });
    expect(res.status).toBe(204);
    expect(res.headers["access-control-allow-origin"]).toBe("http://tab.example");
    expect(String(res.headers["access-control-allow-headers"])).toMatch(/Connect-Protocol-Version/i);
    const post = await rawRequest("POST", "/p2p.v1.PeerService/Ping", { Origin: "http://tab.example", "Content-Type": "application/json" }, "{}");
    expect(String(post.headers["access-control-expose-headers"])).toMatch(/Grpc-Status/i);
  });

  it("lets any origin call PeerService (a browser peer's page fetching pieces) but not ClientService", async () => {
    const peer = await rawRequest("OPTIONS", "/p2p.v1.PeerService/FetchPieces", {
      Origin: "http://other-pserver.example",
      "Access-Control-Request-Method": "POST",
    });
    expect(peer.status).toBe(204);
    expect(peer.headers["access-control-allow-origin"]).toBe("http://other-pserver.example");
    const client = await rawRequest("OPTIONS", "/p2p.v1.ClientService/ListFiles", {
      Origin: "http://other-pserver.example",
      "Access-Control-Request-Method": "POST",
    });
    expect(client.status).toBe(403);
    expect(client.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("refuses a preflight from an untrusted origin", async () => {
    const res = await rawRequest("OPTIONS", "/p2p.v1.ClientService/GetStatus", {
      Origin: "http://evil.example",
      "Access-Control-Request-Method": "POST",
    });
    expect(res.status).toBe(403);
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });
});
