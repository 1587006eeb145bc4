// The receiving pserver's own checks on PushFile, whatever the directory said: its push policy (a ticket
// the directory issued is not consent), and the 4 KiB/s floor over a sliding window (a sender that
// trickles is cut). Real PeerService on 127.0.0.1, real pushes over gRPC, real files.
import { mkdir, readdir, utimes } from "node:fs/promises";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PUSH_MIN_BYTES_PER_SECOND } from "../../src/constants.js";
import { PeerService, PushFileRequestSchema, type PushFileRequest } from "../../src/gen.js";
import { manifestToProto } from "../../src/pieces/manifest-wire.js";
import { reasonOf } from "../../src/rpc/error-mapping.js";
import { PushSettings, type PushKept } from "../../src/push/push-settings.js";
import { logger, tempDir, waitFor, writeRandomFile } from "../store/helpers.js";
import { startTestPeer, type TestPeer } from "../transfer/helpers.js";

/** The pushed file: 197 kB, under the 300 kB quota of the test that takes it. */
const GIFT_BYTES = 3 * 64 * 1024 + 5;

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

describe("the receiver's own push policy", () => {
  let alice: TestPeer;
  let bob: TestPeer;
  let settings: PushSettings;
  let file: { bytes: Buffer; contentId: string };
  let redeemed: string[];

  beforeEach(async () => {
    await mkdir(join(root, "alice", "shared"), { recursive: true });
    const path = join(root, "alice", "shared", "gift.bin");
    file = await writeRandomFile(path, GIFT_BYTES);
    await utimes(path, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
    alice = await startTestPeer({ name: "alice", root });
    closers.push(() => alice.close());
    await waitFor(() => alice.store.get(file.contentId), "alice's file to be indexed");
    redeemed = [];
    // bob's settings see bob's folder through a late-bound store (the peer starts after them).
    settings = await PushSettings.open({ dataDir: join(root, "bob", "data"), store: { get: (id) => bob?.store.get(id) }, logger });
    bob = await startTestPeer({
      name: "bob",
      root,
      pushConsent: settings,
      // The directory vouches for every ticket, as a directory that forgot the policy (or lies) would.
      redeemTicket: async (ticket, contentId) => {
        redeemed.push(ticket);
        return { contentId, size: file.bytes.length, from: "alice" };
      },
    });
    closers.push(() => bob.close());
  });

  async function* push(from: string): AsyncGenerator<PushFileRequest> {
    const stored = (await alice.store.manifest(file.contentId))!;
    const manifest = manifestToProto(stored);
    yield create(PushFileRequestSchema, { message: { case: "header", value: { ticket: "a".repeat(43), manifest, from } } });
    for (let i = 0; i * stored.pieceSize < file.bytes.length; i++) {
      const data = file.bytes.subarray(i * stored.pieceSize, (i + 1) * stored.pieceSize);
      yield create(PushFileRequestSchema, { message: { case: "piece", value: { pieceIndex: i, data } } });
    }
  }

  const pushTo = (from = "alice") =>
    createClient(PeerService, createGrpcTransport({ baseUrl: bob.address }))
      .pushFile(push(from))
      .catch((e: unknown) => ConnectError.from(e));
  const bobHolds = async () => (await readdir(join(root, "bob", "shared"))).filter((n) => !n.startsWith("."));

  it("a fresh peer refuses every push though the directory vouched for its ticket, and keeps nothing", async () => {
    const err = await pushTo();
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
    expect(reasonOf(err)).toBe("PUSH_REFUSED");
    expect((err as ConnectError).rawMessage).toBe("This peer does not accept pushes.");
    // Refused before the ticket was spent, and nothing written.
    expect(redeemed).toEqual([]);
    expect(await bobHolds()).toEqual([]);
    expect(await readdir(bob.store.partialDir.path)).toEqual([]);
  });

  it("a listed policy checks the sender the directory vouches for, not the name the pusher gives", async () => {
    await settings.update({ accept: "listed", from: ["carol"] });
    // Mallory claims to be carol; the directory says the ticket is alice's.
    const err = await pushTo("carol");
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
    expect((err as ConnectError).rawMessage).toBe('This peer does not accept pushes from "alice".');
    expect(await bobHolds()).toEqual([]);
  });

  it("refuses a file larger than it takes, or than the quota has room for", async () => {
    await settings.update({ accept: "anyone", maxFileBytes: 1000 });
    expect((await pushTo() as ConnectError).rawMessage).toMatch(/^This peer accepts pushed files of at most 1\.00 kB; this one is 197 kB\.$/);
    await settings.update({ maxFileBytes: 10_000_000, quotaBytes: 100_000 });
    expect((await pushTo() as ConnectError).rawMessage).toMatch(/^This peer has 100 kB left of its 100 kB push quota; this file is 197 kB\.$/);
    expect(await bobHolds()).toEqual([]);
  });

  it("takes a push its policy allows, counts it against the quota and says who sent it", async () => {
    await settings.update({ accept: "listed", from: ["ALICE"], quotaBytes: 300_000 });
    const kept: PushKept[] = [];
    settings.on("kept", (k) => kept.push(k));
    const res = await pushTo();
    expect(res).not.toBeInstanceOf(ConnectError);
    expect(await bobHolds()).toEqual(["gift.bin"]);
    expect(kept).toMatchObject([{ from: "alice", contentId: file.contentId, name: "gift.bin", size: file.bytes.length }]);
    expect(settings.usedBytes()).toBe(file.bytes.length);
    expect(settings.directoryPolicy().quotaBytes).toBe(300_000 - file.bytes.length);
    // Kept across a restart.
    const again = await PushSettings.open({ dataDir: join(root, "bob", "data"), store: bob.store, logger });
    expect(again.policy).toEqual({ accept: "listed", from: ["ALICE"], maxFileBytes: 4 * 1024 ** 3, quotaBytes: 300_000 });
    expect(again.usedBytes()).toBe(file.bytes.length);
  });
});

describe("the push floor", () => {
  it(`cuts a sender that trickles one byte every 2 s (below ${PUSH_MIN_BYTES_PER_SECOND} B/s over the window) and keeps nothing`, async () => {
    await mkdir(join(root, "alice", "shared"), { recursive: true });
    const path = join(root, "alice", "shared", "slow.bin");
    const file = await writeRandomFile(path, 64 * 1024);
    await utimes(path, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
    const alice = await startTestPeer({ name: "alice", root });
    closers.push(() => alice.close());
    await waitFor(() => alice.store.get(file.contentId), "alice's file to be indexed");
    // The idle timeout (60 s) never fires for a byte every 2 s: only the floor (over a 4 s window here) can end it.
    const bob = await startTestPeer({
      name: "bob",
      root,
      limits: { streamIdleTimeoutMs: 60_000, floorWindowMs: 4_000 },
      redeemTicket: async (_t, contentId) => ({ contentId, size: file.bytes.length, from: "alice" }),
    });
    closers.push(() => bob.close());
    const manifest = manifestToProto((await alice.store.manifest(file.contentId))!);
    let sent = 0;
    async function* trickle(): AsyncGenerator<PushFileRequest> {
      yield create(PushFileRequestSchema, { message: { case: "header", value: { ticket: "a".repeat(43), manifest, from: "alice" } } });
      for (let i = 0; i < 30; i++) {
        yield create(PushFileRequestSchema, { message: { case: "piece", value: { pieceIndex: 0, data: file.bytes.subarray(i, i + 1) } } });
        sent++;
        await new Promise((r) => setTimeout(r, 2_000));
      }
    }
    const err = await createClient(PeerService, createGrpcTransport({ baseUrl: bob.address }))
      .pushFile(trickle())
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.DeadlineExceeded);
    expect(reasonOf(err)).toBe("STALLED");
    expect((err as ConnectError).rawMessage).toMatch(/^The push is too slow: this peer takes pushes of at least 4\.10 kB\/s over 4 s, and \d B of 65\.5 kB arrived; nothing was kept\.$/);
    // Cut after about one window (two or three bytes), long before the 30 bytes were all sent.
    expect(sent).toBeLessThan(10);
    await waitFor(async () => (await readdir(bob.store.partialDir.path)).length === 0, "the partial push to be removed");
    expect((await readdir(join(root, "bob", "shared"))).filter((n) => !n.startsWith("."))).toEqual([]);
  }, 40_000);
});
