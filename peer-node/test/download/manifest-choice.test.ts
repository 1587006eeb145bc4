// Manifest choice against real holders (serving peers on 127.0.0.1): the vote, the preference for a
// resumed download's manifest, and what happens after a manifest proves wrong.
import { copyFile, mkdir, utimes } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HolderLookup } from "../../src/download/holder-lookup.js";
import { MajorityManifestChoice } from "../../src/download/manifest-choice.js";
import { PeerClients } from "../../src/pieces/peer-clients.js";
import type { Manifest } from "../../src/store/file-store.js";
import type { PeerRef } from "../../src/transfer/api.js";
import { logger, tempDir, writeRandomFile } from "../store/helpers.js";
import { startTestPeer, type TestPeer, type TestPeerOptions } from "../transfer/helpers.js";

let root: string;
let cleanup: () => Promise<void>;
let contentId: string;
const closers: Array<() => Promise<void> | void> = [];

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cleanup();
});

/** A holder that serves a manifest whose piece hashes are all zero: it adds up, but describes another file. */
const lie = async (inner: (id: string) => Promise<Manifest | undefined>, id: string) => {
  const m = (await inner(id))!;
  return { ...m, pieceHashes: m.pieceHashes.map(() => new Uint8Array(32)) };
};
/** A holder whose manifest does not add up (a piece hash missing). */
const broken = async (inner: (id: string) => Promise<Manifest | undefined>, id: string) => {
  const m = (await inner(id))!;
  return { ...m, pieceHashes: m.pieceHashes.slice(1) };
};

async function holders(specs: Array<Omit<TestPeerOptions, "root">>): Promise<TestPeer[]> {
  await mkdir(join(root, "src"), { recursive: true });
  const path = join(root, "src", "song.bin");
  ({ contentId } = await writeRandomFile(path, 1024 * 1024 + 17));
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
  let made: MajorityManifestChoice | undefined;
  const lookup = new HolderLookup({
    contentId,
    findHolders: async () => listed(),
    selfName: "me",
    excluded: (name) => made?.distrusted.has(name) ?? false,
    logger,
    signal,
  });
  made = new MajorityManifestChoice({ contentId, lookup, peers, logger, signal, manifestTimeoutMs: 5_000, noHolderGraceMs: 500 });
  return made;
}

const refs = (peers: TestPeer[]) => () => peers.map((p) => ({ name: p.name, address: p.address }));
const names = (rs: readonly PeerRef[]) => rs.map((r) => r.name);
const hashes = (m: Manifest) => m.pieceHashes.map((h) => Buffer.from(h).toString("hex"));

describe("MajorityManifestChoice", () => {
  it("goes with the manifest most holders serve, ignoring manifests that do not add up", async () => {
    const peers = await holders([{ name: "liar", manifest: lie }, { name: "a" }, { name: "broken", manifest: broken }, { name: "b" }]);
    const c = choice(refs(peers));
    const chosen = await c.choose(undefined);
    expect(names(chosen.holders)).toEqual(["a", "b"]);
    expect(chosen.isSaved).toBe(false);
    expect(hashes(chosen.manifest)).toEqual(hashes((await peers[1]!.store.manifest(contentId))!));
    // A holder found later is used only if it serves the same manifest.
    expect(await c.serves({ name: "b", address: peers[3]!.address })).toBe(true);
    expect(await c.serves({ name: "liar", address: peers[0]!.address })).toBe(false);
    expect(await c.serves({ name: "broken", address: peers[2]!.address })).toBe(false);
  });

  it("after the chosen manifest proves wrong, distrusts its holders and goes with another, each manifest once", async () => {
    // 1-1: the liar is listed first, so the vote goes its way.
    const peers = await holders([{ name: "liar", manifest: lie }, { name: "honest" }]);
    const c = choice(refs(peers));
    expect(names((await c.choose(undefined)).holders)).toEqual(["liar"]);
    expect(c.rejectChosen()).toEqual(["liar"]);
    expect([...c.distrusted]).toEqual(["liar"]);
    const next = await c.choose(undefined);
    expect(names(next.holders)).toEqual(["honest"]);
    expect(hashes(next.manifest)).toEqual(hashes((await peers[1]!.store.manifest(contentId))!));
    // Each distinct manifest is tried once: when this one proves wrong too, nobody is left to ask.
    expect(c.rejectChosen()).toEqual(["honest"]);
    await expect(c.choose(undefined)).rejects.toThrow("No live peer holds this file right now.");
    expect(c.rejectChosen()).toBeUndefined();
  });

  it("keeps a resumed download's manifest while a holder serves it, even against the majority", async () => {
    const peers = await holders([{ name: "liar1", manifest: lie }, { name: "liar2", manifest: lie }, { name: "honest" }]);
    const saved = (await peers[2]!.store.manifest(contentId))!;
    const chosen = await choice(refs(peers)).choose(saved);
    expect(chosen.isSaved).toBe(true);
    expect(names(chosen.holders)).toEqual(["honest"]);
  });

  it("says so in a sentence when no holder is listed, or none answers with a usable manifest", async () => {
    const peers = await holders([{ name: "broken", manifest: broken }]);
    await expect(choice(() => []).choose(undefined)).rejects.toThrow("No live peer holds this file right now.");
    await expect(choice(refs(peers)).choose(undefined)).rejects.toThrow("None of the peers that hold this file (broken) answered with a usable manifest.");
  });
});
