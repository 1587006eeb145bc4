// ClientService and GET /files of real pservers, against a real directory, over every protocol a
// pclient may use. Peers: alice and bob log in at start by themselves; carol starts offline.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import http2 from "node:http2";
import path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PushAccept, TransferKind, TransferState } from "../src/gen.js";
import { IMPORT_CHUNK_SIZE_BYTES } from "../src/constants.js";
import {
  clientFor,
  contentIdOf,
  startCluster,
  TEST_PASSWORD,
  waitFor,
  writeRandomFile,
  type Cluster,
  type PeerHandle,
  type ProtocolName,
} from "./pserver-harness.js";

let cluster: Cluster;
let alice: PeerHandle;
let bob: PeerHandle;
let carol: PeerHandle;
let report: { bytes: Buffer; contentId: string };

/** The Connect code of a rejected call. */
async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "OK";
  } catch (err) {
    return Code[ConnectError.from(err).code];
  }
}

/** A logged-in client of a pserver. */
async function session(peer: PeerHandle, protocol: ProtocolName = "connect-json") {
  const client = clientFor(peer.url, protocol);
  client.token = (await client.login({ username: peer.name, password: TEST_PASSWORD })).sessionToken;
  return client;
}

/** Imports bytes through BeginImport / ImportChunk (shuffled, 4 at a time) / FinishImport. */
async function importBytes(client: Awaited<ReturnType<typeof session>>, name: string, bytes: Buffer, contentId = contentIdOf(bytes)) {
  const begun = await client.beginImport({ name, size: BigInt(bytes.length), contentId });
  const count = Math.ceil(bytes.length / begun.chunkSize);
  const order = [...Array(count).keys()].filter((i) => !begun.receivedChunks.includes(i)).sort(() => Math.random() - 0.5);
  const workers = Array.from({ length: 4 }, async () => {
    for (let i = order.pop(); i !== undefined; i = order.pop()) {
      await client.importChunk({ importId: begun.importId, chunkIndex: i, data: bytes.subarray(i * begun.chunkSize, (i + 1) * begun.chunkSize) });
    }
  });
  await Promise.all(workers);
  return client.finishImport({ importId: begun.importId });
}

beforeAll(async () => {
  cluster = await startCluster();
  await mkdir(path.join(cluster.root, "alice", "shared"), { recursive: true });
  report = await writeRandomFile(path.join(cluster.root, "alice", "shared", "quarterly report.pdf"), 300_000);
  alice = await cluster.startPeer("alice", { password: TEST_PASSWORD });
  bob = await cluster.startPeer("bob", { password: TEST_PASSWORD });
  carol = await cluster.startPeer("carol");
  // Files already in a folder are hashed in the background after start; wait until the directory has it.
  await waitFor(async () => (await fetch(`${cluster.directory.url}/api/v1/files/${report.contentId}`)).ok, "the file in the directory");
});
afterAll(async () => {
  await cluster?.close();
});

describe.each<ProtocolName>(["connect-json", "connect-binary", "grpc-web", "grpc"])("ClientService over %s", (protocol) => {
  it("Login refuses a wrong password and opens a session with the right one", async () => {
    const client = clientFor(alice.url, protocol);
    expect(await codeOf(client.login({ username: "alice", password: "wrong-password" }))).toBe("Unauthenticated");
    const res = await client.login({ username: "alice", password: TEST_PASSWORD });
    expect(res.peerName).toBe("alice");
    expect(res.sessionToken.length).toBeGreaterThanOrEqual(32);
    expect(Number(res.expiresAt!.seconds) * 1000).toBeGreaterThan(Date.now());
  });

  it("answers Unauthenticated without a session, and for another peer's token", async () => {
    const anonymous = clientFor(alice.url, protocol);
    expect(await codeOf(anonymous.listFiles({}))).toBe("Unauthenticated");
    const bobs = await session(bob, protocol);
    const stolen = clientFor(alice.url, protocol);
    stolen.token = bobs.token;
    expect(await codeOf(stolen.listFiles({}))).toBe("Unauthenticated");
    expect(await codeOf(stolen.removeFile({ contentId: report.contentId }))).toBe("Unauthenticated");
  });

  it("lists the shared folder and searches the network, marking what is held here", async () => {
    const a = await session(alice, protocol);
    const files = (await a.listFiles({})).files;
    expect(files.map((f) => [f.name, f.contentId, Number(f.size)])).toContainEqual(["quarterly report.pdf", report.contentId, 300_000]);
    const fromAlice = await a.search({ query: "QUARTERLY" });
    expect(fromAlice.results.map((r) => [r.name, r.heldLocally, r.holders.map((h) => h.name)])).toEqual([["quarterly report.pdf", true, ["alice"]]]);
    const b = await session(bob, protocol);
    const fromBob = await b.search({ contentId: report.contentId });
    expect(fromBob.results.map((r) => [r.name, r.heldLocally])).toEqual([["quarterly report.pdf", false]]);
  });

  it("imports a file sent in shuffled parallel chunks", async () => {
    const b = await session(bob, protocol);
    const bytes = randomBytes(2 * 1024 * 1024 + 777);
    const { file } = await importBytes(b, `imported-${protocol}.bin`, bytes);
    expect(file?.contentId).toBe(contentIdOf(bytes));
    const onDisk = await readFile(path.join(bob.sharedDir, `imported-${protocol}.bin`));
    expect(onDisk.equals(bytes)).toBe(true);
  });

  it("refuses an import whose bytes do not match the content id with DataLoss, keeping nothing", async () => {
    const b = await session(bob, protocol);
    const bytes = randomBytes(100_000);
    const error = await importBytes(b, `wrong-${protocol}.bin`, bytes, contentIdOf(Buffer.from("other bytes"))).catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.DataLoss);
    expect((await b.listFiles({})).files.map((f) => f.name)).not.toContain(`wrong-${protocol}.bin`);
  });

  it("WatchEvents sends a snapshot, then the file list when a file is added", async () => {
    const b = await session(bob, protocol);
    const controller = new AbortController();
    const name = `watched-${protocol}.txt`;
    const seen: string[] = [];
    const watching = (async () => {
      for await (const event of b.watchEvents({}, { signal: controller.signal })) {
        seen.push(event.event.case ?? "?");
        if (event.event.case === "directory" && seen.length === 1) {
          expect(event.event.value.loggedIn).toBe(true);
        }
        if (event.event.case === "files" && seen.filter((s) => s === "files").length === 1) {
          // The snapshot's list is in; now add a file to the folder.
          await writeFile(path.join(bob.sharedDir, name), `hello ${protocol}`);
        }
        if (event.event.case === "files" && event.event.value.files.some((f) => f.name === name)) return true;
      }
      return false;
    })();
    const timeout = setTimeout(() => controller.abort(), 15_000);
    const found = await watching.catch(() => false);
    clearTimeout(timeout);
    controller.abort();
    expect(found).toBe(true);
    expect(seen.slice(0, 2)).toEqual(["directory", "files"]);
    expect(seen).toContain("peers");
  });
});

describe("ClientService rules", () => {
  it("GetStatus works without a session and tells more with one", async () => {
    const anonymous = clientFor(alice.url);
    const bare = await anonymous.getStatus({});
    expect(bare).toMatchObject({ peerName: "alice", loggedIn: true, sessionValid: false, directoryUrl: cluster.directory.url, fileCount: 0 });
    const a = await session(alice);
    const full = await a.getStatus({});
    expect(full).toMatchObject({ peerName: "alice", loggedIn: true, sessionValid: true, directoryUrl: cluster.directory.url, directoryReachable: true, address: alice.url });
    expect(full.fileCount).toBeGreaterThanOrEqual(1);
  });

  it("lets only the pserver's own name log in", async () => {
    const client = clientFor(alice.url);
    const error = await client.login({ username: "mallory", password: TEST_PASSWORD }).catch((e: unknown) => ConnectError.from(e));
    expect((error as ConnectError).code).toBe(Code.PermissionDenied);
    expect((error as ConnectError).rawMessage).toMatch(/log in as alice/);
  });

  it("a pserver started without a password goes online when its tab logs in", async () => {
    const before = await (await session(alice)).listPeers({});
    expect(before.peers.map((p) => p.name)).not.toContain("carol");
    const c = clientFor(carol.url);
    expect((await c.getStatus({})).loggedIn).toBe(false);
    await session(carol);
    expect((await c.getStatus({})).loggedIn).toBe(true);
    const after = await (await session(alice)).listPeers({});
    expect(after.peers.map((p) => [p.name, p.address])).toContainEqual(["carol", carol.url]);
  });

  it.each([
    ["../../etc/passwd", /path/],
    ["..", /\.\./],
    ["a\\b.txt", /path/],
    [".hidden", /Hidden/],
    ["", /empty/],
  ])("refuses the import name %j with InvalidArgument", async (name, message) => {
    const b = await session(bob);
    const error = await b.beginImport({ name, size: 3n, contentId: contentIdOf(Buffer.from("abc")) }).catch((e: unknown) => ConnectError.from(e));
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    expect((error as ConnectError).rawMessage).toMatch(message);
  });

  it.each([
    ["a short content id", { contentId: "abc" }],
    ["an upper-case content id", { contentId: `m1_${"A".repeat(64)}` }],
  ])("refuses %s with InvalidArgument", async (_what, req) => {
    const a = await session(alice);
    expect(await codeOf(a.removeFile(req))).toBe("InvalidArgument");
    expect(await codeOf(a.search(req))).toBe("InvalidArgument");
    expect(await codeOf(a.download(req)[Symbol.asyncIterator]().next())).toBe("InvalidArgument");
  });

  it("a file added to the shared folder shows up in search within seconds", async () => {
    const { contentId } = await writeRandomFile(path.join(alice.sharedDir, "fresh-holiday-photo.jpg"), 20_000);
    const b = await session(bob);
    const result = await waitFor(async () => (await b.search({ query: "holiday-photo" })).results.find((r) => r.contentId === contentId), "the new file in search");
    expect(result.holders.map((h) => h.name)).toEqual(["alice"]);
  });

  it("CancelTransfer stops an import and discards it", async () => {
    const b = await session(bob);
    const bytes = randomBytes(3 * 1024 * 1024);
    const begun = await b.beginImport({ name: "to-cancel.bin", size: BigInt(bytes.length), contentId: contentIdOf(bytes) });
    await b.importChunk({ importId: begun.importId, chunkIndex: 0, data: bytes.subarray(0, begun.chunkSize) });
    await b.cancelTransfer({ transferId: begun.importId });
    const cancelled = await waitFor(async () => (await b.listTransfers({})).transfers.find((t) => t.transferId === begun.importId && t.state === TransferState.CANCELLED), "the import to be cancelled");
    expect(cancelled.kind).toBe(TransferKind.IMPORT);
    expect(await codeOf(b.importChunk({ importId: begun.importId, chunkIndex: 1, data: bytes.subarray(begun.chunkSize, 2 * begun.chunkSize) }))).toBe("NotFound");
    expect(await codeOf(b.cancelTransfer({ transferId: "no-such-transfer" }))).toBe("NotFound");
  });

  it("serves GET /files/<contentId> with Range through a save link (CreateSaveLink) or a bearer header, never ?token=", async () => {
    const a = await session(alice);
    const url = `${alice.url}/files/${report.contentId}`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(`${url}?token=${a.token}`)).status).toBe(400);
    const link = await a.createSaveLink({ contentId: report.contentId });
    expect(link.path).toMatch(new RegExp(`^/files/${report.contentId}\\?link=[0-9a-z]+\\.[A-Za-z0-9_-]{43}$`));
    expect(link.path).not.toContain(a.token!);
    const whole = await fetch(`${alice.url}${link.path}`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-disposition")).toContain(`filename="quarterly report.pdf"`);
    expect(whole.headers.get("content-type")).toBe("application/pdf");
    expect(Buffer.from(await whole.arrayBuffer()).equals(report.bytes)).toBe(true);
    const part = await fetch(url, { headers: { authorization: `Bearer ${a.token}`, range: "bytes=-100" } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(report.bytes.subarray(-100))).toBe(true);
    expect((await fetch(url, { headers: { authorization: `Bearer ${a.token}`, range: "bytes=300000-" } })).status).toBe(416);
  });

  it("serves GET /files over h2c too (same port, same rules)", async () => {
    const a = await session(alice);
    const h2 = http2.connect(alice.url);
    try {
      const get = (headers: http2.OutgoingHttpHeaders) =>
        new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
          const req = h2.request({ ":path": `/files/${report.contentId}`, ...headers });
          const chunks: Buffer[] = [];
          let status = 0;
          req.on("response", (h) => (status = Number(h[":status"])));
          req.on("data", (c: Buffer) => chunks.push(c));
          req.on("end", () => resolve({ status, body: Buffer.concat(chunks) }));
          req.on("error", reject);
          req.end();
        });
      expect((await get({})).status).toBe(401);
      const part = await get({ authorization: `Bearer ${a.token}`, range: "bytes=10-19" });
      expect(part.status).toBe(206);
      expect(part.body.equals(report.bytes.subarray(10, 20))).toBe(true);
      const whole = await get({ authorization: `Bearer ${a.token}` });
      expect(whole.body.equals(report.bytes)).toBe(true);
    } finally {
      h2.close();
    }
  });

  it("downloads from the network into the shared folder, bytes identical", async () => {
    // bob takes a copy first (by name), so carol can fetch from two holders.
    const b = await session(bob);
    let last;
    for await (const { progress } of b.download({ name: "quarterly report.pdf" })) last = progress;
    expect(last?.state).toBe(TransferState.COMPLETED);
    const c = await session(carol);
    for await (const { progress } of c.download({ contentId: report.contentId })) last = progress;
    expect(last?.state).toBe(TransferState.COMPLETED);
    expect((await readFile(path.join(carol.sharedDir, "quarterly report.pdf"))).equals(report.bytes)).toBe(true);
    expect(await codeOf(c.download({ contentId: report.contentId })[Symbol.asyncIterator]().next())).toBe("AlreadyExists");
  });

  it("a download goes on when its stream is closed, and CancelTransfer stops one", async () => {
    // dave serves at 1 MiB/s, so a 2 MiB download runs long enough to watch, close and cancel.
    await mkdir(path.join(cluster.root, "dave", "shared"), { recursive: true });
    const slowA = await writeRandomFile(path.join(cluster.root, "dave", "shared", "slow-a.bin"), 2 * 1024 * 1024);
    const slowB = await writeRandomFile(path.join(cluster.root, "dave", "shared", "slow-b.bin"), 2 * 1024 * 1024);
    const dave = await cluster.startPeer("dave", { password: TEST_PASSWORD, uploadBytesPerSecond: 1024 * 1024 });
    await waitFor(async () => (await fetch(`${cluster.directory.url}/api/v1/files/${slowB.contentId}`)).ok, "dave's files in the directory");
    const c = await session(carol);

    const closed = new AbortController();
    for await (const { progress } of c.download({ contentId: slowA.contentId }, { signal: closed.signal })) {
      expect(progress?.kind).toBe(TransferKind.DOWNLOAD);
      break; // leaving the loop closes the stream
    }
    closed.abort();

    let transferId = "";
    for await (const { progress } of c.download({ contentId: slowB.contentId })) {
      if (progress?.state === TransferState.RUNNING && !transferId) {
        transferId = progress.transferId;
        await c.cancelTransfer({ transferId });
      }
      if (progress && progress.state >= TransferState.COMPLETED) {
        expect(progress.state).toBe(TransferState.CANCELLED);
        break;
      }
    }
    expect(transferId).not.toBe("");

    const finished = await waitFor(async () => (await c.listTransfers({})).transfers.find((t) => t.contentId === slowA.contentId && t.state === TransferState.COMPLETED), "the closed-stream download to complete");
    expect(finished.name).toBe("slow-a.bin");
    expect((await readFile(path.join(carol.sharedDir, "slow-a.bin"))).equals(slowA.bytes)).toBe(true);
    expect((await c.listFiles({})).files.map((f) => f.contentId)).not.toContain(slowB.contentId);
    await dave.close();
  });

  it("names a download started by content id from its manifest on: in Download, WatchEvents and ListTransfers", async () => {
    // frank serves at 1 MiB/s, so the 2 MiB download is still running while ListTransfers is asked.
    await mkdir(path.join(cluster.root, "frank", "shared"), { recursive: true });
    const song = await writeRandomFile(path.join(cluster.root, "frank", "shared", "named by the manifest.ogg"), 2 * 1024 * 1024);
    const frank = await cluster.startPeer("frank", { password: TEST_PASSWORD, uploadBytesPerSecond: 1024 * 1024 });
    await waitFor(async () => (await fetch(`${cluster.directory.url}/api/v1/files/${song.contentId}`)).ok, "frank's file in the directory");
    const c = await session(carol);
    const watched: Array<{ state: TransferState; name: string; bytesTotal: bigint }> = [];
    const watching = new AbortController();
    const watch = (async () => {
      for await (const { event } of c.watchEvents({}, { signal: watching.signal })) {
        if (event.case === "transfer" && event.value.contentId === song.contentId) watched.push(event.value);
        if (event.case === "transfer" && event.value.contentId === song.contentId && event.value.state === TransferState.COMPLETED) return;
      }
    })().catch(() => undefined);

    const streamed: Array<{ state: TransferState; name: string; bytesTotal: bigint }> = [];
    let listedWhileRunning: string | undefined;
    for await (const { progress } of c.download({ contentId: song.contentId })) {
      if (!progress) continue;
      streamed.push(progress);
      if (progress.state === TransferState.RUNNING && listedWhileRunning === undefined) {
        listedWhileRunning = (await c.listTransfers({})).transfers.find((t) => t.transferId === progress.transferId)?.name;
      }
    }
    const timeout = setTimeout(() => watching.abort(), 15_000);
    await watch;
    clearTimeout(timeout);
    watching.abort();
    await frank.close();

    expect(streamed.at(-1)?.state).toBe(TransferState.COMPLETED);
    expect(listedWhileRunning).toBe("named by the manifest.ogg");
    // Before the manifest there is no name to give; from it on (its size comes with it), every message has it.
    for (const seen of [streamed, watched]) {
      const afterManifest = seen.filter((p) => p.bytesTotal > 0n || p.state >= TransferState.RUNNING);
      expect(afterManifest.length).toBeGreaterThan(0);
      expect(new Set(afterManifest.map((p) => p.name))).toEqual(new Set(["named by the manifest.ogg"]));
      expect(seen.filter((p) => p.name === "").every((p) => p.state === TransferState.QUEUED && p.bytesTotal === 0n)).toBe(true);
    }
  });

  it("uploads (pushes) a held file only to peers whose push setting takes it, bytes identical, and the receiver hears who sent it", async () => {
    const a = await session(alice);
    const c = await session(carol);
    const bytes = randomBytes(1_500_000);
    const { file } = await importBytes(a, "pushed-gift.bin", bytes);
    // A fresh peer takes no push: the directory refuses to name carol, and nothing reaches her folder.
    expect((await c.getSettings({})).settings?.pushPolicy).toMatchObject({ accept: PushAccept.NOBODY, from: [], quotaUsedBytes: 0n });
    const refused = await a.upload({ contentId: file!.contentId, targetPeer: "carol" })[Symbol.asyncIterator]().next().catch((e: unknown) => ConnectError.from(e));
    expect((refused as ConnectError).code).toBe(Code.PermissionDenied);
    expect((refused as ConnectError).rawMessage).toBe('The directory will not let carol receive this file: peer "carol" does not accept pushes');
    await expect(readFile(path.join(carol.sharedDir, "pushed-gift.bin"))).rejects.toThrow(/ENOENT/);

    // Carol takes pushes from alice (a listed policy); bob from anyone.
    const policy = { accept: PushAccept.LISTED, from: ["alice"], maxFileBytes: 10_000_000n, quotaBytes: 20_000_000n };
    expect((await c.updateSettings({ pushPolicy: policy })).settings?.pushPolicy).toMatchObject({ accept: PushAccept.LISTED, from: ["alice"] });
    const b = await session(bob);
    await b.updateSettings({ pushPolicy: { accept: PushAccept.ANYONE, maxFileBytes: 10_000_000n, quotaBytes: 20_000_000n } });
    const watching = new AbortController();
    const heard = (async () => {
      for await (const { event } of c.watchEvents({}, { signal: watching.signal })) if (event.case === "pushReceived") return event.value;
      return undefined;
    })().catch(() => undefined);
    let last;
    await waitFor(async () => {
      for await (const { progress } of a.upload({ contentId: file!.contentId, targetPeer: "carol" })) last = progress;
      return true;
    }, "the directory to hear carol's push policy");
    expect(last).toMatchObject({ state: TransferState.COMPLETED, kind: TransferKind.UPLOAD, targetPeer: "carol" });
    expect((await readFile(path.join(carol.sharedDir, "pushed-gift.bin"))).equals(bytes)).toBe(true);
    const news = await heard;
    watching.abort();
    expect(news).toMatchObject({ from: "alice", contentId: file!.contentId, name: "pushed-gift.bin", size: 1_500_000n });
    expect((await c.getSettings({})).settings?.pushPolicy?.quotaUsedBytes).toBe(1_500_000n);
    // The receiving tab sees the incoming push as a finished download from alice.
    const received = (await (await session(carol)).listTransfers({})).transfers.find((t) => t.contentId === file!.contentId);
    expect(received).toMatchObject({ kind: TransferKind.DOWNLOAD, state: TransferState.COMPLETED, sources: ["alice"], bytesDone: 1_500_000n });

    // Without a target the directory picks a live peer that lacks the file: once it knows carol has it, only bob.
    await waitFor(async () => (await a.search({ contentId: file!.contentId })).results[0]?.holders.length === 2, "carol as a holder in the directory");
    for await (const { progress } of a.upload({ contentId: file!.contentId })) last = progress;
    expect(last).toMatchObject({ state: TransferState.COMPLETED, targetPeer: "bob" });
    expect((await readFile(path.join(bob.sharedDir, "pushed-gift.bin"))).equals(bytes)).toBe(true);
    // Once the directory knows every live peer holds it, nobody is left to push to, and the user is told so.
    await waitFor(async () => (await a.search({ contentId: file!.contentId })).results[0]?.holders.length === 3, "three holders in the directory");
    const error = await a.upload({ contentId: file!.contentId })[Symbol.asyncIterator]().next().catch((e: unknown) => ConnectError.from(e));
    expect((error as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((error as ConnectError).rawMessage).toMatch(/No peer can receive this file/);
  });

  it("refuses a download by a name that several different files share", async () => {
    await writeFile(path.join(alice.sharedDir, "minutes.txt"), "alice's minutes");
    await writeFile(path.join(bob.sharedDir, "minutes.txt"), "bob's minutes, different bytes");
    const c = await session(carol);
    await waitFor(async () => (await c.search({ query: "minutes.txt" })).results.length === 2, "both files in search");
    const error = await c.download({ name: "minutes.txt" })[Symbol.asyncIterator]().next().catch((e: unknown) => ConnectError.from(e));
    expect((error as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((error as ConnectError).rawMessage).toMatch(/2 different files are named "minutes.txt".*download by content id/);
    expect(await codeOf(c.download({ name: "no-such-file.txt" })[Symbol.asyncIterator]().next())).toBe("NotFound");
  });

  it("resumes an import after the pserver restarts", async () => {
    let b = await session(bob);
    const bytes = randomBytes(2 * IMPORT_CHUNK_SIZE_BYTES + 5);
    const contentId = contentIdOf(bytes);
    const begun = await b.beginImport({ name: "survives-restart.bin", size: BigInt(bytes.length), contentId });
    const chunk = (i: number) => bytes.subarray(i * begun.chunkSize, (i + 1) * begun.chunkSize);
    await Promise.all([2, 0].map((i) => b.importChunk({ importId: begun.importId, chunkIndex: i, data: chunk(i) })));
    await bob.close();
    bob = await cluster.startPeer("bob", { password: TEST_PASSWORD });
    b = await session(bob);
    const again = await b.beginImport({ name: "survives-restart.bin", size: BigInt(bytes.length), contentId });
    expect(again.importId).toBe(begun.importId);
    expect([...again.receivedChunks].sort()).toEqual([0, 2]);
    const { file } = await importBytes(b, "survives-restart.bin", bytes);
    expect(file?.contentId).toBe(contentId);
    expect((await readFile(path.join(bob.sharedDir, "survives-restart.bin"))).equals(bytes)).toBe(true);
  });

  it("Logout ends the session and takes the peer offline", async () => {
    const c = await session(carol);
    await c.logout({});
    expect(await codeOf(c.listFiles({}))).toBe("Unauthenticated");
    const a = await session(alice);
    const peers = (await a.listPeers({})).peers.map((p) => p.name);
    expect(peers).not.toContain("carol");
  });
});
