// FetchPieces read straight into ring slots: against a real serving peer (pieces, errors, waiting for
// slots, abort) and against a hand-written HTTP/2 server on port 0 that breaks the gRPC framing in the
// ways a foreign or broken holder could.
import http2 from "node:http2";
import type net from "node:net";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Http2SessionManager } from "@connectrpc/connect-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FetchPiecesResponseSchema } from "../../src/gen.js";
import { PeerClients } from "../../src/pieces/peer-clients.js";
import { PieceRing } from "../../src/pieces/piece-ring.js";
import { fetchPiecesIntoRing, type ReceivedPiece, type StreamOpener } from "../../src/pieces/receive-pieces.js";
import { logger, tempDir, writeRandomFile } from "../store/helpers.js";
import { TEST_PIECE_BYTES, startTestPeer } from "../transfer/helpers.js";

let root: string;
let cleanup: () => Promise<void>;
const closers: Array<() => Promise<void> | void> = [];
let peers: PeerClients;

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
  peers = new PeerClients({ logger });
});
afterEach(async () => {
  peers.close();
  for (const c of closers.splice(0).reverse()) await c();
  await cleanup();
});

/** Runs one FetchPieces call, copying each piece out and releasing its slot after `holdMs`. */
async function fetchAll(address: string, contentId: string, pieceIndexes: number[], ring: PieceRing, opts: { holdMs?: number; signal?: AbortSignal } = {}) {
  const got = new Map<number, Buffer>();
  const waits: boolean[] = [];
  await peers.fetchPieces(
    address,
    { contentId, pieceIndexes },
    {
      ring,
      signal: opts.signal ?? AbortSignal.timeout(10_000),
      onPiece: (p: ReceivedPiece) => {
        got.set(p.pieceIndex, Buffer.from(p.slot.bytes.subarray(p.offset, p.offset + p.length)));
        if (opts.holdMs) setTimeout(() => p.slot.release(), opts.holdMs);
        else p.slot.release();
        return true;
      },
      onWaiting: (w) => waits.push(w),
    },
  );
  return { got, waits };
}

describe("FetchPieces into a ring, from a real serving peer", () => {
  let address: string;
  let file: { bytes: Buffer; contentId: string };

  beforeEach(async () => {
    const { mkdir, utimes } = await import("node:fs/promises");
    await mkdir(join(root, "holder", "shared"), { recursive: true });
    const path = join(root, "holder", "shared", "data.bin");
    file = await writeRandomFile(path, 10 * TEST_PIECE_BYTES + 123);
    await utimes(path, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
    const holder = await startTestPeer({ name: "holder", root });
    closers.push(() => holder.close());
    address = holder.address;
  });

  const piece = (i: number) => file.bytes.subarray(i * TEST_PIECE_BYTES, Math.min(file.bytes.length, (i + 1) * TEST_PIECE_BYTES));

  it("receives the asked pieces byte for byte, the short last one too, and gives every slot back", async () => {
    const ring = new PieceRing(4, TEST_PIECE_BYTES + 1024);
    const { got } = await fetchAll(address, file.contentId, [10, 0, 3], ring);
    expect([...got.keys()]).toEqual([10, 0, 3]);
    for (const [i, bytes] of got) expect(bytes.equals(piece(i))).toBe(true);
    expect(got.get(10)!.length).toBe(123);
    expect(ring.freeCount).toBe(4);
  });

  it("gets the right bytes from concurrent calls, while the holder reuses its piece buffers", async () => {
    const all = Array.from({ length: 11 }, (_, i) => i);
    for (let round = 0; round < 2; round++) {
      const orders = [all, [...all].reverse(), all.map((_, k) => (k * 5) % 11)];
      const results = await Promise.all(orders.map((order) => fetchAll(address, file.contentId, order, new PieceRing(3, TEST_PIECE_BYTES + 1024))));
      for (const { got } of results) {
        expect(got.size).toBe(11);
        for (const [i, bytes] of got) expect(bytes.equals(piece(i))).toBe(true);
      }
    }
  });

  it("waits for a free slot (reporting it) when the receiver holds every slot, then completes", async () => {
    const ring = new PieceRing(2, TEST_PIECE_BYTES + 1024);
    const all = Array.from({ length: 11 }, (_, i) => i);
    const { got, waits } = await fetchAll(address, file.contentId, all, ring, { holdMs: 30 });
    expect(got.size).toBe(11);
    for (const [i, bytes] of got) expect(bytes.equals(piece(i))).toBe(true);
    expect(waits.filter((w) => w).length).toBeGreaterThan(0);
    expect(waits.filter((w) => w).length).toBe(waits.filter((w) => !w).length);
    await new Promise((r) => setTimeout(r, 60));
    expect(ring.freeCount).toBe(2);
  });

  it("passes the holder's errors on as their Connect codes", async () => {
    const ring = new PieceRing(2, TEST_PIECE_BYTES + 1024);
    const notHeld = `m1_${"ab".repeat(32)}`;
    await expect(fetchAll(address, notHeld, [0], ring)).rejects.toMatchObject({ code: Code.NotFound });
    await expect(fetchAll(address, file.contentId, [99], ring)).rejects.toMatchObject({ code: Code.InvalidArgument, rawMessage: expect.stringContaining("past the end") });
    expect(ring.freeCount).toBe(2);
  });

  it("rejects with the abort reason when aborted mid-stream, and frees the slot it was filling", async () => {
    const ring = new PieceRing(2, TEST_PIECE_BYTES + 1024);
    const controller = new AbortController();
    const reason = new Error("cancelled by the test");
    const all = Array.from({ length: 11 }, (_, i) => i);
    const run = peers.fetchPieces(
      address,
      { contentId: file.contentId, pieceIndexes: all },
      {
        ring,
        signal: controller.signal,
        onPiece: (p) => {
          p.slot.release();
          if (p.pieceIndex === 2) controller.abort(reason);
          return true;
        },
      },
    );
    await expect(run).rejects.toBe(reason);
    expect(ring.freeCount).toBe(2);
  });
});

/** A holder that answers FetchPieces with whatever `answer` writes. */
async function fakeHolder(answer: (stream: http2.ServerHttp2Stream) => void): Promise<string> {
  const server = http2.createServer();
  server.on("stream", (stream) => {
    stream.on("error", () => undefined);
    stream.resume();
    answer(stream);
  });
  server.on("session", (s) => s.on("error", () => undefined));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        setTimeout(resolve, 500).unref();
      }),
  );
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

/** A gRPC message frame: flags, big-endian length, bytes. */
function frame(message: Uint8Array, flags = 0): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = flags;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

const pieceMessage = (pieceIndex: number, data: Uint8Array) => toBinary(FetchPiecesResponseSchema, create(FetchPiecesResponseSchema, { pieceIndex, data }));
const grpcHeaders = { ":status": 200, "content-type": "application/grpc+proto" };

/** A holder's answer: piece `pieceIndex` of `data`, one byte per DATA frame, then status OK. */
const oneBytePerFrame = (pieceIndex: number, data: Uint8Array) => (s: http2.ServerHttp2Stream) => {
  s.respond(grpcHeaders, { waitForTrailers: true });
  s.on("wantTrailers", () => s.sendTrailers({ "grpc-status": "0" }));
  const bytes = frame(pieceMessage(pieceIndex, data));
  let at = 0;
  const next = () => {
    if (at === bytes.length) return void s.end();
    s.write(bytes.subarray(at, at + 1), next);
    at++;
  };
  next();
};

describe("FetchPieces into a ring, from a holder that breaks the framing", () => {
  const ring = () => new PieceRing(2, 4096);
  const id = `m1_${"cd".repeat(32)}`;

  it("puts together a message that arrives one byte per DATA frame", async () => {
    const data = Buffer.alloc(3000, 7);
    const address = await fakeHolder(oneBytePerFrame(4, data));
    const r = ring();
    const { got } = await fetchAll(address, id, [4], r);
    expect(got.get(4)!.equals(data)).toBe(true);
    expect(r.freeCount).toBe(2);
  });

  it("tells the session pool its connection is alive when bytes arrive, not on every chunk", async () => {
    // The pool restarts its keepalive ping timer on each notice: thousands of tiny DATA frames must not
    // mean thousands of timers, and a call whose bytes arrive must still count as alive.
    const data = Buffer.alloc(3000, 5);
    const address = await fakeHolder(oneBytePerFrame(2, data));
    const sessions = new Http2SessionManager(address);
    closers.push(() => sessions.abort());
    let notices = 0;
    const opener: StreamOpener = {
      request: (method, path, headers, options) => sessions.request(method, path, headers, options),
      notifyResponseByteRead: (stream) => {
        notices++;
        sessions.notifyResponseByteRead(stream);
      },
    };
    const started = Date.now();
    let got: Buffer | undefined;
    await fetchPiecesIntoRing(opener, { contentId: id, pieceIndexes: [2] }, {
      ring: ring(),
      signal: AbortSignal.timeout(10_000),
      onPiece: (p) => {
        got = Buffer.from(p.slot.bytes.subarray(p.offset, p.offset + p.length));
        p.slot.release();
        return true;
      },
    });
    expect(got?.equals(data)).toBe(true);
    expect(notices).toBeGreaterThanOrEqual(1);
    expect(notices).toBeLessThanOrEqual(2 + (Date.now() - started) / 100);
  });

  const cases: Array<{ name: string; answer: (s: http2.ServerHttp2Stream) => void; expected: (err: unknown) => void }> = [
    {
      name: "a message larger than a slot",
      answer: (s) => {
        s.respond(grpcHeaders);
        s.end(frame(pieceMessage(0, Buffer.alloc(5000))));
      },
      expected: (err) => expect(err).toMatchObject({ code: "data_loss", reason: "PEER_MISBEHAVED" }),
    },
    {
      name: "a compressed message nobody asked for",
      answer: (s) => {
        s.respond(grpcHeaders);
        s.end(frame(pieceMessage(0, Buffer.alloc(10)), 1));
      },
      expected: (err) => expect(err).toMatchObject({ code: "data_loss", reason: "PEER_MISBEHAVED" }),
    },
    {
      name: "bytes that are not a FetchPiecesResponse",
      answer: (s) => {
        s.respond(grpcHeaders);
        s.end(frame(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])));
      },
      expected: (err) => expect(err).toMatchObject({ code: "data_loss", reason: "PEER_MISBEHAVED" }),
    },
    {
      name: "a piece whose length runs past the end of its message",
      answer: (s) => {
        s.respond(grpcHeaders);
        // piece_index 0, then data claiming 200 bytes of which the message holds 100.
        s.end(frame(Buffer.concat([Buffer.from([0x08, 0x00, 0x12, 0xc8, 0x01]), Buffer.alloc(100)])));
      },
      expected: (err) => {
        expect(err).toMatchObject({ code: "data_loss", reason: "PEER_MISBEHAVED" });
        expect((err as Error).message).toContain("runs 100 bytes past the message's end");
      },
    },
    {
      name: "a message without the piece's bytes",
      answer: (s) => {
        s.respond(grpcHeaders);
        s.end(frame(Buffer.from([0x08, 0x00])));
      },
      expected: (err) => {
        expect(err).toMatchObject({ code: "data_loss", reason: "PEER_MISBEHAVED" });
        expect((err as Error).message).toContain("no piece bytes");
      },
    },
    {
      name: "a stream that ends inside a message",
      answer: (s) => {
        s.respond(grpcHeaders, { waitForTrailers: true });
        s.on("wantTrailers", () => s.sendTrailers({ "grpc-status": "0" }));
        s.end(frame(pieceMessage(0, Buffer.alloc(100))).subarray(0, 50));
      },
      expected: (err) => expect(err).toMatchObject({ code: Code.Internal }),
    },
    {
      name: "no grpc-status at the end",
      answer: (s) => {
        s.respond(grpcHeaders);
        s.end(frame(pieceMessage(0, Buffer.alloc(100))));
      },
      expected: (err) => expect(err).toBeInstanceOf(ConnectError),
    },
    {
      name: "an error status in the trailers",
      answer: (s) => {
        s.respond(grpcHeaders, { waitForTrailers: true });
        s.on("wantTrailers", () => s.sendTrailers({ "grpc-status": String(Code.ResourceExhausted), "grpc-message": "too%20many%20streams" }));
        s.end();
      },
      expected: (err) => expect(err).toMatchObject({ code: Code.ResourceExhausted, rawMessage: "too many streams" }),
    },
    {
      name: "an HTTP error instead of gRPC",
      answer: (s) => {
        s.respond({ ":status": 503, "content-type": "text/plain" });
        s.end("busy");
      },
      expected: (err) => expect(err).toMatchObject({ code: Code.Unavailable }),
    },
    {
      name: "a holder that hangs up in the middle of a message",
      answer: (s) => {
        s.respond(grpcHeaders);
        s.write(frame(pieceMessage(0, Buffer.alloc(100))).subarray(0, 50), () => s.session?.destroy());
      },
      // Node reports the session's end to the client as a CANCEL reset (connect-node maps it to Canceled).
      expected: (err) => expect(err).toMatchObject({ code: Code.Canceled }),
    },
  ];

  it.each(cases)("fails clearly on $name, with every slot given back", async ({ answer, expected }) => {
    const address = await fakeHolder(answer);
    const r = ring();
    const err = await fetchAll(address, id, [0], r).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeDefined();
    expected(err);
    expect(r.freeCount).toBe(2);
  });
});
