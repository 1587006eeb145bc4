import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it, vi } from "vitest";
import { createClientApi } from "../client/api.js";
import {
  DirectoryLinkSchema,
  FileListSchema,
  LocalFileSchema,
  PeerListSchema,
  PeerSchema,
  TransferKind,
  TransferState,
  WatchEventsResponseSchema,
  type WatchEventsResponse,
} from "../client/gen.js";
import { MemoryStorage, TokenStore } from "../client/token-store.js";
import { FakePserver, progress, settle } from "../testing/fake-pserver.js";
import { AppState } from "./app.svelte.js";
import { EventFeed } from "./event-feed.svelte.js";
import { TransfersState } from "./transfers.svelte.js";

const MB = 1_000_000;
const event = (value: WatchEventsResponse["event"]): WatchEventsResponse => create(WatchEventsResponseSchema, { event: value });

async function loggedInApp() {
  const pserver = new FakePserver();
  const tokens = new TokenStore(new MemoryStorage());
  const app = new AppState({ transport: pserver.transport(tokens), tokens, baseUrl: "http://alice.test" });
  await app.start();
  expect(await app.login("alice", "correct horse")).toBe(true);
  await settle();
  return { pserver, app, tokens };
}

describe("transfer list from the event feed", () => {
  it("fills files, peers, transfers and the directory link from the snapshot, then follows changes", async () => {
    const { pserver, app } = await loggedInApp();
    const feed = pserver.eventFeed(0);
    feed.push(event({ case: "files", value: create(FileListSchema, { files: [create(LocalFileSchema, { contentId: `m1_${"f".repeat(64)}`, name: "a.txt", size: 5n })] }) }));
    feed.push(event({ case: "peers", value: create(PeerListSchema, { peers: [create(PeerSchema, { name: "alice" }), create(PeerSchema, { name: "bob" })] }) }));
    feed.push(event({ case: "directory", value: create(DirectoryLinkSchema, { loggedIn: true, reachable: true, lastHeartbeatAt: timestampFromMs(42_000) }) }));
    feed.push(event({ case: "transfer", value: progress({ id: "t1", done: 10, total: 100, sources: ["bob"] }) }));
    await settle();

    expect(app.feed.status).toBe("live");
    expect(app.files.files.map((f) => f.name)).toEqual(["a.txt"]);
    expect(app.peers.peers.map((p) => p.name)).toEqual(["alice", "bob"]);
    expect(app.session.link).toEqual({ loggedIn: true, reachable: true, lastHeartbeatAtMs: 42_000 });
    expect(app.transfers.list.map((t) => [t.id, t.phase, t.bytesDone, t.sources])).toEqual([["t1", "running", 10, ["bob"]]]);

    feed.push(event({ case: "transfer", value: progress({ id: "t1", done: 60, total: 100, sources: ["bob", "carol"] }) }));
    feed.push(event({ case: "peers", value: create(PeerListSchema, { peers: [create(PeerSchema, { name: "alice" })] }) }));
    await settle();
    // A running transfer is redrawn a few times a second: the report shows with the next redraw.
    await vi.waitFor(() => expect(app.transfers.get("t1")).toMatchObject({ bytesDone: 60, sources: ["bob", "carol"] }), { timeout: 10_000 });
    expect(app.peers.peers.map((p) => p.name)).toEqual(["alice"]);

    feed.push(event({ case: "transfer", value: progress({ id: "t1", state: TransferState.FAILED, done: 60, error: "Every peer holding this file went away." }) }));
    // A late report from the Download stream must not bring a failed transfer back to life.
    feed.push(event({ case: "transfer", value: progress({ id: "t1", done: 70 }) }));
    await settle();
    expect(app.transfers.get("t1")).toMatchObject({ phase: "failed", error: "Every peer holding this file went away.", bytesDone: 60 });
    expect(app.transfers.activeCount).toBe(0);
    expect(app.transfers.endedCount).toBe(1);
    app.destroy();
  });

  it("keeps finished transfers listed until cleared, running ones first", () => {
    const transfers = new TransfersState({ api: createClientApi(new FakePserver().transport()) });
    transfers.applyProgress(progress({ id: "done", state: TransferState.COMPLETED, done: 100 }));
    transfers.applyProgress(progress({ id: "up", kind: TransferKind.UPLOAD, done: 5 }));
    transfers.applyProgress(progress({ id: "up", kind: TransferKind.UPLOAD, done: 3 }));
    expect(transfers.list.map((t) => [t.id, t.kind, t.bytesDone])).toEqual([
      ["up", "upload", 5],
      ["done", "download", 100],
    ]);
    transfers.clearEnded();
    expect(transfers.list.map((t) => t.id)).toEqual(["up"]);
    // The next snapshot (after a reconnect) does not bring a cleared one back.
    transfers.applyProgress(progress({ id: "done", state: TransferState.COMPLETED, done: 100 }));
    expect(transfers.list.map((t) => t.id)).toEqual(["up"]);
  });

  it("follows a download's own progress stream to the end", async () => {
    const { pserver, app } = await loggedInApp();
    const id = `m1_${"d".repeat(64)}`;
    const running = app.download(id, "movie.mkv");
    await settle();
    const stream = pserver.downloadFeeds.get(id);
    stream?.push(progress({ id: "dl-1", contentId: id, name: "movie.mkv", done: 50, total: 200, sources: ["bob"] }));
    await settle();
    expect(app.transfers.activeDownloadOf(id)).toMatchObject({ id: "dl-1", bytesDone: 50 });
    stream?.push(progress({ id: "dl-1", contentId: id, name: "movie.mkv", state: TransferState.COMPLETED, done: 200, total: 200 }));
    stream?.close();
    await running;
    expect(app.transfers.get("dl-1")?.phase).toBe("completed");
    expect(app.notices.items).toEqual([]);
    app.destroy();
  });

  it("lists a download that could not start as failed, with a sentence", async () => {
    const { pserver, app } = await loggedInApp();
    pserver.downloadError = new ConnectError("no live holder", Code.NotFound);
    await app.download(`m1_${"e".repeat(64)}`, "gone.zip");
    expect(app.transfers.list[0]).toMatchObject({ kind: "download", name: "gone.zip", phase: "failed", error: "That file is no longer available: no live peer holds it." });
    expect(app.notices.items.map((n) => n.text)).toEqual(["That file is no longer available: no live peer holds it."]);
    app.destroy();
  });

  it("explains a push whose receiver went away", async () => {
    const { app } = await loggedInApp();
    await app.upload(`m1_${"a".repeat(64)}`, "report.pdf", "bob");
    expect(app.transfers.list[0]).toMatchObject({ kind: "upload", targetPeer: "bob", phase: "failed", error: "The other peer went away before the transfer finished." });
    app.destroy();
  });
});

describe("EventFeed", () => {
  it("reconnects with growing pauses when the stream drops, and is live again after the snapshot", async () => {
    const pserver = new FakePserver();
    const tokens = new TokenStore(new MemoryStorage());
    const api = createClientApi(pserver.transport(tokens));
    tokens.set((await api.login({ username: "alice", password: "correct horse" })).sessionToken);
    const transfers = new TransfersState({ api });
    const feed = new EventFeed({
      api,
      baseDelayMs: 5,
      random: () => 0.5,
      handlers: { files: () => {}, peers: () => {}, directory: () => {}, sessionEnded: () => {}, transfer: (p) => transfers.applyProgress(p) },
    });
    expect([0, 1, 2, 10].map((attempt) => feed.delayMs(attempt))).toEqual([5, 10, 20, 5120]);

    feed.start();
    pserver.eventFeed(0).push(event({ case: "transfer", value: progress({ id: "t", done: 1 }) }));
    await settle();
    expect(feed.status).toBe("live");

    pserver.eventFeed(0).close(new ConnectError("connection reset", Code.Unavailable));
    pserver.eventFeed(1).close(new ConnectError("still down", Code.Unavailable));
    await settle();
    expect(feed.status).toBe("reconnecting");

    pserver.eventFeed(2).push(event({ case: "transfer", value: progress({ id: "t", done: 9 }) }));
    for (let i = 0; i < 50 && feed.status !== "live"; i += 1) await new Promise((r) => setTimeout(r, 5));
    expect(feed.status).toBe("live");
    expect(pserver.watchCalls).toBe(3);
    await vi.waitFor(() => expect(transfers.get("t")?.bytesDone).toBe(9), { timeout: 10_000 });
    feed.stop();
  });

  it("logs the tab out when the pserver no longer knows the session", async () => {
    const { pserver, app, tokens } = await loggedInApp();
    pserver.eventFeed(0).close(new ConnectError("session expired", Code.Unauthenticated));
    await settle();
    expect(app.session.loggedIn).toBe(false);
    expect(app.session.endedReason).toBe("Your session has ended. Please log in again.");
    expect(tokens.token).toBeUndefined();
    expect(app.feed.status).toBe("stopped");
    app.destroy();
  });
});

describe("the transfer list's redraws", () => {
  it("shows a burst of reports of a running download as its latest figures, and its end at once", async () => {
    const transfers = new TransfersState({ api: createClientApi(new FakePserver().transport()) });
    transfers.applyProgress(progress({ id: "d", name: "movie.mkv", done: 0, total: 100 * MB, sources: ["bob"] }));
    for (let done = 1; done <= 60; done += 1) transfers.applyProgress(progress({ id: "d", name: "", done: done * MB, total: 100 * MB, sources: ["bob", "carol"] }));
    // An older report arriving late (the event feed behind the Download stream) never moves it back.
    transfers.applyProgress(progress({ id: "d", name: "", done: 40 * MB, total: 100 * MB, sources: ["bob", "carol"] }));
    await vi.waitFor(() => expect(transfers.get("d")).toMatchObject({ name: "movie.mkv", bytesDone: 60 * MB, sources: ["bob", "carol"] }), { timeout: 10_000 });

    transfers.applyProgress(progress({ id: "d", done: 70 * MB, total: 100 * MB }));
    transfers.applyProgress(progress({ id: "d", done: 80 * MB, total: 100 * MB }));
    transfers.applyProgress(progress({ id: "d", state: TransferState.COMPLETED, done: 100 * MB, total: 100 * MB }));
    expect(transfers.get("d")).toMatchObject({ phase: "completed", bytesDone: 100 * MB });
    // A report held back before the end never shows after it.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(transfers.get("d")).toMatchObject({ phase: "completed", bytesDone: 100 * MB });
  });

  it("shows a tab-driven import's held byte count before its next phase", () => {
    const transfers = new TransfersState({ api: createClientApi(new FakePserver().transport()), now: () => 5_000 });
    const local = transfers.addLocal({ kind: "import", name: "a.bin", bytesTotal: 10 * MB, phase: "running" });
    transfers.progress(local.id, 1 * MB);
    transfers.progress(local.id, 5 * MB);
    transfers.progress(local.id, 10 * MB);
    expect(transfers.get(local.id)?.bytesDone).toBe(1 * MB);
    transfers.patch(local.id, { phase: "verifying" });
    expect(transfers.get(local.id)).toMatchObject({ phase: "verifying", bytesDone: 10 * MB });
  });
});

describe("the transfer list's speed", () => {
  it("is hidden for the first seconds of a download and smoothed after", () => {
    let now = 10_000;
    const transfers = new TransfersState({ api: createClientApi(new FakePserver().transport()), now: () => now });
    transfers.applyProgress(progress({ id: "d", done: 0, total: 50 * MB }));
    now += 500;
    transfers.applyProgress(progress({ id: "d", done: 10 * MB, total: 50 * MB }));
    expect(transfers.get("d")).toMatchObject({ rateBytesPerSecond: 0, etaSeconds: 0 });
    for (let done = 12 * MB; done <= 24 * MB; done += 2 * MB) {
      now += 1_000;
      transfers.applyProgress(progress({ id: "d", done, total: 50 * MB }));
    }
    const view = transfers.get("d");
    expect(view?.rateBytesPerSecond).toBeGreaterThan(2 * MB);
    expect(view?.rateBytesPerSecond).toBeLessThan(4 * MB);
    expect(view?.etaSeconds).toBeGreaterThan(5);
    transfers.applyProgress(progress({ id: "d", state: TransferState.COMPLETED, done: 50 * MB, total: 50 * MB }));
    expect(transfers.get("d")).toMatchObject({ rateBytesPerSecond: 0, etaSeconds: 0 });
  });
});
