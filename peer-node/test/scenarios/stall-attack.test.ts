// Cross-package scenario: the stall attack, against a real directory and real pservers. A staller is a
// real pserver (it logs in, indexes the file, answers Ping) behind a front that other peers reach at its
// advertised address, where it lies: it offers a self-consistent manifest of another piece size, or the
// right manifest and then never sends a byte. Next to an honest holder the download completes from the
// honest one; with the staller alone it ends FAILED with a sentence instead of running on for ever.
import { copyFile, mkdir, readFile, utimes } from "node:fs/promises";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileManifestSchema, GetManifestResponseSchema, PeerService, TransferState, type FetchPiecesResponse, type TransferProgress } from "../../src/gen.js";
import { listenOnePort } from "../../src/rpc/one-port.js";
import { sha256 } from "../../src/store/pieces.js";
import { clientFor, logger, startCluster, TEST_PASSWORD, waitFor, writeRandomFile, type Cluster, type PeerHandle } from "../pserver-harness.js";

const MiB = 1024 * 1024;
const FILE_BYTES = 24 * MiB;

/** How the staller lies. */
type Lie = "divergent-manifest" | "never-sends";

/** A front on its own port: Ping goes to the real pserver behind it, GetManifest and FetchPieces lie. */
async function startStallerFront(lie: Lie, file: Buffer, inner: () => string) {
  const honest = () => createClient(PeerService, createGrpcTransport({ baseUrl: inner() }));
  const asked: number[] = [];
  const routes = (router: ConnectRouter) =>
    router.service(PeerService, {
      ping: (req) => honest().ping(req),
      async getManifest(req) {
        const truth = await honest().getManifest(req);
        if (lie === "never-sends" || !truth.manifest) return truth;
        // Self-consistent at 16 KiB pieces: every piece would verify against it.
        const pieceSize = 16 * 1024;
        const pieceHashes: Uint8Array[] = [];
        for (let at = 0; at < file.length; at += pieceSize) pieceHashes.push(sha256(file.subarray(at, at + pieceSize)));
        return create(GetManifestResponseSchema, { manifest: create(FileManifestSchema, { ...truth.manifest, pieceSize, pieceHashes }) });
      },
      async *fetchPieces(req, ctx: HandlerContext): AsyncGenerator<FetchPiecesResponse> {
        asked.push(...req.pieceIndexes);
        // Holds the stream open and sends nothing until the caller gives up.
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      },
      pushFile: () => {
        throw new Error("not in this test");
      },
    });
  // On the pserver's one-port listener, as a real pserver: the directory's address check calls it over
  // HTTP/1.1 (Connect JSON), other peers over h2c (gRPC).
  const front = await listenOnePort({ host: "127.0.0.1", port: 0, handler: connectNodeAdapter({ routes }), logger });
  return { url: front.url, asked, close: () => front.close() };
}

let cluster: Cluster;
let source: { bytes: Buffer; contentId: string };
const closers: Array<() => Promise<void>> = [];

beforeEach(async () => {
  cluster = await startCluster({ heartbeatIntervalMs: 400 });
  await mkdir(path.join(cluster.root, "src"), { recursive: true });
  source = await writeRandomFile(path.join(cluster.root, "src", "film.mkv"), FILE_BYTES);
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  const started = Date.now();
  await cluster?.close();
  if (Date.now() - started > 5_000) console.info(`cluster close took ${Date.now() - started} ms`);
}, 120_000);

/** Puts the file in `name`'s shared folder, settled (as if copied there a while ago). */
async function seed(name: string): Promise<void> {
  const dir = path.join(cluster.root, name, "shared");
  await mkdir(dir, { recursive: true });
  await copyFile(path.join(cluster.root, "src", "film.mkv"), path.join(dir, "film.mkv"));
  const old = new Date(Date.now() - 10_000);
  await utimes(path.join(dir, "film.mkv"), old, old);
}

/** Starts a staller: a real pserver holding the file, advertised at a lying front. */
async function startStaller(lie: Lie) {
  await seed("staller");
  let innerUrl = "";
  const front = await startStallerFront(lie, source.bytes, () => innerUrl);
  closers.push(() => front.close());
  const peer = await cluster.startPeer("staller", { password: TEST_PASSWORD, advertisedAddress: front.url });
  innerUrl = peer.url;
  return front;
}

/** The directory lists these holders of the file. */
async function listed(names: string[]): Promise<void> {
  await waitFor(async () => {
    const res = await fetch(`${cluster.directory.url}/api/v1/files/${source.contentId}`);
    if (!res.ok) return false;
    const body = (await res.json()) as { holders: Array<{ name: string }> };
    return names.every((n) => body.holders.some((h) => h.name === n));
  }, `${names.join(" and ")} to be listed as holders`, 30_000);
}

/** Downloads the file on `me` through its ClientService; the final progress, every source seen, and the time taken. */
async function download(me: PeerHandle): Promise<{ last: TransferProgress; sources: Set<string>; seconds: number }> {
  const tab = clientFor(me.url);
  tab.token = (await tab.login({ username: me.name, password: TEST_PASSWORD })).sessionToken;
  const started = Date.now();
  let last: TransferProgress | undefined;
  const sources = new Set<string>();
  for await (const { progress } of tab.download({ contentId: source.contentId })) {
    if (!progress) continue;
    last = progress;
    for (const s of progress.sources) sources.add(s);
  }
  return { last: last!, sources, seconds: (Date.now() - started) / 1000 };
}

describe("the stall attack", () => {
  it("a holder offering a divergent manifest (16 KiB pieces) next to an honest holder: the download completes from the honest one", async () => {
    const staller = await startStaller("divergent-manifest");
    await seed("honest");
    await cluster.startPeer("honest", { password: TEST_PASSWORD });
    const me = await cluster.startPeer("me", { password: TEST_PASSWORD });
    await listed(["staller", "honest"]);
    const { last, sources, seconds } = await download(me);
    expect(last.error).toBe("");
    expect(last.state).toBe(TransferState.COMPLETED);
    expect(sources.has("staller")).toBe(false);
    expect(last.bannedPeers).toEqual(["staller"]);
    expect(staller.asked).toEqual([]);
    expect((await readFile(path.join(me.sharedDir, "film.mkv"))).equals(source.bytes)).toBe(true);
    console.info(`divergent manifest next to an honest holder: completed in ${seconds.toFixed(1)} s`);
  });

  it("a holder with the right manifest that never sends a piece, next to an honest holder: the download completes from the honest one", async () => {
    const staller = await startStaller("never-sends");
    await seed("honest");
    await cluster.startPeer("honest", { password: TEST_PASSWORD });
    const me = await cluster.startPeer("me", { password: TEST_PASSWORD });
    await listed(["staller", "honest"]);
    const { last, seconds } = await download(me);
    expect(last.error).toBe("");
    expect(last.state).toBe(TransferState.COMPLETED);
    // The staller was asked for pieces and sent none: every byte came from the honest holder.
    expect(staller.asked.length).toBeGreaterThan(0);
    expect((await readFile(path.join(me.sharedDir, "film.mkv"))).equals(source.bytes)).toBe(true);
    console.info(`never-sending holder next to an honest holder: completed in ${seconds.toFixed(1)} s`);
  });

  it("the staller as the only holder: the download ends FAILED with a sentence that names it", async () => {
    await startStaller("never-sends");
    const me = await cluster.startPeer("me", { password: TEST_PASSWORD });
    await listed(["staller"]);
    const { last, seconds } = await download(me);
    expect(last.state).toBe(TransferState.FAILED);
    expect(last.error).toMatch(/^No peer holding this file is reachable any more \(1 tried; staller sent no piece for 15 s\)\. The verified part is kept|^No peer holding this file is reachable any more \(1 tried; staller sent no piece for 15 s\)\.$/);
    console.info(`never-sending holder alone: FAILED after ${seconds.toFixed(1)} s`);
  });
});
