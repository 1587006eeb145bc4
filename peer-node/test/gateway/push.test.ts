// Pushes from and to browser peers through their gateway, against real parts: a real directory, a real
// gateway pserver, real Node pservers, and test tabs speaking GatewayService over the Connect client
// (HTTP/1.1, Connect binary, what a browser has). Bytes are compared with SHA-256.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startPserver, type Pserver } from "../../src/index.js";
import { ErrorDetailSchema, ErrorReason, FileManifestSchema, PeerService, PushAccept, PushFileRequestSchema, TransferKind, TransferState, type TransferProgress } from "../../src/gen.js";
import { hashFile } from "../../src/store/pieces.js";
import type { GatewaySettings } from "../../src/gateway/gateway.js";
import { clientFor, logger, removeDir, TEST_PASSWORD, tempDir, waitFor, writeRandomFile } from "../pserver-harness.js";
import { TestTab } from "./test-tab.js";

/** Long enough that a loaded machine never misses a session TTL (nothing here waits for one to pass). */
const HEARTBEAT_MS = 5_000;
/** Short, so a silent tab fails its push within a test; the gateway's own stall bound for tabs. */
const TAB_TIMEOUT_MS = 5_000;

let root: string;
let directory: { url: string; close(): Promise<void> };
const open: Array<{ close(): Promise<void> }> = [];
let serial = 0;

beforeAll(async () => {
  const { startDirectory } = await import("@p2p/server");
  root = await tempDir("p2p-gateway-push-");
  directory = await startDirectory({ dataDir: path.join(root, "directory"), host: "127.0.0.1", port: 0, heartbeatIntervalMs: HEARTBEAT_MS, logLevel: "silent", scryptCostLog2: 10, registrationsPerIp: 0, rateLimitPerMinute: 0 });
}, 60_000);

afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close().catch(() => undefined);
}, 60_000);

afterAll(async () => {
  await directory?.close();
  await removeDir(root);
}, 60_000);

/** A pserver on port 0 with its own folders (every one is a gateway too). */
async function pserver(name: string, gateway: Partial<GatewaySettings> = {}): Promise<Pserver & { sharedDir: string; name: string }> {
  const dir = path.join(root, `${name}-${++serial}`);
  const sharedDir = path.join(dir, "shared");
  const p = await startPserver({
    name,
    password: TEST_PASSWORD,
    directoryUrl: directory.url,
    sharedDir,
    dataDir: path.join(dir, "state"),
    port: 0,
    logger,
    directoryRetryMaxMs: 300,
    gateway: { requestTimeoutMs: TAB_TIMEOUT_MS, ...gateway },
  });
  open.push(p);
  return Object.assign(p, { sharedDir, name });
}

/** A test tab logged in and attached at `gatewayUrl`. */
async function tab(gatewayUrl: string, name: string): Promise<TestTab> {
  const t = new TestTab(gatewayUrl, name, TEST_PASSWORD);
  open.push(t);
  await t.login();
  await t.attach();
  return t;
}

/** A random file of `size` bytes offered by `t`; its bytes and content id. */
async function tabFile(t: TestTab, size: number) {
  const file = path.join(root, `${t.username}-${++serial}.bin`);
  const { bytes } = await writeRandomFile(file, size);
  return { bytes, contentId: await t.addFile(file), name: path.basename(file) };
}

/** A logged-in ClientService client of a Node pserver. */
async function owner(p: Pserver & { name: string }) {
  const client = clientFor(p.url);
  client.token = (await client.login({ username: p.name, password: TEST_PASSWORD })).sessionToken;
  return client;
}

/**
 * StartPush, retried until the directory has heard the target's policy (its pserver tells it a moment
 * after the change); on timeout, the last refusal says why.
 */
async function startPushWhenTaken(t: TestTab, contentId: string, targetPeer: string) {
  let last: unknown;
  const started = await waitFor(
    () =>
      t.client.startPush({ contentId, targetPeer }).catch((err: unknown) => {
        last = err;
        return undefined;
      }),
    `the directory to take ${targetPeer || "a target"}`,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; last refusal: ${String(last)}`);
  });
  return started;
}

/** The final PushProgress of a tab's push. */
function pushDone(t: TestTab, pushId: string) {
  return waitFor(() => t.pushOutcome(pushId), `push ${pushId} to end`, 30_000).catch((err: unknown) => {
    const heard = t.pushProgress.filter((p) => p.pushId === pushId).map((p) => `${TransferState[p.state]} ${p.bytesDone} ${p.message}`);
    throw new Error(`${(err as Error).message}; heard: ${heard.join(" | ") || "nothing"}; attach error: ${String(t.attachError)}`);
  });
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function reasonOf(err: unknown): ErrorReason | undefined {
  return ConnectError.from(err).findDetails(ErrorDetailSchema)[0]?.reason;
}

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) throw new Error("the call succeeded");
  return err;
}

/** Pushes a held file from a Node pserver with ClientService Upload; the last progress. */
async function upload(client: Awaited<ReturnType<typeof owner>>, contentId: string, targetPeer: string): Promise<TransferProgress | undefined> {
  let last: TransferProgress | undefined;
  for await (const { progress } of client.upload({ contentId, targetPeer })) last = progress;
  return last;
}

describe("pushes from a browser peer", () => {
  it("pushes a tab's file to a named Node pserver and to one the directory picks; the receiver hears the tab as the sender", async () => {
    const gw = await pserver("pgw1");
    const node = await pserver("pnode1");
    const other = await pserver("pnode2");
    const t = await tab(gw.url, "ptab1");
    const { bytes, contentId, name } = await tabFile(t, 2 * 1024 * 1024 + 4321);
    const n = await owner(node);
    await n.updateSettings({ pushPolicy: { accept: PushAccept.LISTED, from: ["ptab1"], maxFileBytes: 10_000_000n, quotaBytes: 20_000_000n } });
    const watching = new AbortController();
    const heard = (async () => {
      for await (const { event } of n.watchEvents({}, { signal: watching.signal })) if (event.case === "pushReceived") return event.value;
      return undefined;
    })().catch(() => undefined);

    // The directory hears the policy through the node's link, a moment after the change.
    const started = await startPushWhenTaken(t, contentId, "pnode1");
    expect(started.targetPeer).toBe("pnode1");
    const done = await pushDone(t, started.pushId);
    expect(done.state, done.message).toBe(TransferState.COMPLETED);
    expect(done).toMatchObject({ contentId, name, targetPeer: "pnode1", bytesDone: BigInt(bytes.length), bytesTotal: BigInt(bytes.length) });
    expect(sha256Hex(await readFile(path.join(node.sharedDir, name)))).toBe(sha256Hex(bytes));
    expect(await heard).toMatchObject({ from: "ptab1", contentId, name, size: BigInt(bytes.length) });
    watching.abort();
    const received = (await n.listTransfers({})).transfers.find((x) => x.contentId === contentId);
    expect(received).toMatchObject({ kind: TransferKind.DOWNLOAD, state: TransferState.COMPLETED, sources: ["ptab1"] });

    // No target named: the directory picks the one live peer that takes it and lacks it.
    await (await owner(other)).updateSettings({ pushPolicy: { accept: PushAccept.ANYONE, maxFileBytes: 10_000_000n, quotaBytes: 20_000_000n } });
    const holders = async () => ((await (await fetch(`${directory.url}/api/v1/files/${contentId}`)).json()) as { holders: unknown[] }).holders.length;
    await waitFor(async () => (await holders()) === 2, "pnode1 listed as a holder");
    const picked = await startPushWhenTaken(t, contentId, "");
    expect(picked.targetPeer).toBe("pnode2");
    expect((await pushDone(t, picked.pushId)).state).toBe(TransferState.COMPLETED);
    expect(sha256Hex(await readFile(path.join(other.sharedDir, name)))).toBe(sha256Hex(bytes));
  });

  it("is refused (PUSH_REFUSED) by a peer whose policy does not take the tab, and nothing reaches it", async () => {
    const gw = await pserver("pgw2");
    const node = await pserver("pnode3");
    const t = await tab(gw.url, "ptab2");
    const { contentId, name } = await tabFile(t, 300_000);
    await (await owner(node)).updateSettings({ pushPolicy: { accept: PushAccept.LISTED, from: ["somebody-else"], maxFileBytes: 10_000_000n, quotaBytes: 20_000_000n } });
    const err = await failure(t.client.startPush({ contentId, targetPeer: "pnode3" }));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(reasonOf(err)).toBe(ErrorReason.PUSH_REFUSED);
    expect(err.rawMessage).toMatch(/will not let pnode3 receive this file/);
    await expect(readFile(path.join(node.sharedDir, name))).rejects.toThrow(/ENOENT/);
  });

  it("fails when the tab goes silent mid-push, within the stall timeout, and frees its push slots", async () => {
    const gw = await pserver("pgw3", { pushesPerTab: 1 });
    const node = await pserver("pnode4");
    const t = await tab(gw.url, "ptab3");
    const { bytes, contentId, name } = await tabFile(t, 4 * 1024 * 1024 + 5);
    await (await owner(node)).updateSettings({ pushPolicy: { accept: PushAccept.ANYONE, maxFileBytes: 100_000_000n, quotaBytes: 100_000_000n } });
    // A tab that does not answer its own manifest request: StartPush fails as stalled, after the timeout.
    t.behaviour = { silent: true };
    expect(reasonOf(await failure(t.client.startPush({ contentId, targetPeer: "pnode4" })))).toBe(ErrorReason.STALLED);
    t.behaviour = { silentAfterPieces: 2 };
    const started = await startPushWhenTaken(t, contentId, "pnode4");
    // The one push slot is taken while it runs.
    expect(reasonOf(await failure(t.client.startPush({ contentId, targetPeer: "pnode4" })))).toBe(ErrorReason.RATE_LIMITED);
    const done = await pushDone(t, started.pushId);
    expect(done.state).toBe(TransferState.FAILED);
    expect(done.message).toMatch(/did not answer within|stalled/);
    await expect(readFile(path.join(node.sharedDir, name))).rejects.toThrow(/ENOENT/);
    // The slot is free again and the tab's pending requests are gone: the next push goes through.
    t.behaviour = {};
    const again = await t.client.startPush({ contentId, targetPeer: "pnode4" });
    const second = await pushDone(t, again.pushId);
    expect(second.state, second.message).toBe(TransferState.COMPLETED);
    expect(sha256Hex(await readFile(path.join(node.sharedDir, name)))).toBe(sha256Hex(bytes));
  });

  it("fails when the tab answers corrupted pieces: the receiver refuses the file", async () => {
    const gw = await pserver("pgw4");
    const node = await pserver("pnode5");
    const t = await tab(gw.url, "ptab4");
    const { contentId, name } = await tabFile(t, 1024 * 1024 + 77);
    await (await owner(node)).updateSettings({ pushPolicy: { accept: PushAccept.ANYONE, maxFileBytes: 100_000_000n, quotaBytes: 100_000_000n } });
    t.behaviour = { corrupt: true };
    const started = await startPushWhenTaken(t, contentId, "pnode5");
    const done = await pushDone(t, started.pushId);
    expect(done.state).toBe(TransferState.FAILED);
    expect(done.message).toMatch(/rejected the data: Piece 0 of the push failed verification/);
    await expect(readFile(path.join(node.sharedDir, name))).rejects.toThrow(/ENOENT/);
  });
});

describe("pushes to a browser peer", () => {
  it("takes a Node pserver's push only once its policy takes the sender; the tab reads, verifies and confirms it", async () => {
    const gw = await pserver("pgw5");
    const node = await pserver("pnode6");
    const t = await tab(gw.url, "ptab5");
    const { bytes, contentId } = await writeRandomFile(path.join(node.sharedDir, "for-the-tab.bin"), 3 * 1024 * 1024 + 99);
    const n = await owner(node);
    await waitFor(async () => (await n.listFiles({})).files.some((f) => f.contentId === contentId), "the file in pnode6's folder");

    // A fresh tab takes no push: the directory refuses to name it, and the tab is offered nothing.
    const refused = await failure(upload(n, contentId, "ptab5"));
    expect(refused.code).toBe(Code.PermissionDenied);
    expect(refused.rawMessage).toMatch(/will not let ptab5 receive this file/);
    // A policy listing someone else: still refused.
    await t.takePushesFrom(["nobody-we-know"]);
    expect((await failure(upload(n, contentId, "ptab5"))).code).toBe(Code.PermissionDenied);
    expect(t.offers).toHaveLength(0);

    await t.takePushesFrom(["pnode6"]);
    const last = await upload(n, contentId, "ptab5");
    expect(last?.state, last?.error).toBe(TransferState.COMPLETED);
    expect(last?.targetPeer).toBe("ptab5");
    expect(t.received).toHaveLength(1);
    expect(t.received[0]).toMatchObject({ from: "pnode6", name: "for-the-tab.bin" });
    expect(sha256Hex(t.received[0]!.bytes)).toBe(sha256Hex(bytes));
  });

  it("refuses at the gateway by the tab's own policy before the ticket or a byte goes further: the sender's claim, the ticket, the quota", async () => {
    const gw = await pserver("pgw6");
    const node = await pserver("pnode7");
    const t = await tab(gw.url, "ptab6");
    const file = path.join(root, `direct-${++serial}.bin`);
    const { bytes } = await writeRandomFile(file, 100_000);
    const hashes = await hashFile(file, bytes.length);
    const manifest = create(FileManifestSchema, { contentId: hashes.contentId, name: "direct.bin", size: BigInt(bytes.length), pieceSize: hashes.pieceSize, pieceHashes: hashes.pieceHashes });
    const relay = createClient(PeerService, createGrpcTransport({ baseUrl: t.relayAddress }));
    /** A PushFile straight at the relay address, as a peer that skipped the directory would send it. */
    const pushDirect = (from: string) =>
      relay.pushFile(
        (async function* () {
          yield create(PushFileRequestSchema, { message: { case: "header", value: { ticket: "A".repeat(43), manifest, from } } });
          yield create(PushFileRequestSchema, { message: { case: "piece", value: { pieceIndex: 0, data: bytes } } });
        })(),
      );

    // A fresh tab takes no push, whoever claims to send it.
    expect(reasonOf(await failure(pushDirect("pnode7")))).toBe(ErrorReason.PUSH_REFUSED);
    await t.takePushesFrom(["pnode7"]);
    // A sender the policy does not list is refused on its own claim (no ticket spent)...
    const stranger = await failure(pushDirect("stranger"));
    expect(reasonOf(stranger)).toBe(ErrorReason.PUSH_REFUSED);
    expect(stranger.rawMessage).toBe('This peer does not accept pushes from "stranger".');
    // ...and one it lists still needs a ticket the directory vouches for.
    expect(reasonOf(await failure(pushDirect("pnode7")))).toBe(ErrorReason.TICKET_REFUSED);
    expect(t.offers).toHaveLength(0);

    // The quota left is smaller than the file: the directory refuses to name the tab already.
    const { contentId } = await writeRandomFile(path.join(node.sharedDir, "too-big.bin"), 600_000);
    const n = await owner(node);
    await waitFor(async () => (await n.listFiles({})).files.some((f) => f.contentId === contentId), "the file in pnode7's folder");
    await t.takePushesFrom(["pnode7"], 10_000_000, 1_000_000, 500_000);
    expect((await failure(upload(n, contentId, "ptab6"))).code).toBe(Code.PermissionDenied);
    expect(t.offers).toHaveLength(0);
  });

  it("counts the pushes a tab kept against its quota: past it, the next push is refused", async () => {
    const gw = await pserver("pgw9");
    const node = await pserver("pnode10");
    const t = await tab(gw.url, "ptab10");
    const first = await writeRandomFile(path.join(node.sharedDir, "first.bin"), 700_000);
    const second = await writeRandomFile(path.join(node.sharedDir, "second.bin"), 700_000);
    const n = await owner(node);
    await waitFor(async () => (await n.listFiles({})).files.length === 2, "both files in pnode10's folder");
    await t.takePushesFrom([], 10_000_000, 1_000_000);
    const kept = await upload(n, first.contentId, "ptab10");
    expect(kept?.state, kept?.error).toBe(TransferState.COMPLETED);
    // 700 kB of the 1 MB quota are used now: the gateway told the directory, which refuses the next one.
    const refused = await failure(upload(n, second.contentId, "ptab10"));
    expect(refused.code).toBe(Code.PermissionDenied);
    expect(t.received.map((r) => r.name)).toEqual(["first.bin"]);
  });

  it("fails the sender's push when the tab never reads it, or stops reading, within the stall timeout", async () => {
    const gw = await pserver("pgw7");
    const node = await pserver("pnode8");
    const t = await tab(gw.url, "ptab7");
    const { contentId } = await writeRandomFile(path.join(node.sharedDir, "unread.bin"), 2 * 1024 * 1024);
    const n = await owner(node);
    await waitFor(async () => (await n.listFiles({})).files.some((f) => f.contentId === contentId), "the file in pnode8's folder");
    await t.takePushesFrom(["pnode8"]);

    t.behaviour = { onOffer: "ignore" };
    const ignored = await upload(n, contentId, "ptab7");
    expect(ignored?.state).toBe(TransferState.FAILED);
    expect(ignored?.error).toMatch(/ptab7 did not start receiving the push within 5 s; nothing was kept/);

    t.behaviour = { onOffer: "stall" };
    const stalled = await upload(n, contentId, "ptab7");
    expect(stalled?.state).toBe(TransferState.FAILED);
    // Whether the socket buffers took the rest of the file or not, the tab neither read it on nor confirmed it.
    expect(stalled?.error).toMatch(/ptab7 (stopped reading|did not confirm) the push within 5 s; nothing was kept/);
    expect(t.received).toHaveLength(0);

    // Nothing of those pushes is held: with the default cap of pushes per tab, the next one is taken.
    t.behaviour = {};
    const kept = await upload(n, contentId, "ptab7");
    expect(kept?.state, kept?.error).toBe(TransferState.COMPLETED);
  });

  it("fails the sender's push with the tab's own words when the tab refuses it after reading, or cancels it on offer; nothing is counted as kept", async () => {
    const gw = await pserver("pgw10");
    const node = await pserver("pnode11");
    const t = await tab(gw.url, "ptab11");
    const { contentId } = await writeRandomFile(path.join(node.sharedDir, "unwanted.bin"), 1_500_000);
    const n = await owner(node);
    await waitFor(async () => (await n.listFiles({})).files.some((f) => f.contentId === contentId), "the file in pnode11's folder");
    // A quota of 2 MB: had either refused push been counted as kept, the last one (1.5 MB more) would be refused.
    await t.takePushesFrom(["pnode11"], 10_000_000, 2_000_000);

    // The refusal's message comes from a stranger's tab: control characters are blanked and it is cut short.
    t.behaviour = { onOffer: "refuse", refusal: `no room\u0000\u001b[31m in OPFS ${"x".repeat(5_000)}` };
    const refused = await upload(n, contentId, "ptab11");
    expect(refused?.state).toBe(TransferState.FAILED);
    expect(refused?.error).toMatch(/ptab11 did not keep the file: no room {2}\[31m in OPFS x+/);
    expect(refused?.error).not.toMatch(/[\u0000-\u001f]/);
    expect(refused!.error.length).toBeLessThan(1_000);

    t.behaviour = { onOffer: "cancel" };
    const cancelled = await upload(n, contentId, "ptab11");
    expect(cancelled?.state).toBe(TransferState.FAILED);
    expect(cancelled?.error).toMatch(/ptab11 cancelled the push; nothing was kept/);
    expect(t.receiveErrors).toHaveLength(0);
    expect(t.received).toHaveLength(0);

    t.behaviour = {};
    const kept = await upload(n, contentId, "ptab11");
    expect(kept?.state, kept?.error).toBe(TransferState.COMPLETED);
    expect(t.received.map((r) => r.name)).toEqual(["unwanted.bin"]);
  });

  it("fails a lying sender's push with the receiving tab's words: the tab checks the pieces, keeps nothing and says why", async () => {
    const gw = await pserver("pgw12");
    const liar = await tab(gw.url, "ptab12");
    const receiver = await tab(gw.url, "ptab13");
    const { contentId } = await tabFile(liar, 2 * 1024 * 1024 + 11);
    await receiver.takePushesFrom(["ptab12"]);
    // The sending tab answers its own gateway's piece requests with flipped bytes: the push carries them.
    liar.behaviour = { corrupt: true };
    const started = await startPushWhenTaken(liar, contentId, "ptab13");
    const done = await pushDone(liar, started.pushId);
    expect(done.state).toBe(TransferState.FAILED);
    // The receiving tab's own sentence (its gateway no longer hashes the pieces it passes on).
    expect(done.message).toMatch(/ptab13 did not keep the file: Piece 0 of the push does not match its manifest; nothing was kept/);
    expect(receiver.received).toHaveLength(0);
  });

  it("refuses bad push ids: unknown, malformed, or another tab's", async () => {
    const gw = await pserver("pgw8", { requestTimeoutMs: 30_000 });
    const node = await pserver("pnode9");
    const a = await tab(gw.url, "ptab8");
    const b = await tab(gw.url, "ptab9");
    const { contentId } = await tabFile(a, 200_000);
    await (await owner(node)).updateSettings({ pushPolicy: { accept: PushAccept.ANYONE, maxFileBytes: 100_000_000n, quotaBytes: 100_000_000n } });
    // The push stays under way (the tab answers no piece) while other tabs try its id.
    a.behaviour = { silentAfterPieces: 0 };
    const started = await startPushWhenTaken(a, contentId, "pnode9");

    for (const call of [b.client.cancelPush({ pushId: started.pushId }), b.client.receivePush({ pushId: started.pushId })[Symbol.asyncIterator]().next(), b.client.confirmPush({ pushId: started.pushId, kept: true, storedName: "x.bin" })]) {
      const err = await failure(call);
      expect(err.code).toBe(Code.NotFound);
      expect(err.rawMessage).toMatch(/no push (offered )?with that id/);
    }
    expect((await failure(a.client.cancelPush({ pushId: "no-such-push" }))).code).toBe(Code.NotFound);
    expect((await failure(a.client.cancelPush({ pushId: "" }))).code).toBe(Code.InvalidArgument);
    expect((await failure(a.client.cancelPush({ pushId: "../../etc" }))).code).toBe(Code.InvalidArgument);
    expect((await failure(a.client.startPush({ contentId: "m1_nope", targetPeer: "pnode9" }))).code).toBe(Code.InvalidArgument);
    expect((await failure(a.client.startPush({ contentId, targetPeer: "not a name" }))).code).toBe(Code.InvalidArgument);
    expect((await failure(a.client.startPush({ contentId, targetPeer: "ptab8" }))).code).toBe(Code.InvalidArgument);
    expect((await failure(a.client.setPushPolicy({}))).code).toBe(Code.InvalidArgument);
    expect((await failure(a.client.setPushPolicy({ policy: { accept: PushAccept.LISTED, from: ["bad name!"] } }))).code).toBe(Code.InvalidArgument);

    // The tab's own cancel ends its push.
    await a.client.cancelPush({ pushId: started.pushId });
    expect((await pushDone(a, started.pushId)).state).toBe(TransferState.CANCELLED);
  });
});
