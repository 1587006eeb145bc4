import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FolderDelta } from "../../src/store/file-store.js";
import { pieceCount, sha256 } from "../../src/store/pieces.js";
import { PARTIAL_DIR_NAME } from "../../src/store/partial-folder.js";
import { SharedFolder } from "../../src/store/shared-folder.js";
import { logger, contentIdOf, tempDir, waitFor, writeRandomFile } from "./helpers.js";

const PIECE = 1024 * 1024; // pieceSizeFor every file here
let root: string;
let cleanup: () => Promise<void>;
let folder: string;
let dataDir: string;
const stores: SharedFolder[] = [];

async function openStore(): Promise<SharedFolder> {
  const s = await SharedFolder.open({ folder, dataDir, logger, settleMs: 100 });
  stores.push(s);
  return s;
}

/** Makes a file look settled to the scanner (as if written a while ago). */
async function age(path: string): Promise<void> {
  const t = new Date(Date.now() - 10_000);
  await utimes(path, t, t);
}

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
  folder = join(root, "shared");
  dataDir = join(root, "data");
  await mkdir(folder);
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await cleanup();
});

describe("SharedFolder scan", () => {
  it("indexes regular files by content id with correct manifests, skipping hidden, partial, symlinks and subfolders", async () => {
    const a = await writeRandomFile(join(folder, "a.bin"), 3 * PIECE + 123);
    const b = await writeRandomFile(join(folder, "b.txt"), 10);
    await writeFile(join(folder, ".hidden"), "secret");
    await mkdir(join(folder, "sub"));
    await writeFile(join(folder, "sub", "inner.txt"), "inner");
    await symlink("/etc/hostname", join(folder, "link.txt"));
    await writeFile(join(folder, "empty.txt"), "");
    for (const n of ["a.bin", "b.txt", "empty.txt"]) await age(join(folder, n));

    const store = await openStore();
    const names = store.list().map((f) => f.name).sort();
    expect(names).toEqual(["a.bin", "b.txt", "empty.txt"]);
    expect(store.get(a.contentId)?.size).toBe(3 * PIECE + 123);
    expect(store.get(b.contentId)?.name).toBe("b.txt");

    const m = (await store.manifest(a.contentId))!;
    expect(m.pieceSize).toBe(PIECE);
    expect(m.pieceHashes).toHaveLength(4);
    for (let i = 0; i < 4; i++) {
      const piece = await store.readPiece(a.contentId, i);
      expect(Buffer.from(piece).equals(a.bytes.subarray(i * PIECE, (i + 1) * PIECE))).toBe(true);
      expect(sha256(piece).equals(Buffer.from(m.pieceHashes[i]!))).toBe(true);
    }
    await expect(store.readPiece(a.contentId, 4)).rejects.toThrow(/past the end/);
    await expect(store.readPiece(`m1_${"0".repeat(64)}`, 0)).rejects.toMatchObject({ code: "not_found", reason: "FILE_NOT_HELD" });

    const empty = (await store.manifest(contentIdOf(Buffer.alloc(0))))!;
    expect(empty.size).toBe(0);
    expect(empty.pieceHashes).toHaveLength(0);
    expect(pieceCount(0, PIECE)).toBe(0);

    expect(await store.freeBytes()).toBeGreaterThan(0);
  });

  it("does not rehash unchanged files after a restart (hash cache), but rehashes a changed one", async () => {
    for (let i = 0; i < 3; i++) {
      await writeRandomFile(join(folder, `f${i}.bin`), 2 * PIECE);
      await age(join(folder, `f${i}.bin`));
    }
    const first = await openStore();
    expect(first.stats.filesHashed).toBe(3);
    const ids = first.list().map((f) => f.contentId).sort();
    const m0 = await first.manifest(ids[0]!);
    await first.close();

    const second = await openStore();
    expect(second.stats.filesHashed).toBe(0);
    expect(second.list().map((f) => f.contentId).sort()).toEqual(ids);
    // Manifests come from the data dir too: still no hashing.
    const m1 = await second.manifest(ids[0]!);
    expect(second.stats.filesHashed).toBe(0);
    expect(m1!.pieceHashes.map((h) => Buffer.from(h).toString("hex"))).toEqual(m0!.pieceHashes.map((h) => Buffer.from(h).toString("hex")));
    await second.close();

    const changed = await writeRandomFile(join(folder, "f1.bin"), PIECE);
    await age(join(folder, "f1.bin"));
    const third = await openStore();
    expect(third.stats.filesHashed).toBe(1);
    expect(third.list().some((f) => f.contentId === changed.contentId)).toBe(true);
  });
});

describe("SharedFolder watcher", () => {
  it("picks up files added, changed, renamed and removed, emitting deltas", async () => {
    const store = await openStore();
    const deltas: FolderDelta[] = [];
    store.on("change", (d: FolderDelta) => deltas.push(d));

    // added (written in two steps, like a copy in progress)
    const path = join(folder, "new.bin");
    const bytes = randomBytes(PIECE + 7);
    await writeFile(path, bytes.subarray(0, 1000));
    await writeFile(path, bytes);
    const id = contentIdOf(bytes);
    await waitFor(() => store.get(id), "added file indexed");
    expect(deltas.flatMap((d) => d.added.map((f) => f.contentId))).toContain(id);
    expect(deltas.flatMap((d) => d.added.map((f) => f.contentId))).not.toContain(contentIdOf(bytes.subarray(0, 1000)));

    // changed
    const bytes2 = randomBytes(2 * PIECE);
    await writeFile(path, bytes2);
    const id2 = contentIdOf(bytes2);
    await waitFor(() => store.get(id2), "changed file reindexed");
    expect(store.get(id)).toBeUndefined();
    expect(deltas.flatMap((d) => d.removed)).toContain(id);

    // renamed: same content, new name, no rehash
    const hashedBefore = store.stats.filesHashed;
    await rename(path, join(folder, "renamed.bin"));
    await waitFor(() => store.get(id2)?.name === "renamed.bin", "rename picked up");
    expect(store.stats.filesHashed).toBe(hashedBefore);
    expect(deltas.at(-1)!.added.map((f) => f.name)).toEqual(["renamed.bin"]);

    // removed
    await rm(join(folder, "renamed.bin"));
    await waitFor(() => store.get(id2) === undefined, "removal picked up");
    expect(deltas.at(-1)!.removed).toEqual([id2]);
    // Nothing in the partial folder is ever indexed.
    await writeFile(join(folder, PARTIAL_DIR_NAME, "x.part"), "partial");
    await store.rescan();
    expect(store.list()).toEqual([]);
  });
});

describe("SharedFolder adopt and remove", () => {
  async function verifiedTemp(store: SharedFolder, bytes: Buffer, name: string) {
    const tempPath = store.partialDir.pathOf(`t-${Math.random()}`);
    await writeFile(tempPath, bytes);
    const pieceHashes = [];
    for (let o = 0; o < bytes.length; o += PIECE) pieceHashes.push(sha256(bytes.subarray(o, o + PIECE)));
    return { tempPath, name, manifest: { contentId: contentIdOf(bytes), name, size: bytes.length, pieceSize: PIECE, pieceHashes } };
  }

  it("gives a colliding name a unique name, never overwrites, and never stores the same content twice", async () => {
    const existing = await writeRandomFile(join(folder, "song.mp3"), 1000);
    await age(join(folder, "song.mp3"));
    const store = await openStore();
    const deltas: FolderDelta[] = [];
    store.on("change", (d: FolderDelta) => deltas.push(d));

    const other = randomBytes(2 * PIECE + 5);
    const adopted = await store.adopt(await verifiedTemp(store, other, "song.mp3"));
    expect(adopted.name).toBe("song (1).mp3");
    expect((await readFile(join(folder, "song.mp3"))).equals(existing.bytes)).toBe(true);
    expect((await readFile(join(folder, "song (1).mp3"))).equals(other)).toBe(true);
    expect(deltas.at(-1)!.added.map((f) => f.name)).toEqual(["song (1).mp3"]);

    // Same content again under another name: kept once, temp removed.
    const again = await verifiedTemp(store, other, "copy.mp3");
    const same = await store.adopt(again);
    expect(same.name).toBe("song (1).mp3");
    expect((await readdir(folder)).sort()).toEqual([PARTIAL_DIR_NAME, "song (1).mp3", "song.mp3"]);
    expect(await readdir(store.partialDir.path)).toEqual([]);

    await expect(store.adopt(await verifiedTemp(store, randomBytes(10), "../evil"))).rejects.toMatchObject({ code: "invalid_argument", reason: "BAD_NAME" });

    // The watcher sees the adopted file as already indexed: no rehash.
    await store.rescan();
    expect(store.stats.filesHashed).toBe(1);

    await store.remove(adopted.contentId);
    expect(store.get(adopted.contentId)).toBeUndefined();
    expect((await readdir(folder)).sort()).toEqual([PARTIAL_DIR_NAME, "song.mp3"]);
    await expect(store.remove(adopted.contentId)).rejects.toMatchObject({ code: "not_found", reason: "FILE_NOT_HELD" });
  });
});
