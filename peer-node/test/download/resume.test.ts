import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rename, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, expect, it } from "vitest";
import { SharedFolder } from "../../src/store/shared-folder.js";
import { PieceDownloader } from "../../src/download/downloader.js";
import { PeerClients } from "../../src/pieces/peer-clients.js";
import { TransferRegistry, type Transfer } from "../../src/transfer/transfer.js";
import { logger, tempDir, waitFor, writeRandomFile } from "../store/helpers.js";
import { TEST_PIECE_BYTES, startTestPeer, type TestPeer } from "../transfer/helpers.js";

const fixture = fileURLToPath(new URL("./fixtures/download-child.ts", import.meta.url));
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

function popcount(bits: Buffer): Set<number> {
  const set = new Set<number>();
  for (let i = 0; i < bits.length * 8; i++) if (bits[i >> 3]! & (1 << (i & 7))) set.add(i);
  return set;
}

/** Kills a downloading child process midway, then restarts the download with `restart` on the same folders. */
async function killAndRestart(restart: (d: PieceDownloader, contentId: string) => Promise<Transfer>): Promise<void> {
  const size = 32 * TEST_PIECE_BYTES;
  await mkdir(join(root, "src"));
  const src = await writeRandomFile(join(root, "src", "big.bin"), size);
  const peers: TestPeer[] = [];
  for (const name of ["a", "b"]) {
    await mkdir(join(root, name, "shared"), { recursive: true });
    const path = join(root, name, "shared", "big.bin");
    await copyFile(join(root, "src", "big.bin"), path);
    await utimes(path, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
    // Slow enough to kill the downloader midway (about 8 s for the whole file; saves come every second).
    const peer = await startTestPeer({ name, root, limits: { uploadBytesPerSecond: 2_000_000 } });
    closers.push(() => peer.close());
    peers.push(peer);
  }
  const holders = peers.map((p) => ({ name: p.name, address: p.address }));
  const folder = join(root, "me", "shared");
  const dataDir = join(root, "me", "data");
  const bitsPath = join(folder, ".p2p-partial", `${src.contentId}.bits`);

  const child = spawn(process.execPath, ["--import", "tsx", fixture, JSON.stringify({ folder, dataDir, contentId: src.contentId, holders })], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  closers.push(() => {
    child.kill("SIGKILL");
  });
  // Kill it once a good part of the file is saved as verified, well before the end.
  await waitFor(async () => {
    const bits = await readFile(bitsPath).catch(() => undefined);
    return bits && popcount(bits).size >= 6;
  }, "the child to save some verified pieces", 30_000);
  child.kill("SIGKILL");
  await exited;
  expect(out).not.toMatch(/done/);
  const savedVerified = popcount(await readFile(bitsPath));
  const pieces = size / TEST_PIECE_BYTES;
  expect(savedVerified.size).toBeLessThan(pieces);
  const servedBefore = peers.map((p) => p.served.length);

  // A new pserver on the same folders picks the download up.
  const store = await SharedFolder.open({ folder, dataDir, logger });
  const clients = new PeerClients({ logger });
  const d = new PieceDownloader({ store, registry: new TransferRegistry(), findHolders: async () => holders, peers: clients, logger, selfName: "me" });
  closers.push(async () => {
    await d.close();
    clients.close();
    await store.close();
  });
  const transfer = await restart(d, src.contentId);
  const first = transfer.snapshot();
  // The saved pieces show from the start (a download started over would show 0).
  expect(first.bytesDone).toBeGreaterThanOrEqual(savedVerified.size * TEST_PIECE_BYTES);
  const end = await transfer.done;
  expect(end.error).toBe("");
  expect(end.state).toBe("completed");
  expect((await readFile(join(folder, "big.bin"))).equals(src.bytes)).toBe(true);

  const servedAfter = peers.flatMap((p, k) => p.served.slice(servedBefore[k]));
  const refetchedVerified = servedAfter.filter((i) => savedVerified.has(i));
  expect(refetchedVerified).toEqual([]);
  // Everything not saved as verified was fetched after the restart.
  expect(new Set(servedAfter).size).toBe(pieces - savedVerified.size);
}

it("resumes a download after the downloading process was killed, without refetching verified pieces", async () => {
  await killAndRestart(async (d) => {
    const resumed = await d.resumeUnfinished();
    expect(resumed).toHaveLength(1);
    expect(resumed[0]!.snapshot().bytesTotal).toBe(32 * TEST_PIECE_BYTES);
    return resumed[0]!;
  });
});

it("resumes from the saved pieces when Download is called again after a restart (not starting over)", async () => {
  await killAndRestart(async (d, contentId) => {
    const t = d.download(contentId);
    // The job loads the saved state before it looks for holders.
    await waitFor(() => t.snapshot().bytesDone > 0, "the saved pieces to be loaded", 5_000);
    // resumeUnfinished racing with it does not start a second download.
    expect(await d.resumeUnfinished()).toEqual([]);
    return t;
  });
});

it("resumes, under the new id, a download an older version left under the whole-file id, without refetching its verified pieces", async () => {
  await killAndRestart(async (d, contentId) => {
    // Made into the state an older version left: its files named by the SHA-256 of the whole file, the
    // same manifest (as that version saved it) naming that old id.
    const partial = join(root, "me", "shared", ".p2p-partial");
    const source = await readFile(join(root, "src", "big.bin"));
    const old = createHash("sha256").update(source).digest("hex");
    for (const suffix of [".part", ".bits"]) await rename(join(partial, `${contentId}${suffix}`), join(partial, `${old}${suffix}`));
    const saved = JSON.parse(await readFile(join(partial, `${contentId}.manifest.json`), "utf8")) as { contentId: string };
    await writeFile(join(partial, `${old}.manifest.json`), JSON.stringify({ ...saved, contentId: old }));
    await rm(join(partial, `${contentId}.manifest.json`));
    const resumed = await d.resumeUnfinished();
    expect(resumed.map((t) => t.snapshot().contentId)).toEqual([contentId]);
    expect((await readdir(partial)).filter((f) => f.startsWith(old))).toEqual([]);
    return resumed[0]!;
  });
});
