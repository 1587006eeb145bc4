// The gateway for browser peers against real parts: a real directory, a real gateway pserver, a real
// downloading pserver, and a test "tab" speaking GatewayService through the Connect client over
// HTTP/1.1 (Connect binary and gRPC-Web, what a browser has). Bytes are compared with SHA-256.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import type { ClientSessionOptions } from "node:http2";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startPserver, type Pserver } from "../../src/index.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { AnswerPieceRequestSchema, AnswerPiecesRequestSchema, ErrorDetailSchema, ErrorReason, PeerService, TransferState, type TransferProgress } from "../../src/gen.js";
import { clientFor, logger, removeDir, TEST_PASSWORD, tempDir, waitFor, writeRandomFile, type ProtocolName } from "../pserver-harness.js";
import { TestTab, type TabProtocol } from "./test-tab.js";
import type { GatewaySettings } from "../../src/gateway/gateway.js";

// 1 s (3 s session TTL): at 300 ms the gateway's heartbeats for its tabs missed the TTL when the machine was loaded.
const HEARTBEAT_MS = 1_000;
/** Short enough that a detached tab leaves search within a test; long enough for a reattach within it. */
const GRACE_MS = 400;

interface Directory {
  url: string;
  close(): Promise<void>;
}

let root: string;
let directory: Directory;
const open: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  const { startDirectory } = await import("@p2p/server");
  root = await tempDir("p2p-gateway-");
  // Every browser peer registers from its gateway's address, here all from 127.0.0.1: no registration cap.
  directory = await startDirectory({ dataDir: path.join(root, "directory"), host: "127.0.0.1", port: 0, heartbeatIntervalMs: HEARTBEAT_MS, logLevel: "silent", scryptCostLog2: 10, registrationsPerIp: 0 });
});

afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close().catch(() => undefined);
});

afterAll(async () => {
  await directory?.close();
  await removeDir(root);
});

let serial = 0;

/** A pserver (gateway or downloader) on port 0 with its own folders. */
async function pserver(name: string, gateway: Partial<GatewaySettings> = {}, password: string | undefined = TEST_PASSWORD, port = 0): Promise<Pserver & { sharedDir: string }> {
  const dir = path.join(root, `${name}-${++serial}`);
  const sharedDir = path.join(dir, "shared");
  const p = await startPserver({
    name,
    password,
    directoryUrl: directory.url,
    sharedDir,
    dataDir: path.join(dir, "state"),
    port,
    logger,
    directoryRetryMaxMs: 300,
    gateway: { detachGraceMs: GRACE_MS, ...gateway },
  });
  open.push(p);
  return Object.assign(p, { sharedDir });
}

/** A test tab logged in and attached at `gatewayUrl`, serving one random file of `size` bytes. */
async function tabWithFile(gatewayUrl: string, name: string, size: number, protocol: TabProtocol = "connect-binary") {
  const tab = new TestTab(gatewayUrl, name, TEST_PASSWORD, protocol);
  open.push(tab);
  await tab.login();
  await tab.attach();
  const file = path.join(root, `${name}-${++serial}.bin`);
  const { bytes } = await writeRandomFile(file, size);
  const contentId = await tab.addFile(file);
  return { tab, bytes, contentId, file };
}

/** Downloads through a pserver's ClientService; the last progress. */
async function download(peer: Pserver, contentId: string): Promise<TransferProgress | undefined> {
  const client = clientFor(peer.url);
  client.token = (await client.login({ username: peerName(peer), password: TEST_PASSWORD })).sessionToken;
  let last: TransferProgress | undefined;
  for await (const { progress } of client.download({ contentId })) last = progress;
  return last;
}

const names = new WeakMap<Pserver, string>();
function peerName(p: Pserver): string {
  return names.get(p)!;
}
async function namedPserver(name: string, gateway: Partial<GatewaySettings> = {}, port = 0) {
  const p = await pserver(name, gateway, TEST_PASSWORD, port);
  names.set(p, name);
  return p;
}

/** The holders the directory lists for a content id (none when it lists no live holder). */
async function holders(contentId: string): Promise<Array<{ name: string; address: string }>> {
  const res = await fetch(`${directory.url}/api/v1/files/${contentId}`);
  if (res.status === 404) return [];
  const body = (await res.json()) as { holders: Array<{ name: string; address: string }> };
  return body.holders;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function reasonOf(err: unknown): ErrorReason | undefined {
  return ConnectError.from(err).findDetails(ErrorDetailSchema)[0]?.reason;
}

describe.each<TabProtocol>(["connect-binary", "grpc-web"])("a tab over %s", (protocol) => {
  it("serves a file through its gateway: a Node pserver downloads it and the SHA-256 matches", async () => {
    const gw = await namedPserver(`gw-${protocol}`);
    const node = await namedPserver(`n-${protocol}`);
    // Three whole pieces and a short last one: the window, the order and the last piece's length all matter.
    const { tab, bytes, contentId } = await tabWithFile(gw.url, `tab-${protocol}`, 3 * 1024 * 1024 + 12_345, protocol);
    expect(tab.relayAddress).toBe(`${gw.url}/relay/tab-${protocol}`);
    await waitFor(async () => (await holders(contentId)).some((h) => h.address === tab.relayAddress), "the tab listed at its relay address");

    const last = await download(node, contentId);
    expect(last?.state, last?.error).toBe(TransferState.COMPLETED);
    const got = await readFile(path.join(node.sharedDir, path.basename(last!.name)));
    expect(sha256Hex(got)).toBe(sha256Hex(bytes));
  });

  it("serves a file answered in AnswerPieces batches: the pieces reach the downloader whole and in order", async () => {
    const gw = await namedPserver(`gwb-${protocol}`);
    const node = await namedPserver(`nb-${protocol}`);
    const { tab, bytes, contentId } = await tabWithFile(gw.url, `batch-${protocol}`, 9 * 1024 * 1024 + 999, protocol);
    tab.behaviour = { batch: true };
    await waitFor(async () => (await holders(contentId)).some((h) => h.address === tab.relayAddress), "the tab listed at its relay address");
    const last = await download(node, contentId);
    expect(last?.state, last?.error).toBe(TransferState.COMPLETED);
    const got = await readFile(path.join(node.sharedDir, path.basename(last!.name)));
    expect(sha256Hex(got)).toBe(sha256Hex(bytes));
    expect(tab.answered).toBeGreaterThanOrEqual(10);
    expect(tab.answerErrors).toEqual([]);
  });
});

describe.each<ProtocolName>(["grpc", "grpc-web", "connect-binary"])("the relay address over %s", (protocol) => {
  it("answers Ping for the tab and relays GetManifest and FetchPieces in the asked order", async () => {
    const gw = await namedPserver(`gwr-${protocol}`);
    const { tab, bytes, contentId } = await tabWithFile(gw.url, `relayed-${protocol}`, 2 * 1024 * 1024 + 7);
    const transport =
      protocol === "grpc"
        ? createGrpcTransport({ baseUrl: tab.relayAddress })
        : protocol === "grpc-web"
          ? (await import("@connectrpc/connect-node")).createGrpcWebTransport({ baseUrl: tab.relayAddress, httpVersion: "1.1" })
          : createConnectTransport({ baseUrl: tab.relayAddress, httpVersion: "1.1", useBinaryFormat: true });
    const peer = createClient(PeerService, transport);
    expect((await peer.ping({ from: "test" })).peerName).toBe(`relayed-${protocol}`);
    const { manifest } = await peer.getManifest({ contentId });
    expect(manifest?.contentId).toBe(contentId);
    const got: Buffer[] = [];
    const order: number[] = [];
    for await (const piece of peer.fetchPieces({ contentId, pieceIndexes: [2, 0, 1] })) {
      order.push(piece.pieceIndex);
      got[piece.pieceIndex] = Buffer.from(piece.data);
    }
    expect(order).toEqual([2, 0, 1]);
    expect(sha256Hex(Buffer.concat(got))).toBe(sha256Hex(bytes));
  });
});

it("sends a relayed call's window of piece requests as one Attach message to a tab that takes batches, one by one to a tab that does not", async () => {
  const gw = await namedPserver("gw-batches", { windowPieces: 4 });
  for (const takesPieceBatches of [true, false]) {
    const tab = new TestTab(gw.url, `batches-${takesPieceBatches}`, TEST_PASSWORD);
    open.push(tab);
    tab.takesPieceBatches = takesPieceBatches;
    await tab.login();
    await tab.attach();
    const file = path.join(root, `batches-${++serial}.bin`);
    const { bytes } = await writeRandomFile(file, 6 * 1024 * 1024 + 3);
    const contentId = await tab.addFile(file);
    const peer = createClient(PeerService, createGrpcTransport({ baseUrl: tab.relayAddress }));
    const got: Buffer[] = [];
    for await (const piece of peer.fetchPieces({ contentId, pieceIndexes: [0, 1, 2, 3, 4, 5, 6] })) got.push(Buffer.from(piece.data));
    expect(sha256Hex(Buffer.concat(got))).toBe(sha256Hex(bytes));
    expect(tab.requested).toBe(7);
    // The gateway's window (4 pieces) is asked at once; later requests follow as pieces go out.
    if (takesPieceBatches) expect(tab.pieceMessages[0]).toBe(4);
    else expect(tab.pieceMessages).toEqual([1, 1, 1, 1, 1, 1, 1]);
  }
});

it("bans a tab that answers wrong bytes, like any lying peer", async () => {
  const gw = await namedPserver("gw-liar");
  const node = await namedPserver("n-liar");
  const { tab, contentId } = await tabWithFile(gw.url, "liar-tab", 2 * 1024 * 1024);
  tab.behaviour.corrupt = true;
  const last = await download(node, contentId);
  expect(last?.state).toBe(TransferState.FAILED);
  expect(last?.bannedPeers).toContain("liar-tab");
});

it("refuses a manifest for another file from the tab, and tells the downloader the tab misbehaved", async () => {
  const gw = await namedPserver("gw-confused");
  const { tab, contentId } = await tabWithFile(gw.url, "confused-tab", 2048);
  const other = path.join(root, `other-${++serial}.bin`);
  await writeRandomFile(other, 4096);
  tab.behaviour.manifestOf = await tab.addFile(other);
  const peer = createClient(PeerService, createGrpcTransport({ baseUrl: tab.relayAddress }));
  const err = await peer.getManifest({ contentId }).catch((e: unknown) => e);
  expect(reasonOf(err)).toBe(ErrorReason.PEER_MISBEHAVED);
  await waitFor(() => tab.answerErrors.length > 0, "the tab told its answer was refused", 5_000, 20);
  expect(reasonOf(tab.answerErrors[0])).toBe(ErrorReason.BAD_MANIFEST);
  // A push with no header is refused at the gateway before the tab hears of it (push.test.ts has the rest).
  const push = await peer.pushFile((async function* () {})()).catch((e: unknown) => e);
  expect(ConnectError.from(push).code).toBe(Code.InvalidArgument);
  expect(reasonOf(push)).toBe(ErrorReason.BAD_PUSH);
});

it("a silent tab fails the relayed call as stalled, after the request timeout", async () => {
  const gw = await namedPserver("gw-silent", { requestTimeoutMs: 500 });
  const { tab, contentId } = await tabWithFile(gw.url, "silent-tab", 1024 * 1024);
  tab.behaviour.silent = true;
  const peer = createClient(PeerService, createGrpcTransport({ baseUrl: tab.relayAddress }));
  const err = await peer.getManifest({ contentId }).catch((e: unknown) => e);
  expect(ConnectError.from(err).code).toBe(Code.DeadlineExceeded);
  expect(reasonOf(err)).toBe(ErrorReason.STALLED);
});

it("keeps a tab listed through a short blip, drops it from search within the session TTL once it stays away", async () => {
  const gw = await namedPserver("gw-detach");
  const { tab, contentId } = await tabWithFile(gw.url, "leaving-tab", 64 * 1024);
  await waitFor(async () => (await holders(contentId)).length === 1, "the tab listed");
  // A blip: gone and back within the grace; still listed well past the session TTL (3 heartbeats).
  tab.detach();
  await tab.attach();
  await new Promise((r) => setTimeout(r, GRACE_MS + 4 * HEARTBEAT_MS));
  expect(await holders(contentId)).toHaveLength(1);

  tab.detach();
  // Grace, then the session TTL: well within 10 s.
  await waitFor(async () => (await holders(contentId)).length === 0, "the detached tab gone from search", 20_000, 100);
  // Back after the directory dropped it: the attach says the session is over; a login brings it back.
  const err = await tab.attach().catch((e: unknown) => e);
  expect(reasonOf(err)).toBe(ErrorReason.SESSION_EXPIRED);
  await tab.login();
  await tab.attach();
  await tab.publishAll();
  await waitFor(async () => (await holders(contentId)).length === 1, "the tab listed again after its login", 10_000, 100);
});

it("moves to a second gateway with its resume token when its gateway goes away, and serves again", async () => {
  const gw1 = await namedPserver("gw-one");
  const gw2 = await namedPserver("gw-two");
  const node = await namedPserver("n-failover");
  const { tab, bytes, contentId } = await tabWithFile(gw1.url, "roaming-tab", 1024 * 1024 + 1);
  await gw1.close();
  await tab.resumeAt(gw2.url);
  expect(tab.relayAddress).toBe(`${gw2.url}/relay/roaming-tab`);
  await waitFor(async () => (await holders(contentId)).some((h) => h.address === tab.relayAddress), "the tab listed at the second gateway");
  const last = await download(node, contentId);
  expect(last?.state, last?.error).toBe(TransferState.COMPLETED);
  expect(sha256Hex(await readFile(path.join(node.sharedDir, last!.name)))).toBe(sha256Hex(bytes));
});

it("resumes at its own gateway after that gateway restarts on the same port", async () => {
  const gw = await namedPserver("gw-restart");
  const port = gw.port;
  const node = await namedPserver("n-restart");
  const { tab, contentId } = await tabWithFile(gw.url, "patient-tab", 300 * 1024);
  await gw.close();
  const again = await namedPserver("gw-restart", {}, port);
  // The restarted gateway forgot the session: the old token is refused, the resume token is not.
  const err = await tab.client.publishFiles({ files: [], replace: false }).catch((e: unknown) => e);
  expect(reasonOf(err)).toBe(ErrorReason.SESSION_EXPIRED);
  await tab.resumeAt(again.url);
  const last = await download(node, contentId);
  expect(last?.state, last?.error).toBe(TransferState.COMPLETED);
});

it("a resume token taken over by another gateway ends the first gateway's session", async () => {
  const gw1 = await namedPserver("gw-a");
  const gw2 = await namedPserver("gw-b");
  const { tab } = await tabWithFile(gw1.url, "taken-tab", 1024);
  const firstSession = new TestTab(gw1.url, "taken-tab", TEST_PASSWORD);
  open.push(firstSession);
  firstSession.sessionToken = tab.sessionToken;
  await tab.resumeAt(gw2.url);
  // gw1 hears from the directory at its next heartbeat that the session moved.
  await waitFor(async () => reasonOf(await firstSession.client.publishFiles({ files: [], replace: false }).then(() => undefined, (e: unknown) => e)) === ErrorReason.SESSION_EXPIRED, "the first gateway's session ended", 5_000);
  // An old resume token is used up.
  const stale = new TestTab(gw1.url, "taken-tab", TEST_PASSWORD);
  open.push(stale);
  stale.resumeToken = "A".repeat(43);
  const err = await stale.resumeAt(gw1.url).catch((e: unknown) => e);
  expect(reasonOf(err)).toBe(ErrorReason.SESSION_EXPIRED);
});

describe("limits and invalid input", () => {
  it("caps attached tabs and relayed streams per tab, with errors that say so", async () => {
    const gw = await namedPserver("gw-caps", { maxTabs: 1, streamsPerTab: 1, requestTimeoutMs: 3_000 });
    const { tab, contentId } = await tabWithFile(gw.url, "first-tab", 1024);
    const second = new TestTab(gw.url, "second-tab", TEST_PASSWORD);
    open.push(second);
    const err = await second.login().catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.ResourceExhausted);
    expect(ConnectError.from(err).rawMessage).toMatch(/serves 1 browser peers already/);

    tab.behaviour.silent = true;
    const peer = createClient(PeerService, createGrpcTransport({ baseUrl: tab.relayAddress }));
    const held = peer.getManifest({ contentId }).catch((e: unknown) => e);
    await waitFor(() => tab.requested > 0, "the first call waiting at the tab", 3_000, 20);
    const refused = await peer.getManifest({ contentId }).catch((e: unknown) => e);
    expect(ConnectError.from(refused).code).toBe(Code.ResourceExhausted);
    expect(ConnectError.from(refused).rawMessage).toMatch(/at most 1/);
    expect(reasonOf(await held)).toBe(ErrorReason.STALLED);
  });

  it("holds relayed pieces within its budget when many tabs answer and their downloaders never read, and an honest relay still completes", async () => {
    const MiB = 1024 * 1024;
    const budget = 16 * MiB;
    // A wait for room (half the request timeout, 4 s) is below the stalled streams' idle timeout (30 s):
    // an honest call that had to wait for them to be ended would fail as RATE_LIMITED instead of completing.
    const gw = await namedPserver("gw-budget", { relayBudgetBytes: budget, requestTimeoutMs: 8_000 });
    const greedy = [];
    for (let t = 0; t < 4; t++) greedy.push(await tabWithFile(gw.url, `greedy-${t}`, 16 * MiB));
    // Half answer in AnswerPieces batches (as the browser peer does), half one piece per call.
    for (const [t, g] of greedy.entries()) g.tab.behaviour.batch = t % 2 === 0;
    // 16 downloaders (4 per tab, each on its own connection from 127.0.0.2) ask for whole files and read
    // at most the first piece: 256 MiB asked for, which the gateway would hold were pieces not budgeted.
    const stalled: AbortController[] = [];
    for (const { tab, contentId } of greedy) {
      for (let d = 0; d < 4; d++) {
        const stop = new AbortController();
        stalled.push(stop);
        const peer = createClient(PeerService, createGrpcTransport({ baseUrl: tab.relayAddress, nodeOptions: { localAddress: "127.0.0.2" } as ClientSessionOptions }));
        const pieces = peer.fetchPieces({ contentId, pieceIndexes: [...Array(16).keys()] }, { signal: stop.signal })[Symbol.asyncIterator]();
        pieces.next().catch(() => undefined);
      }
    }
    await waitFor(() => (gw.gatewayRelayStats()?.waiting ?? 0) > 0, "greedy relayed calls waiting for the budget");

    const { tab, bytes, contentId } = await tabWithFile(gw.url, "honest-tab", 6 * MiB + 5);
    const honest = createClient(PeerService, createGrpcTransport({ baseUrl: tab.relayAddress }));
    const got: Buffer[] = [];
    for await (const piece of honest.fetchPieces({ contentId, pieceIndexes: [0, 1, 2, 3, 4, 5, 6] })) got.push(Buffer.from(piece.data));
    expect(sha256Hex(Buffer.concat(got))).toBe(sha256Hex(bytes));

    const stats = gw.gatewayRelayStats()!;
    expect(stats.budgetBytes).toBe(budget);
    expect(stats.peakBytes).toBeLessThanOrEqual(budget);
    expect(stats.heldBytes).toBeGreaterThan(0); // the greedy calls still hold their share
    // What the greedy tabs were asked for: at most the budget in 1 MiB pieces, besides the first piece each downloader took.
    expect(greedy.reduce((sum, g) => sum + g.tab.requested, 0)).toBeLessThanOrEqual(budget / MiB + stalled.length);
    for (const stop of stalled) stop.abort();
    await waitFor(() => gw.gatewayRelayStats()?.heldBytes === 0 && gw.gatewayRelayStats()?.waiting === 0, "every budgeted byte given back once the stalled calls ended");
  });

  it("refuses a tab's piece longer than its file's piece size before keeping it, and tells the downloader the tab misbehaved", async () => {
    const gw = await namedPserver("gw-oversize");
    const { tab, contentId } = await tabWithFile(gw.url, "oversize-tab", 2 * 1024 * 1024);
    tab.behaviour = { batch: true, oversize: true };
    const peer = createClient(PeerService, createGrpcTransport({ baseUrl: tab.relayAddress }));
    const err = await (async () => {
      for await (const piece of peer.fetchPieces({ contentId, pieceIndexes: [0] })) expect(piece).toBeUndefined();
    })().catch((e: unknown) => e);
    expect(reasonOf(err)).toBe(ErrorReason.PEER_MISBEHAVED);
    await waitFor(() => tab.answerErrors.length > 0, "the tab told its answer was refused", 5_000, 20);
    expect(ConnectError.from(tab.answerErrors[0]).code).toBe(Code.InvalidArgument);
    expect(ConnectError.from(tab.answerErrors[0]).rawMessage).toMatch(/asked for a piece of at most (\d+) bytes \(the file's piece size\), not \d+/);
    await waitFor(() => gw.gatewayRelayStats()?.heldBytes === 0, "the piece's room given back");
  });

  it("publishes a tab's list larger than the directory takes in one request (the gateway's directory client pages it)", async () => {
    const gw = await namedPserver("gw-bulk");
    const { tab } = await tabWithFile(gw.url, "bulk-tab", 1024);
    const files = Array.from({ length: 2_500 }, (_, i) => ({
      contentId: `m1_${createHash("sha256").update(`bulk ${i}`).digest("hex")}`,
      name: `bulk-${i}.bin`,
      size: 1n,
      pieceSize: 1024 * 1024,
    }));
    await tab.client.publishFiles({ files, replace: true });
    // The first, a middle and the last file (three pages of the directory's 1,000) are all listed.
    for (const i of [0, 1_234, 2_499]) expect((await holders(files[i]!.contentId)).map((h) => h.name)).toEqual(["bulk-tab"]);
    // Over the gateway's own cap per call: refused with a sentence, nothing changed.
    const tooMany = Array.from({ length: 10_001 }, (_, i) => ({ ...files[0]!, name: `more-${i}.bin` }));
    const err = await tab.client.publishFiles({ files: tooMany, replace: false }).catch((e: unknown) => e);
    expect(ConnectError.from(err).rawMessage).toMatch(/Publish at most 10000 files per call/);
  });

  it("refuses bad input at the edge with clear errors", async () => {
    const gw = await namedPserver("gw-input");
    const bad = new TestTab(gw.url, "bad name!", TEST_PASSWORD);
    open.push(bad);
    expect(ConnectError.from(await bad.login().catch((e: unknown) => e)).code).toBe(Code.InvalidArgument);
    const short = new TestTab(gw.url, "short-password", "short");
    open.push(short);
    expect(ConnectError.from(await short.login().catch((e: unknown) => e)).rawMessage).toMatch(/password must be 8 to 1024/);

    // No session: every other call is Unauthenticated, Attach included.
    const anonymous = new TestTab(gw.url, "anonymous", TEST_PASSWORD);
    open.push(anonymous);
    const attachErr = await anonymous.attach().catch((e: unknown) => e);
    expect(ConnectError.from(attachErr).code).toBe(Code.Unauthenticated);

    const { tab, contentId } = await tabWithFile(gw.url, "careful-tab", 1024);
    // An answer to nothing asked is refused without harm.
    const late = await tab.client.answerPiece({ requestId: 4242, data: new Uint8Array(10) }).catch((e: unknown) => e);
    expect(reasonOf(late)).toBe(ErrorReason.CANCELLED);
    const empty = await tab.client.answerPiece({ requestId: 1, data: new Uint8Array(0) }).catch((e: unknown) => e);
    expect(ConnectError.from(empty).code).toBe(Code.InvalidArgument);
    const badFile = await tab.client.publishFiles({ files: [{ contentId, name: "../escape", size: 1n, pieceSize: 1024 * 1024 }], replace: false }).catch((e: unknown) => e);
    expect(ConnectError.from(badFile).code).toBe(Code.InvalidArgument);
    expect(ConnectError.from(badFile).rawMessage).toMatch(/files\[0\]\.name/);

    // A relay path of a name with no session here is refused, whatever the directory lists.
    const ghost = createClient(PeerService, createGrpcTransport({ baseUrl: `${gw.url}/relay/nobody-here` }));
    const gone = await ghost.getManifest({ contentId }).catch((e: unknown) => e);
    expect(ConnectError.from(gone).code).toBe(Code.Unavailable);
    expect(reasonOf(gone)).toBe(ErrorReason.PEER_GONE);
    const notAPath = await fetch(`${gw.url}/relay/`, { method: "POST" });
    expect(notAPath.status).toBe(404);
  });

  it("answers a piece posted by fetch in Connect binary with its length, as a browser posts it, and refuses a broken one", async () => {
    const gw = await namedPserver("gw-fetch");
    const { tab } = await tabWithFile(gw.url, "fetch-tab", 1024);
    const post = (body: Uint8Array, headers: Record<string, string> = {}) =>
      fetch(`${gw.url}/p2p.v1.GatewayService/AnswerPiece`, {
        method: "POST",
        headers: { "content-type": "application/proto", authorization: `Bearer ${tab.sessionToken}`, ...headers },
        body,
      });
    const late = await post(toBinary(AnswerPieceRequestSchema, create(AnswerPieceRequestSchema, { requestId: 77, data: new Uint8Array(64 * 1024 + 3) })));
    expect(late.status).toBe(499);
    expect(((await late.json()) as { code: string }).code).toBe("canceled");
    const garbage = await post(new Uint8Array([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]));
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as { message: string }).message).toMatch(/not valid protobuf binary/);
    const anonymous = await post(new Uint8Array(0), { authorization: "Bearer nope" });
    expect(anonymous.status).toBe(401);

    const many = (body: Uint8Array) =>
      fetch(`${gw.url}/p2p.v1.GatewayService/AnswerPieces`, {
        method: "POST",
        headers: { "content-type": "application/proto", authorization: `Bearer ${tab.sessionToken}` },
        body,
      });
    // Pieces no longer wanted are dropped: the call itself succeeds.
    const gone = await many(toBinary(AnswerPiecesRequestSchema, create(AnswerPiecesRequestSchema, { requestIds: [77, 78], sizes: [3, 2], data: new Uint8Array(5) })));
    expect(gone.status).toBe(200);
    const short = await many(toBinary(AnswerPiecesRequestSchema, create(AnswerPiecesRequestSchema, { requestIds: [77, 78], sizes: [3, 3], data: new Uint8Array(5) })));
    expect(short.status).toBe(400);
    expect(((await short.json()) as { message: string }).message).toMatch(/add up to 6 bytes, not the 5/);

    // Fields out of the proto's order (a hand-made message: data first) are read whole and decoded as protobuf does.
    const dataFirst = (fields: (writer: BinaryWriter) => void) => {
      const writer = new BinaryWriter().tag(3, WireType.LengthDelimited).bytes(new Uint8Array(5));
      fields(writer);
      return writer.finish();
    };
    const lateOutOfOrder = await post(new BinaryWriter().tag(2, WireType.LengthDelimited).bytes(new Uint8Array(7)).tag(1, WireType.Varint).uint32(77).finish());
    expect(lateOutOfOrder.status).toBe(499);
    const goneOutOfOrder = await many(dataFirst((w) => w.tag(1, WireType.LengthDelimited).fork().uint32(77).uint32(78).join().tag(2, WireType.LengthDelimited).fork().uint32(3).uint32(2).join()));
    expect(goneOutOfOrder.status).toBe(200);
    const shortOutOfOrder = await many(dataFirst((w) => w.tag(1, WireType.LengthDelimited).fork().uint32(77).uint32(78).join().tag(2, WireType.LengthDelimited).fork().uint32(3).uint32(3).join()));
    expect(shortOutOfOrder.status).toBe(400);

    // A body whose declared length is not what its message's head says is refused before its bytes are kept.
    const declaring = (rpc: string, body: Uint8Array, length: number) =>
      new Promise<{ status: number; message: string }>((resolve, reject) => {
        const req = http.request(`${gw.url}/p2p.v1.GatewayService/${rpc}`, {
          method: "POST",
          headers: { "content-type": "application/proto", authorization: `Bearer ${tab.sessionToken}`, "content-length": String(length) },
        });
        req.on("error", reject);
        req.on("response", (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, message: (JSON.parse(text) as { message: string }).message }));
        });
        req.end(Buffer.from(body).subarray(0, length));
      });
    const one = toBinary(AnswerPieceRequestSchema, create(AnswerPieceRequestSchema, { requestId: 77, data: new Uint8Array(100) }));
    const cut = await declaring("AnswerPiece", one, one.length - 10);
    expect(cut.status).toBe(400);
    expect(cut.message).toMatch(new RegExp(`The body has ${one.length - 10} bytes, not the ${one.length} its message says`));
    const pieces = toBinary(AnswerPiecesRequestSchema, create(AnswerPiecesRequestSchema, { requestIds: [77, 78], sizes: [50, 50], data: new Uint8Array(100) }));
    const cutMany = await declaring("AnswerPieces", pieces, pieces.length - 10);
    expect(cutMany.status).toBe(400);
    expect(cutMany.message).toMatch(new RegExp(`The body has ${pieces.length - 10} bytes, not the ${pieces.length} its message says`));
  });

  it("reads one answer's bytes per piece request: a second answer sent while the first is arriving is read past and answered Canceled", async () => {
    const gw = await namedPserver("gw-twice");
    const { tab, bytes, contentId } = await tabWithFile(gw.url, "twice-tab", 4096);
    tab.behaviour.silent = true;
    const peer = createClient(PeerService, createGrpcTransport({ baseUrl: tab.relayAddress }));
    const fetched = (async () => {
      for await (const piece of peer.fetchPieces({ contentId, pieceIndexes: [0] })) return Buffer.from(piece.data);
    })();
    const [requestId] = await waitFor(() => (tab.pieceRequestIds.length > 0 ? tab.pieceRequestIds : undefined), "the piece request at the tab", 5_000, 20);
    const body = toBinary(AnswerPieceRequestSchema, create(AnswerPieceRequestSchema, { requestId, data: bytes }));
    const url = new URL(`${gw.url}/p2p.v1.GatewayService/AnswerPiece`);
    const headers = { "content-type": "application/proto", authorization: `Bearer ${tab.sessionToken}`, "content-length": String(body.length) };
    // The first answer: its head and half its piece, then a pause.
    const first = http.request(url, { method: "POST", headers });
    const firstStatus = new Promise<number>((resolve, reject) => first.on("response", (res) => (res.resume(), resolve(res.statusCode!))).on("error", reject));
    first.write(body.subarray(0, 2048));
    const second = await fetch(url, { method: "POST", headers, body: toBinary(AnswerPieceRequestSchema, create(AnswerPieceRequestSchema, { requestId, data: new Uint8Array(bytes.length).fill(7) })) });
    expect(second.status).toBe(499);
    expect(((await second.json()) as { code: string }).code).toBe("canceled");
    first.end(body.subarray(2048));
    expect(await firstStatus).toBe(200);
    expect(sha256Hex((await fetched)!)).toBe(sha256Hex(bytes));
  });

  it("the directory refuses a relay address that names another peer", async () => {
    const res = await fetch(`${directory.url}/api/v1/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "mallory", password: TEST_PASSWORD, address: "http://127.0.0.1:7001/relay/alice" }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/relay path/);
  });
});
