import { mkdir, utimes } from "node:fs/promises";
import http2 from "node:http2";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema, ErrorReason, PeerService } from "../../src/gen.js";
import { pserverRpcs } from "../../src/rpc/connect.js";
import { listenOnePort, type OnePortServer } from "../../src/rpc/one-port.js";
import { PeerServiceImpl } from "../../src/rpc/peer-service.js";
import { rpcHandler } from "../../src/rpc/rpc-handler.js";
import { SharedFolder } from "../../src/store/shared-folder.js";
import { tempDir, writeRandomFile } from "../store/helpers.js";
import { fakeRedeem } from "../transfer/helpers.js";
import { TAKE_EVERY_PUSH } from "../push/consent.js";

/** A protobuf field 1 (a string in PingRequest and FetchPiecesRequest) holding bytes that are not UTF-8. */
const INVALID_UTF8 = Buffer.from([0x0a, 0x04, 0x61, 0xff, 0xfe, 0x62]);
/** Field 1 announced as 50 bytes, 1 present. */
const TRUNCATED = Buffer.from([0x0a, 50, 0x61]);

const envelope = (data: Uint8Array, flags = 0) => {
  const out = Buffer.alloc(5 + data.length);
  out[0] = flags;
  out.writeUInt32BE(data.length, 1);
  out.set(data, 5);
  return out;
};

/** Splits a body of enveloped messages. */
function envelopes(body: Buffer): Array<{ flags: number; data: Buffer }> {
  const out: Array<{ flags: number; data: Buffer }> = [];
  for (let at = 0; at + 5 <= body.length; ) {
    const length = body.readUInt32BE(at + 1);
    out.push({ flags: body[at]!, data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

/** A raw gRPC call over HTTP/2: the status and message from its trailers (or headers, trailers-only). */
async function rawGrpc(url: string, path: string, body: Buffer): Promise<{ status: string | undefined; message: string }> {
  const session = http2.connect(url);
  try {
    return await new Promise((resolve, reject) => {
      const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc+proto", te: "trailers" });
      let headers: http2.IncomingHttpHeaders = {};
      req.on("response", (h) => (headers = h));
      req.on("trailers", (t) => (headers = { ...headers, ...t }));
      req.on("data", () => undefined);
      req.on("end", () => resolve({ status: headers["grpc-status"] as string | undefined, message: decodeURIComponent(String(headers["grpc-message"] ?? "")) }));
      req.on("error", reject);
      req.end(body);
    });
  } finally {
    session.close();
  }
}

/** One parsed pino record. */
interface LogEntry {
  level: number;
  msg: string;
  rpc?: string;
  reason?: string;
  err?: { message: string };
}

/** A pino logger at `level` whose records are parsed into `entries`. */
function loggerInto(entries: LogEntry[], level: string) {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) entries.push(JSON.parse(line) as LogEntry);
      done();
    },
  });
  return pino({ level }, sink);
}

/** A pserver's PeerService, served as the pserver serves it (pserverRpcs is connect.ts's use of rpcHandler), sharing one random file. */
async function servePeer(fileName: string, size: number, logger: ReturnType<typeof loggerInto>) {
  const root = await tempDir();
  await mkdir(join(root.dir, "shared"));
  const { contentId } = await writeRandomFile(join(root.dir, "shared", fileName), size);
  const old = new Date(Date.now() - 10_000);
  await utimes(join(root.dir, "shared", fileName), old, old);
  const store = await SharedFolder.open({ folder: join(root.dir, "shared"), dataDir: join(root.dir, "data"), logger });
  const service = new PeerServiceImpl({ store, redeemTicket: fakeRedeem(new Map()), peerName: () => "alice", logger, pushConsent: TAKE_EVERY_PUSH });
  const server = await listenOnePort({ host: "127.0.0.1", port: 0, handler: pserverRpcs({ peer: service }, logger), logger });
  return {
    contentId,
    url: server.url,
    async close() {
      await server.close();
      await store.close();
      await root.cleanup();
    },
  };
}

describe("rpcHandler: a request message that is not valid protobuf binary", () => {
  let peer: Awaited<ReturnType<typeof servePeer>> | undefined;
  let server: { url: string };
  let contentId: string;
  const logged: LogEntry[] = [];
  const warnings = () => logged.filter((entry) => entry.level === 40);

  beforeAll(async () => {
    peer = await servePeer("song.bin", 3 * 1024 * 1024 + 5, loggerInto(logged, "warn"));
    server = peer;
    contentId = peer.contentId;
  });

  afterAll(async () => {
    await peer?.close();
  });

  it("is invalid_argument (HTTP 400) in a unary Connect call, not internal, with a warning", async () => {
    for (const body of [INVALID_UTF8, TRUNCATED]) {
      const before = warnings().length;
      const res = await fetch(`${server.url}/p2p.v1.PeerService/Ping`, { method: "POST", headers: { "content-type": "application/proto" }, body });
      expect(res.status).toBe(400);
      const json = (await res.json()) as { code: string; message: string };
      expect(json.code).toBe("invalid_argument");
      expect(json.message).toMatch(/not valid protobuf binary/);
      expect(warnings().length).toBe(before + 1);
      expect(warnings().at(-1)).toMatchObject({ rpc: "p2p.v1.PeerService/Ping", msg: expect.stringMatching(/not valid protobuf binary/) });
    }
  });

  it("is grpc-status 3 over gRPC, unary and server-streaming", async () => {
    for (const [path, body] of [
      ["/p2p.v1.PeerService/Ping", INVALID_UTF8],
      ["/p2p.v1.PeerService/Ping", TRUNCATED],
      ["/p2p.v1.PeerService/GetManifest", INVALID_UTF8],
    ] as const) {
      const answer = await rawGrpc(server.url, path, envelope(body));
      expect(answer, path).toMatchObject({ status: "3", message: expect.stringMatching(/not valid protobuf binary/) });
    }
  });

  it("is grpc-status 3 in the gRPC-Web trailer message", async () => {
    const res = await fetch(`${server.url}/p2p.v1.PeerService/Ping`, { method: "POST", headers: { "content-type": "application/grpc-web+proto" }, body: envelope(INVALID_UTF8) });
    expect(res.status).toBe(200);
    const messages = envelopes(Buffer.from(await res.arrayBuffer()));
    const trailer = messages.at(-1)!;
    expect(trailer.flags & 0x80).toBe(0x80);
    expect(trailer.data.toString()).toMatch(/grpc-status: 3\r\n/);
    expect(decodeURIComponent(trailer.data.toString())).toMatch(/not valid protobuf binary/);
  });

  it("is invalid_argument in the end-stream message of a Connect stream", async () => {
    const res = await fetch(`${server.url}/p2p.v1.PeerService/FetchPieces`, { method: "POST", headers: { "content-type": "application/connect+proto" }, body: envelope(INVALID_UTF8) });
    expect(res.status).toBe(200);
    const end = envelopes(Buffer.from(await res.arrayBuffer())).at(-1)!;
    expect(end.flags & 0x02).toBe(0x02);
    expect(JSON.parse(end.data.toString())).toMatchObject({ error: { code: "invalid_argument", message: expect.stringMatching(/not valid protobuf binary/) } });
  });

  it("leaves every well-formed call alone, on every protocol, streams included", async () => {
    const transports = [
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
      createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1" }),
      createGrpcTransport({ baseUrl: server.url }),
    ];
    for (const transport of transports) {
      const client = createClient(PeerService, transport);
      expect((await client.ping({ from: "test" })).peerName).toBe("alice");
      const got: number[] = [];
      for await (const piece of client.fetchPieces({ contentId, pieceIndexes: [3, 0] })) got.push(piece.pieceIndex, piece.data.length);
      expect(got).toEqual([3, 5, 0, 1024 * 1024]);
      // A real error of the service keeps its code.
      await expect(client.getManifest({ contentId: `m1_${"e".repeat(64)}` })).rejects.toMatchObject({ code: 5 });
    }
  });
});

describe("rpcHandler: an error no service expected", () => {
  let server: OnePortServer;
  const logged: LogEntry[] = [];
  const SECRET = "ENOENT: no such file, open '/home/alice/.secret/state.json'";

  beforeAll(async () => {
    const logger = loggerInto(logged, "error");
    // Services throwing what a bug would: a raw error before the answer, and one in the middle of a stream.
    const handler = rpcHandler({
      logger,
      routes: (router) =>
        router.service(PeerService, {
          ping() {
            throw new Error(SECRET);
          },
          async *fetchPieces() {
            yield { pieceIndex: 0, data: new Uint8Array([1, 2, 3]) };
            throw new Error(SECRET);
          },
        }),
    });
    server = await listenOnePort({ host: "127.0.0.1", port: 0, handler, logger });
  });

  afterAll(async () => {
    await server?.close();
  });

  const transports = {
    "connect-json": (url: string) => createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
    "connect-binary": (url: string) => createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: true }),
    "grpc-web": (url: string) => createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
    grpc: (url: string) => createGrpcTransport({ baseUrl: url }),
  };

  it.each(Object.keys(transports) as Array<keyof typeof transports>)("is Internal Server Error with reason INTERNAL over %s, logged, never leaked", async (name) => {
    const client = createClient(PeerService, transports[name](server.url));
    const before = logged.length;
    const unary = await client.ping({}).then(() => undefined, (e: unknown) => ConnectError.from(e));
    const received: number[] = [];
    const streamed = await (async () => {
      for await (const piece of client.fetchPieces({ contentId: `m1_${"a".repeat(64)}`, pieceIndexes: [0] })) received.push(piece.pieceIndex);
    })().then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(received).toEqual([0]);
    for (const err of [unary, streamed]) {
      expect(err?.code).toBe(Code.Internal);
      expect(err?.rawMessage).toBe("Internal Server Error");
      expect(err?.findDetails(ErrorDetailSchema)[0]?.reason).toBe(ErrorReason.INTERNAL);
    }
    expect(logged.slice(before).map((l) => [l.rpc, l.err?.message])).toEqual([
      ["p2p.v1.PeerService/Ping", SECRET],
      ["p2p.v1.PeerService/FetchPieces", SECRET],
    ]);
  });
});

describe("a caller that leaves in the middle of a FetchPieces stream", () => {
  let peer: Awaited<ReturnType<typeof servePeer>> | undefined;
  let server: { url: string };
  let contentId: string;
  const logged: LogEntry[] = [];
  const PIECES = 48;

  beforeAll(async () => {
    // Longer than any socket buffer, so the caller leaves while the stream is still being written.
    peer = await servePeer("film.bin", PIECES * 1024 * 1024, loggerInto(logged, "debug"));
    server = peer;
    contentId = peer.contentId;
  });

  afterAll(async () => {
    await peer?.close();
  });

  const transports = {
    "Connect over HTTP/1.1": (url: string) => createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: true }),
    "gRPC-Web over HTTP/1.1": (url: string) => createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
    "gRPC over HTTP/2": (url: string) => createGrpcTransport({ baseUrl: url }),
  };

  it.each(Object.keys(transports) as Array<keyof typeof transports>)("is no warning or error of the pserver's, over %s", async (name) => {
    const client = createClient(PeerService, transports[name](server.url));
    const before = logged.length;
    const abort = new AbortController();
    let received = 0;
    const all = Array.from({ length: PIECES }, (_, i) => i);
    await (async () => {
      for await (const _ of client.fetchPieces({ contentId, pieceIndexes: all }, { signal: abort.signal })) if (++received === 2) abort.abort();
    })().catch(() => undefined);
    expect(received).toBe(2);
    // The pserver notices when its next write fails or the stream closes; give it a moment (bounded).
    await new Promise((r) => setTimeout(r, 300));
    expect(logged.slice(before).filter((l) => l.level >= 40)).toEqual([]);
    // And the stream's slot is free again: a whole fetch on the same pserver still works.
    const again: number[] = [];
    for await (const piece of client.fetchPieces({ contentId, pieceIndexes: [PIECES - 1] })) again.push(piece.data.length);
    expect(again).toEqual([1024 * 1024]);
  });
});
