// Manifest choice against real holders (serving peers on 127.0.0.1): only the manifest the content id
// names is used, however many holders send another one, and those that do are refused.
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HolderLookup } from "../../src/download/holder-lookup.js";
import { VerifiedManifestChoice } from "../../src/download/manifest-choice.js";
import { PeerClients } from "../../src/pieces/peer-clients.js";
import type { Manifest } from "../../src/store/file-store.js";
import { contentIdOfManifest, sha256 } from "../../src/store/pieces.js";
import type { PeerRef } from "../../src/transfer/api.js";
import { logger, tempDir } from "../store/helpers.js";
import { startTestPeer, type TestPeer, type TestPeerOptions } from "../transfer/helpers.js";

let root: string;
let cleanup: () => Promise<void>;
let contentId: string;
let bytes: Buffer;
const closers: Array<() => Promise<void> | void> = [];

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cleanup();
});

/** The content id of some bytes. */
function contentIdOfFile(data: Buffer): string {
  const hashes = [0, 1, 2].map((i) => sha256(data.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024)));
  return contentIdOfManifest(data.length, 1024 * 1024, hashes);
}

/** A holder that serves the manifest with its piece hashes all zero: the right shape, but another file. */
const lie = async (inner: (id: string) => Promise<Manifest | undefined>, id: string) => {
  const m = (await inner(id))!;
  return { ...m, pieceHashes: m.pieceHashes.map(() => new Uint8Array(32)) };
};
/** A holder whose manifest is self-consistent at another piece size (16 KiB): the stall attack's manifest. */
const divergent = async (_inner: (id: string) => Promise<Manifest | undefined>, id: string) => {
  const pieceSize = 16 * 1024;
  const pieceHashes: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += pieceSize) pieceHashes.push(sha256(bytes.subarray(o, o + pieceSize)));
  return { contentId: id, name: "song.bin", size: bytes.length, pieceSize, pieceHashes };
};
/** A holder whose manifest does not add up (a piece hash missing). */
const broken = async (inner: (id: string) => Promise<Manifest | undefined>, id: string) => {
  const m = (await inner(id))!;
  return { ...m, pieceHashes: m.pieceHashes.slice(1) };
};

async function holders(specs: Array<Omit<TestPeerOptions, "root">>): Promise<TestPeer[]> {
  await mkdir(join(root, "src"), { recursive: true });
  const path = join(root, "src", "song.bin");
  bytes = randomBytes(2 * 1024 * 1024 + 17);
  await writeFile(path, bytes);
  contentId = contentIdOfFile(bytes);
  const peers: TestPeer[] = [];
  for (const spec of specs) {
    const shared = join(root, spec.name, "shared");
    await mkdir(shared, { recursive: true });
    await copyFile(path, join(shared, "song.bin"));
    const old = new Date(Date.now() - 10_000);
    await utimes(join(shared, "song.bin"), old, old);
    const peer = await startTestPeer({ ...spec, root });
    closers.push(() => peer.close());
    peers.push(peer);
  }
  return peers;
}

/** A choice for the current content id over `listed` holders, excluding those it distrusts. */
function choice(listed: () => PeerRef[]) {
  const peers = new PeerClients({ logger });
  closers.push(() => peers.close());
  const signal = new AbortController().signal;
  let made: VerifiedManifestChoice | undefined;
  const lookup = new HolderLookup({
    contentId,
    findHolders: async () => listed(),
    selfName: "me",
    excluded: (name) => made?.distrusted.has(name) ?? false,
    logger,
    signal,
  });
  made = new VerifiedManifestChoice({ contentId, lookup, peers, logger, signal, manifestTimeoutMs: 5_000, noHolderGraceMs: 500 });
  return made;
}

const refs = (peers: TestPeer[]) => () => peers.map((p) => ({ name: p.name, address: p.address }));
const names = (rs: readonly PeerRef[]) => rs.map((r) => r.name);
const hashes = (m: Manifest) => m.pieceHashes.map((h) => Buffer.from(h).toString("hex"));

describe("VerifiedManifestChoice", () => {
  it("uses only the holders whose manifest the content id names, and refuses the others", async () => {
    const peers = await holders([{ name: "liar", manifest: lie }, { name: "a" }, { name: "divergent", manifest: divergent }, { name: "broken", manifest: broken }, { name: "b" }]);
    const c = choice(refs(peers));
    const chosen = await c.choose(undefined);
    expect(names(chosen.holders)).toEqual(["a", "b"]);
    expect(chosen.isSaved).toBe(false);
    expect(chosen.manifest.pieceSize).toBe(1024 * 1024);
    expect(hashes(chosen.manifest)).toEqual(hashes((await peers[1]!.store.manifest(contentId))!));
    expect([...c.distrusted].sort()).toEqual(["broken", "divergent", "liar"]);
    // A holder found later is used only if it serves that manifest; a refused one is not asked again.
    expect(await c.serves({ name: "b", address: peers[4]!.address })).toBe(true);
    expect(await c.serves({ name: "liar", address: peers[0]!.address })).toBe(false);
    expect(peers[0]!.served).toEqual([]);
  });

  it("gives the honest holder the download however many holders back a divergent manifest", async () => {
    const peers = await holders([
      { name: "sybil1", manifest: divergent },
      { name: "sybil2", manifest: divergent },
      { name: "sybil3", manifest: divergent },
      { name: "honest" },
    ]);
    const chosen = await choice(refs(peers)).choose(undefined);
    expect(names(chosen.holders)).toEqual(["honest"]);
  });

  it("keeps a resumed download's manifest and finds the holders that serve it", async () => {
    const peers = await holders([{ name: "liar1", manifest: lie }, { name: "honest" }]);
    const saved = { ...(await peers[1]!.store.manifest(contentId))!, name: "renamed.bin" };
    const chosen = await choice(refs(peers)).choose(saved);
    expect(chosen.isSaved).toBe(true);
    expect(chosen.manifest.name).toBe("renamed.bin");
    expect(names(chosen.holders)).toEqual(["honest"]);
  });

  it("says so in a sentence when no holder is listed, or every one sent a manifest the id does not name", async () => {
    const peers = await holders([{ name: "divergent", manifest: divergent }]);
    await expect(choice(() => []).choose(undefined)).rejects.toThrow("No live peer holds this file right now.");
    await expect(choice(refs(peers)).choose(undefined)).rejects.toThrow(
      "None of the peers that hold this file answered with the manifest its content id names (divergent sent a different one and were refused).",
    );
  });
});
