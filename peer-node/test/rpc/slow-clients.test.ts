import http2 from "node:http2";
import net from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_RPC_MESSAGE_BYTES } from "../../src/constants.js";
import { PeerService } from "../../src/gen.js";
import { listenOnePort, type OnePortServer } from "../../src/index.js";
import { routes } from "../../src/rpc/connect.js";
import { makePing } from "../../src/rpc/ping.js";

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
// Short timeouts so slow clients are cut within a test's patience; production uses the constants.
const HEADERS_MS = 400;
const BODY_IDLE_MS = 400;
/** Longest any case waits for the server to cut a connection. */
const CUT_WAIT_MS = 10_000;

let server: OnePortServer;
beforeAll(async () => {
  const handler = connectNodeAdapter({
    routes: routes({ peer: { ping: makePing(() => "alice", logger) } }),
    acceptCompression: [],
    readMaxBytes: MAX_RPC_MESSAGE_BYTES,
  });
  server = await listenOnePort({ host: "127.0.0.1", port: 0, handler, logger, timeouts: { headersMs: HEADERS_MS, bodyIdleMs: BODY_IDLE_MS } });
});
afterAll(async () => {
  await server.close();
});

/** Opens a raw TCP connection, sends `bytes`, and resolves "closed" when the server closes it, or "open" after CUT_WAIT_MS. */
function sendAndWait(bytes: string): Promise<"closed" | "open"> {
  return new Promise((resolve) => {
    const socket = net.connect(server.port, "127.0.0.1", () => socket.write(bytes));
    socket.resume();
    const timer = setTimeout(() => {
      socket.destroy();
      resolve("open");
    }, CUT_WAIT_MS);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve("closed");
    });
    socket.on("error", () => undefined);
  });
}

describe("slow clients are cut, and the server keeps serving", () => {
  it("HTTP/1.1 headers that never finish", async () => {
    expect(await sendAndWait("POST /p2p.v1.PeerService/Ping HTTP/1.1\r\nHost: x\r\nContent-Type: appl")).toBe("closed");
  });

  it("an HTTP/1.1 body that never finishes", async () => {
    const head = "POST /p2p.v1.PeerService/Ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    expect(await sendAndWait(head)).toBe("closed");
  });

  it("an HTTP/2 stream whose body never ends", async () => {
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    session.on("error", () => undefined);
    const stream = session.request({ ":method": "POST", ":path": "/p2p.v1.PeerService/Ping", "content-type": "application/json" });
    stream.on("error", () => undefined);
    stream.write("{");
    const outcome = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve("open"), CUT_WAIT_MS);
      stream.on("close", () => {
        clearTimeout(timer);
        resolve(`closed ${stream.rstCode}`);
      });
    });
    session.destroy();
    expect(outcome).toBe(`closed ${http2.constants.NGHTTP2_CANCEL}`);
  });

  it("answers a gRPC message over the size limit with resource_exhausted, not a session reset", async () => {
    // The sender needs room for the message too: Node's 10 MB default would make the *client* reset.
    const client = createClient(PeerService, createGrpcTransport({ baseUrl: server.url, nodeOptions: { maxSessionMemory: 64 } }));
    const err = await client.ping({ from: "x".repeat(MAX_RPC_MESSAGE_BYTES + 1024 * 1024) }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.ResourceExhausted);
    expect(err?.rawMessage).toMatch(/larger than configured readMaxBytes/);
    expect((await client.ping({})).peerName).toBe("alice");
  });
});
