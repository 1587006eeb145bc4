import { mkdir, readFile, readdir, utimes } from "node:fs/promises";
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UPLOAD_BURST_MS } from "../../src/constants.js";
import { PeerError } from "../../src/errors.js";
import { reasonOf } from "../../src/rpc/error-mapping.js";
import { PeerService, PushFileRequestSchema, type PushFileRequest } from "../../src/gen.js";
import { pserverRpcs } from "../../src/rpc/connect.js";
import { listenOnePort, type OnePortServer } from "../../src/rpc/one-port.js";
import { PeerServiceImpl } from "../../src/rpc/peer-service.js";
import { SharedFolder } from "../../src/store/shared-folder.js";
import { PeerClients } from "../../src/pieces/peer-clients.js";
import { FilePusher } from "../../src/push/send.js";
import { RateLimiter } from "../../src/transfer/rate-limiter.js";
import { TransferRegistry } from "../../src/transfer/transfer.js";
import { manifestToProto } from "../../src/pieces/manifest-wire.js";
import { logger, tempDir, waitFor, writeRandomFile } from "../store/helpers.js";
import { TEST_PIECE_BYTES, fakeRedeem, startTestPeer, type TestPeer } from "../transfer/helpers.js";
import { TAKE_EVERY_PUSH } from "../push/consent.js";

let root: string;
let cleanup: () => Promise<void>;
const closers: Array<() => Promise<void> | void> = [];

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cleanup();
});

/** Puts a random file in <root>/<peer>/shared before the peer starts. */
async function seedFile(peer: string, name: string, size: number) {
  await mkdir(join(root, peer, "shared"), { recursive: true });
  const path = join(root, peer, "shared", name);
  const f = await writeRandomFile(path, size);
  await utimes(path, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
  return f;
}

const noKeepAlive = new http.Agent({ keepAlive: false });

describe("PeerService over the one-port server", () => {
  let server: OnePortServer;
  let store: SharedFolder;
  let file: { bytes: Buffer; contentId: string };
  let sessions: Http2SessionManager;

  beforeEach(async () => {
    file = await seedFile("alice", "song.mp3", 5 * TEST_PIECE_BYTES + 17);
    store = await SharedFolder.open({ folder: join(root, "alice", "shared"), dataDir: join(root, "alice", "data"), logger });
    const service = new PeerServiceImpl({ store, redeemTicket: fakeRedeem(new Map()), peerName: () => "alice", logger, pushConsent: TAKE_EVERY_PUSH });
    server = await listenOnePort({ host: "127.0.0.1", port: 0, handler: pserverRpcs({ peer: service }, logger), logger });
    sessions = new Http2SessionManager(server.url);
    closers.push(async () => {
      // Our HTTP/2 session would otherwise hold the server's graceful close for its whole grace period.
      sessions.abort();
      await server.close();
      await store.close();
    });
  });

  const transports: Array<[string, () => Transport]> = [
    ["grpc (h2c)", () => createGrpcTransport({ baseUrl: server.url, sessionManager: sessions })],
    // No keep-alive: an idle HTTP/1.1 connection would hold the server's close for its grace period.
    ["grpc-web (HTTP/1.1)", () => createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1", nodeOptions: { agent: noKeepAlive } })],
    [
      "connect (HTTP/1.1, binary)",
      () => createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", useBinaryFormat: true, nodeOptions: { agent: noKeepAlive } }),
    ],
  ];

  describe.each(transports)("%s", (_name, transport) => {
    it("serves the manifest and the asked pieces, in the asked order, byte for byte", async () => {
      const client = createClient(PeerService, transport());
      const { manifest } = await client.getManifest({ contentId: file.contentId });
      expect(manifest?.contentId).toBe(file.contentId);
      expect(manifest?.name).toBe("song.mp3");
      expect(manifest?.size).toBe(BigInt(file.bytes.length));
      expect(manifest?.pieceHashes).toHaveLength(6);
      const got: Array<[number, Buffer]> = [];
      for await (const res of client.fetchPieces({ contentId: file.contentId, pieceIndexes: [5, 0, 3] })) {
        got.push([res.pieceIndex, Buffer.from(res.data)]);
      }
      expect(got.map(([i]) => i)).toEqual([5, 0, 3]);
      for (const [i, data] of got) {
        expect(data.equals(file.bytes.subarray(i * TEST_PIECE_BYTES, (i + 1) * TEST_PIECE_BYTES))).toBe(true);
      }
    });
  });

  // gRPC-Web's refusals too: send-pieces.ts serves its FetchPieces, with the status in the headers
  // (nothing sent yet) or in a trailer message.
  it.each(transports.slice(0, 2))("refuses what it must, with precise codes (%s)", async (_name, transport) => {
    const client = createClient(PeerService, transport());
    const fetchAll = async (contentId: string, pieceIndexes: number[]) => {
      for await (const _ of client.fetchPieces({ contentId, pieceIndexes })) void _;
    };
    const codeOf = (p: Promise<unknown>) => p.then(() => "ok", (e: unknown) => ConnectError.from(e).code);
    expect(await codeOf(client.getManifest({ contentId: `m1_${"f".repeat(64)}` }))).toBe(Code.NotFound);
    expect(await codeOf(client.getManifest({ contentId: "../../etc/passwd" }))).toBe(Code.InvalidArgument);
    expect(await codeOf(fetchAll(`m1_${"f".repeat(64)}`, [0]))).toBe(Code.NotFound);
    expect(await codeOf(fetchAll(file.contentId, [6]))).toBe(Code.InvalidArgument);
    expect(await codeOf(fetchAll(file.contentId, [1, 1]))).toBe(Code.InvalidArgument);
    expect(await codeOf(fetchAll(file.contentId, Array.from({ length: 65 }, (_, i) => i)))).toBe(Code.InvalidArgument);
    const err = await fetchAll(file.contentId, [6]).catch((e: unknown) => ConnectError.from(e));
    expect(err?.rawMessage).toBe("Piece 6 is past the end of the file (it has 6 pieces).");
  });

  it("answers a gRPC FetchPieces body that is not one plain request message with InvalidArgument, and keeps serving", async () => {
    const envelope = (flags: number, message: Buffer) => Buffer.concat([Buffer.from([flags, 0, 0, 0, 0]), message]).fill(message.length, 4, 5);
    const bodies: Array<[string, Buffer]> = [
      ["not protobuf", envelope(0, Buffer.from([0xff, 0xff, 0xff]))],
      ["flagged compressed", envelope(1, Buffer.from([0x0a, 0x00]))],
      ["a cut envelope", Buffer.from([0, 0, 0, 0, 9, 1])],
      ["no message at all", Buffer.alloc(0)],
    ];
    for (const [what, body] of bodies) {
      const session = http2.connect(server.url);
      const status = await new Promise<string | undefined>((resolve, reject) => {
        const req = session.request({ ":method": "POST", ":path": "/p2p.v1.PeerService/FetchPieces", "content-type": "application/grpc", te: "trailers" });
        let got: string | undefined;
        req.on("response", (h) => (got ??= h["grpc-status"] as string | undefined));
        req.on("trailers", (t) => (got ??= t["grpc-status"] as string | undefined));
        req.on("error", reject);
        req.on("close", () => resolve(got));
        req.resume();
        req.end(body);
      });
      session.close();
      expect([what, status]).toEqual([what, String(Code.InvalidArgument)]);
    }
    const client = createClient(PeerService, createGrpcTransport({ baseUrl: server.url, sessionManager: sessions }));
    const pieces: number[] = [];
    for await (const res of client.fetchPieces({ contentId: file.contentId, pieceIndexes: [1] })) pieces.push(res.pieceIndex);
    expect(pieces).toEqual([1]);
  });
});

describe("PeerService limits", () => {
  it("caps concurrent streams per remote address (ResourceExhausted)", async () => {
    const f = await seedFile("alice", "a.bin", 40 * TEST_PIECE_BYTES);
    const peer = await startTestPeer({ name: "alice", root, limits: { streamsPerRemote: 1, uploadBytesPerSecond: 200_000 } });
    closers.push(() => peer.close());
    const client = createClient(PeerService, createGrpcTransport({ baseUrl: peer.address }));
    const slow = client.fetchPieces({ contentId: f.contentId, pieceIndexes: Array.from({ length: 40 }, (_, i) => i) });
    const it1 = slow[Symbol.asyncIterator]();
    expect((await it1.next()).done).toBe(false); // first stream open and sending
    const second = await (async () => {
      for await (const _ of client.fetchPieces({ contentId: f.contentId, pieceIndexes: [0] })) void _;
    })().then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(second?.code).toBe(Code.ResourceExhausted);
    await it1.return?.();
  });
});

describe("PeerService stalled readers", () => {
  it("ends a FetchPieces stream whose reader stops reading, and frees its slot", async () => {
    const f = await seedFile("alice", "a.bin", 40 * TEST_PIECE_BYTES);
    const peer = await startTestPeer({ name: "alice", root, limits: { streamsPerRemote: 1, streamIdleTimeoutMs: 300 } });
    closers.push(() => peer.close());
    // Small HTTP/2 windows, so the server blocks as soon as we stop reading.
    const sessions = new Http2SessionManager(peer.address, {}, { settings: { initialWindowSize: 65_535 } });
    closers.push(() => sessions.abort());
    const client = createClient(PeerService, createGrpcTransport({ baseUrl: peer.address, sessionManager: sessions }));
    const stalled = client.fetchPieces({ contentId: f.contentId, pieceIndexes: Array.from({ length: 40 }, (_, i) => i) })[Symbol.asyncIterator]();
    expect((await stalled.next()).done).toBe(false);
    // ...and read no more. The only slot frees up once the server gives up on us.
    const second = await waitFor(
      async () => {
        try {
          const got: number[] = [];
          for await (const r of client.fetchPieces({ contentId: f.contentId, pieceIndexes: [3] })) got.push(r.pieceIndex);
          return got;
        } catch (e) {
          expect(ConnectError.from(e).code).toBe(Code.ResourceExhausted);
          return undefined;
        }
      },
      "the stalled stream's slot to be freed",
      10_000,
      100,
    );
    expect(second).toEqual([3]);
    let ended: unknown;
    try {
      for (let k = 0; k < 50; k++) if ((await stalled.next()).done) break;
    } catch (e) {
      ended = e;
    }
    expect(ConnectError.from(ended).code).toBe(Code.Canceled);
  });
});

describe("PushFile", () => {
  let alice: TestPeer;
  let bob: TestPeer;
  let file: { bytes: Buffer; contentId: string };
  let clients: PeerClients;
  let registry: TransferRegistry;
  let pusher: FilePusher;
  const sizes = new Map<string, number>();

  beforeEach(async () => {
    file = await seedFile("alice", "movie.bin", 20 * TEST_PIECE_BYTES + 3);
    sizes.set(file.contentId, file.bytes.length);
    alice = await startTestPeer({ name: "alice", root });
    closers.push(() => alice.close());
    clients = new PeerClients({ logger });
    closers.push(() => clients.close());
    registry = new TransferRegistry();
    pusher = new FilePusher({ store: alice.store, registry, peers: clients, logger, selfName: "alice" });
  });

  async function startBob(extra: Partial<Parameters<typeof startTestPeer>[0]> = {}) {
    bob = await startTestPeer({ name: "bob", root, redeemTicket: fakeRedeem(sizes, "alice"), ...extra });
    closers.push(() => bob.close());
    return { name: "bob", address: bob.address };
  }

  const bobFiles = async () => (await readdir(join(root, "bob", "shared"))).filter((n) => !n.startsWith(".")).sort();
  const bobPartials = async () => readdir(bob.store.partialDir.path);

  it("delivers identical bytes, under a unique name when the name is taken", async () => {
    await seedFile("bob", "movie.bin", 1000); // a different file with the same name
    const target = await startBob();
    const t = pusher.push(file.contentId, target, "good-ticket");
    const end = await t.done;
    expect(end.error).toBe("");
    expect(end.state).toBe("completed");
    expect(end.kind).toBe("upload");
    expect(end.targetPeer).toBe("bob");
    expect(end.bytesDone).toBe(file.bytes.length);
    expect(await bobFiles()).toEqual(["movie (1).bin", "movie.bin"]);
    expect((await readFile(join(root, "bob", "shared", "movie (1).bin"))).equals(file.bytes)).toBe(true);
    expect(bob.store.get(file.contentId)?.name).toBe("movie (1).bin");
    expect(await bobPartials()).toEqual([]);

    // Pushing content the receiver already holds stores nothing new.
    const again = await pusher.push(file.contentId, target, "good-ticket").done;
    expect(again.state).toBe("completed");
    expect(await bobFiles()).toEqual(["movie (1).bin", "movie.bin"]);
  });

  it("paces a push by the pserver's upload cap, shared with what it serves, and waiting for it is no stall", async () => {
    const target = await startBob();
    const rate = 1_000_000;
    const limiter = new RateLimiter(rate, UPLOAD_BURST_MS);
    // Pieces being served take the first 0.6 s of the cap: the push's first piece waits longer than the
    // push's stall timeout, which must not count that wait.
    const serving = limiter.take(600_000);
    const capped = new FilePusher({ store: alice.store, registry, peers: clients, logger, selfName: "alice", uploadLimiter: limiter, options: { stallTimeoutMs: 200 } });
    const started = performance.now();
    const end = await capped.push(file.contentId, target, "good-ticket").done;
    const seconds = (performance.now() - started) / 1000;
    await serving;
    expect(end.error).toBe("");
    expect(end.state).toBe("completed");
    expect((await readFile(join(root, "bob", "shared", "movie.bin"))).equals(file.bytes)).toBe(true);
    // A lower bound only: the cap may not be beaten, however fast the machine.
    expect(seconds).toBeGreaterThanOrEqual((600_000 + file.bytes.length) / rate - UPLOAD_BURST_MS / 1000 - 0.05);
  });

  it("under a cap so low that one piece takes longer than the receiver's idle timeout, a push still completes: pieces go in parts", async () => {
    const small = await seedFile("alice", "slow.bin", 2 * TEST_PIECE_BYTES + 5);
    sizes.set(small.contentId, small.bytes.length);
    await alice.store.rescan();
    const target = await startBob({ limits: { streamIdleTimeoutMs: 1_000 } });
    // 64 KiB at 40 KB/s is 1.6 s per piece: sent whole after its wait, the receiver gave up after 1 s.
    const rate = 40_000;
    const limiter = new RateLimiter(rate, UPLOAD_BURST_MS);
    const capped = new FilePusher({ store: alice.store, registry, peers: clients, logger, selfName: "alice", uploadLimiter: limiter, options: { stallTimeoutMs: 1_000 } });
    const started = performance.now();
    const end = await capped.push(small.contentId, target, "good-ticket").done;
    const seconds = (performance.now() - started) / 1000;
    expect(end.error).toBe("");
    expect(end.state).toBe("completed");
    expect((await readFile(join(root, "bob", "shared", "slow.bin"))).equals(small.bytes)).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(small.bytes.length / rate - UPLOAD_BURST_MS / 1000 - 0.05);
  });

  it("tells the user in words when the receiver goes away mid-push", async () => {
    const target = await startBob();
    const limiter = new RateLimiter(400_000, UPLOAD_BURST_MS);
    const capped = new FilePusher({ store: alice.store, registry, peers: clients, logger, selfName: "alice", uploadLimiter: limiter });
    const t = capped.push(file.contentId, target, "good-ticket");
    await waitFor(() => t.snapshot().bytesDone > 0, "the push to be under way");
    bob.kill(); // like a receiver whose process died: every connection dropped at once
    const end = await t.done;
    expect(end.state).toBe("failed");
    expect(end.error).toBe("The connection to bob was lost during the push (bob may have stopped); the file was not delivered.");
  });

  it("refuses a push without a valid ticket (PermissionDenied) and writes nothing", async () => {
    const target = await startBob();
    const end = await pusher.push(file.contentId, target, "forged").done;
    expect(end.state).toBe("failed");
    expect(end.error).toBe("bob refused the push: The directory does not vouch for this push ticket.");
    const raw = createClient(PeerService, createGrpcTransport({ baseUrl: bob.address }));
    const manifest = manifestToProto((await alice.store.manifest(file.contentId))!);
    const err = await raw
      .pushFile(
        (async function* () {
          yield create(PushFileRequestSchema, { message: { case: "header", value: { ticket: "", manifest, from: "mallory" } } });
        })(),
      )
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
    expect(await bobFiles()).toEqual([]);
    expect(await bobPartials()).toEqual([]);
  });

  it("refuses a malformed ticket at once and a directory 4xx as PermissionDenied; only an unreachable directory is Unavailable", async () => {
    const asked: string[] = [];
    let failure: Error = new PeerError("DIRECTORY_REJECTED", "ticket: must match the ticket pattern");
    await startBob({
      redeemTicket: async (ticket) => {
        asked.push(ticket);
        throw failure;
      },
    });
    const raw = createClient(PeerService, createGrpcTransport({ baseUrl: bob.address }));
    const manifest = manifestToProto((await alice.store.manifest(file.contentId))!);
    const pushWith = (ticket: string) =>
      raw
        .pushFile(
          (async function* () {
            yield create(PushFileRequestSchema, { message: { case: "header", value: { ticket, manifest, from: "mallory" } } });
          })(),
        )
        .then(() => undefined, (e: unknown) => ConnectError.from(e));

    // Not the shape the directory issues: refused without asking it.
    for (const bad of ["x".repeat(64 * 1024), "has space", "ünïcode", "a/b"]) {
      const err = await pushWith(bad);
      expect(err?.code).toBe(Code.PermissionDenied);
    }
    expect(asked).toEqual([]);

    // The directory refuses the ticket (400 invalid; 404 unknown and 409 redeemed come from the
    // directory client as TICKET_REFUSED with the directory's words): it does not vouch.
    for (const [f, message] of [
      [new PeerError("DIRECTORY_REJECTED", "ticket: must match the ticket pattern"), "The directory does not vouch for this push ticket."],
      [new PeerError("TICKET_REFUSED", "unknown ticket"), "unknown ticket"],
      [new PeerError("TICKET_REFUSED", "ticket already redeemed"), "ticket already redeemed"],
    ] as const) {
      failure = f;
      const err = await pushWith("x");
      expect(err?.code).toBe(Code.PermissionDenied);
      expect(reasonOf(err)).toBe("TICKET_REFUSED");
      expect(err?.rawMessage).toBe(message);
    }

    // Only a directory that cannot answer, or that refused our own session (401), is worth a retry.
    for (const f of [new PeerError("DIRECTORY_UNREACHABLE", "connect ECONNREFUSED"), new PeerError("WRONG_PASSWORD", "unknown token")]) {
      failure = f;
      const err = await pushWith("x");
      expect(err?.code).toBe(Code.Unavailable);
      expect(reasonOf(err)).toBe("DIRECTORY_UNREACHABLE");
    }
    expect(asked).toHaveLength(5);
    expect(await bobFiles()).toEqual([]);
    expect(await bobPartials()).toEqual([]);
  });

  /** A raw push: the header, then pieces from `pieces(i)` for i < count. */
  async function* rawPush(count: number, piece: (i: number) => Uint8Array, after?: () => Promise<void>): AsyncGenerator<PushFileRequest> {
    const manifest = manifestToProto((await alice.store.manifest(file.contentId))!);
    yield create(PushFileRequestSchema, { message: { case: "header", value: { ticket: "good-ticket", manifest, from: "alice" } } });
    for (let i = 0; i < count; i++) yield create(PushFileRequestSchema, { message: { case: "piece", value: { pieceIndex: i, data: piece(i) } } });
    await after?.();
  }
  const slice = (i: number) => file.bytes.subarray(i * TEST_PIECE_BYTES, (i + 1) * TEST_PIECE_BYTES);

  it("leaves nothing behind when a push is interrupted halfway", async () => {
    await startBob();
    const raw = createClient(PeerService, createGrpcTransport({ baseUrl: bob.address }));
    const controller = new AbortController();
    const call = raw.pushFile(
      rawPush(10, slice, async () => {
        // Half the pieces are in; wait until the receiver has a partial file, then cut the stream.
        await waitFor(async () => (await bobPartials()).length > 0, "a partial file on the receiver");
        controller.abort();
        await new Promise(() => undefined);
      }),
      { signal: controller.signal },
    );
    const err = await call.catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.Canceled);
    await waitFor(async () => (await bobPartials()).length === 0, "the partial file to be removed");
    expect(await bobFiles()).toEqual([]);
    expect(bob.store.get(file.contentId)).toBeUndefined();
  });

  it("takes pieces in parts, checks each piece once its bytes are in, and refuses empty, overlong, out-of-order and too slow parts", async () => {
    const count = 21;
    const part = (i: number, data: Uint8Array) => create(PushFileRequestSchema, { message: { case: "piece", value: { pieceIndex: i, data } } });
    /** The header, then each piece as the parts `split` cuts it into (with `pause` ms before each part). */
    async function* inParts(split: (i: number, piece: Uint8Array) => Uint8Array[], pause = 0): AsyncGenerator<PushFileRequest> {
      const manifest = manifestToProto((await alice.store.manifest(file.contentId))!);
      yield create(PushFileRequestSchema, { message: { case: "header", value: { ticket: "good-ticket", manifest, from: "alice" } } });
      for (let i = 0; i < count; i++) {
        for (const p of split(i, slice(i))) {
          if (pause) await new Promise((r) => setTimeout(r, pause));
          yield part(i, p);
        }
      }
    }
    const refusals: Array<[string, (i: number, p: Uint8Array) => Uint8Array[], Code, string | RegExp]> = [
      ["empty part", (i, p) => (i === 2 ? [p.subarray(0, 10), new Uint8Array(0), p.subarray(10)] : [p]), Code.InvalidArgument, "A part of piece 2 of the push carries no bytes."],
      ["overlong part", (i, p) => (i === 3 ? [p, new Uint8Array(1)] : [p]), Code.InvalidArgument, "Expected piece 4 of the push; pieces must come in order."],
      ["corrupt part", (i, p) => (i === 4 ? [p.subarray(0, 100), Buffer.alloc(p.length - 100)] : [p]), Code.DataLoss, "Piece 4 of the push failed verification; nothing was kept."],
      ["part past the piece", (i, p) => (i === 5 ? [p.subarray(0, 100), Buffer.concat([p.subarray(100), Buffer.alloc(1)])] : [p]), Code.DataLoss, /^Piece 5 of the push failed verification \(it is longer/],
      ["next piece mid-piece", (i, p) => (i === 6 ? [p.subarray(0, 100)] : [p]), Code.InvalidArgument, "Expected the rest of piece 6 of the push; pieces must come in order."],
    ];
    for (const [what, split, code, message] of refusals) {
      await startBob({ limits: { streamIdleTimeoutMs: 300, pushMinBytesPerSecond: 100_000 } });
      const raw2 = createClient(PeerService, createGrpcTransport({ baseUrl: bob.address }));
      const err = await raw2.pushFile(inParts(split)).catch((e: unknown) => ConnectError.from(e));
      expect(err, what).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code, what).toBe(code);
      expect((err as ConnectError).rawMessage, what).toMatch(message);
      await waitFor(async () => (await bobPartials()).length === 0, "partials removed");
      expect(await bobFiles(), what).toEqual([]);
      await bob.close();
    }

    // Parts every 100 ms (inside the 300 ms idle timeout) of 4 KiB: 40 KB/s, below the 100 KB/s the
    // receiver takes over its 1 s window, so the floor ends the push.
    await startBob({ limits: { streamIdleTimeoutMs: 300, pushMinBytesPerSecond: 100_000, floorWindowMs: 1_000 } });
    const raw3 = createClient(PeerService, createGrpcTransport({ baseUrl: bob.address }));
    const crumbs = (_i: number, p: Uint8Array) => Array.from({ length: Math.ceil(p.length / 4096) }, (_, k) => p.subarray(k * 4096, (k + 1) * 4096));
    const slow = await raw3.pushFile(inParts(crumbs, 100)).catch((e: unknown) => ConnectError.from(e));
    expect((slow as ConnectError).code).toBe(Code.DeadlineExceeded);
    expect((slow as ConnectError).rawMessage).toMatch(/^The push is too slow: this peer takes pushes of at least 100 kB\/s over 1 s, and [\d.]+ k?B of [\d.]+ MB arrived; nothing was kept\.$/);
    await waitFor(async () => (await bobPartials()).length === 0, "partials removed");
    expect(await bobFiles()).toEqual([]);

    // And parts of any size that add up, at any pace above the bound, make the file.
    const thirds = (_i: number, p: Uint8Array) => [p.subarray(0, 1000), p.subarray(1000, 30_000), p.subarray(30_000)].filter((x) => x.length > 0);
    const res = await raw3.pushFile(inParts(thirds));
    expect(res.contentId).toBe(file.contentId);
    expect((await readFile(join(root, "bob", "shared", "movie.bin"))).equals(file.bytes)).toBe(true);
  });

  it("rejects a corrupt piece (DataLoss), a stalled sender (DeadlineExceeded) and a full disk (ResourceExhausted)", async () => {
    await startBob({ limits: { streamIdleTimeoutMs: 300 } });
    const raw = createClient(PeerService, createGrpcTransport({ baseUrl: bob.address }));
    const corrupt = (i: number) => (i === 7 ? Buffer.alloc(TEST_PIECE_BYTES) : slice(i));
    const e1 = await raw.pushFile(rawPush(21, corrupt)).catch((e: unknown) => ConnectError.from(e));
    expect((e1 as ConnectError).code).toBe(Code.DataLoss);
    expect((e1 as ConnectError).rawMessage).toBe("Piece 7 of the push failed verification; nothing was kept.");

    const e2 = await raw.pushFile(rawPush(3, slice, () => new Promise((r) => setTimeout(r, 3_000)))).catch((e: unknown) => ConnectError.from(e));
    expect((e2 as ConnectError).code).toBe(Code.DeadlineExceeded);
    await waitFor(async () => (await bobPartials()).length === 0, "partials removed");
    expect(await bobFiles()).toEqual([]);
    await bob.close();

    await startBob({ freeBytes: async () => 10 });
    const raw2 = createClient(PeerService, createGrpcTransport({ baseUrl: bob.address }));
    const e3 = await raw2.pushFile(rawPush(21, slice)).catch((e: unknown) => ConnectError.from(e));
    expect((e3 as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((e3 as ConnectError).rawMessage).toMatch(/^Not enough disk space/);
    expect(await bobFiles()).toEqual([]);
  });
});

describe("PeerClients", () => {
  it("fails a call to an HTTP/1.1-only port cleanly instead of crashing the process", async () => {
    const h1 = http.createServer((_req, res) => res.end("hello"));
    await new Promise<void>((r) => h1.listen(0, "127.0.0.1", r));
    closers.push(() => new Promise<void>((r) => h1.close(() => r())));
    const clients = new PeerClients({ logger });
    closers.push(() => clients.close());
    const port = (h1.address() as net.AddressInfo).port;
    const err = await clients.client(`http://127.0.0.1:${port}`).ping({ from: "t" }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    await new Promise((r) => setTimeout(r, 200));
    expect(() => clients.client("file:///etc/passwd")).toThrow(/not a peer address/);
  });
});
