// PartialDownload.rebase on real files: what survives a change of manifest, on disk, across a reload.
import { randomBytes } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Manifest } from "../../src/store/file-store.js";
import { pieceCount, sha256 } from "../../src/store/pieces.js";
import { PartialDownload } from "../../src/download/partial-download.js";
import { PartialFolder } from "../../src/store/partial-folder.js";
import { logger, tempDir } from "../store/helpers.js";

const PIECE = 16 * 1024; // the smallest a manifest may use
let dir: PartialFolder;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  const temp = await tempDir();
  cleanup = temp.cleanup;
  dir = await PartialFolder.open(temp.dir, logger);
});
afterEach(() => cleanup());

/** A manifest of `bytes` cut in `pieceSize` pieces. */
function manifestOf(bytes: Buffer, pieceSize = PIECE): Manifest {
  const hashes: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += pieceSize) hashes.push(new Uint8Array(sha256(bytes.subarray(at, at + pieceSize))));
  return { contentId: sha256(bytes).toString("hex"), name: "file.bin", size: bytes.length, pieceSize, pieceHashes: hashes };
}

const bitsOf = (p: PartialDownload) => Array.from({ length: p.count }, (_, i) => p.has(i));

describe("PartialDownload.rebase", () => {
  it("keeps the verified pieces the new manifest agrees with, and a reload finds the new manifest and those bits", async () => {
    const bytes = randomBytes(10 * PIECE + 100);
    const right = manifestOf(bytes);
    // A lying manifest: pieces 2 and 7 described wrongly.
    const lie: Manifest = { ...right, pieceHashes: right.pieceHashes.map((h, i) => (i === 2 || i === 7 ? new Uint8Array(32).fill(i) : h)) };
    const first = await PartialDownload.create(dir, lie, "file.bin");
    for (const i of [0, 1, 2, 3, 7, 10]) first.markVerified(i);
    await first.save();
    const second = await first.rebase(right);
    expect(second.manifest).toBe(right);
    expect(bitsOf(second)).toEqual([true, true, false, true, false, false, false, false, false, false, true]);
    expect(second.name).toBe("file.bin");
    await second.close();
    const reloaded = (await PartialDownload.load(dir, right.contentId))!;
    expect(reloaded.manifest.pieceHashes.map((h) => Buffer.from(h).toString("hex"))).toEqual(right.pieceHashes.map((h) => Buffer.from(h).toString("hex")));
    expect(bitsOf(reloaded)).toEqual(bitsOf(second));
    await reloaded.close();
  });

  it("keeps nothing when the piece size differs, and sizes the part file for the new manifest", async () => {
    const bytes = randomBytes(6 * PIECE);
    const small = manifestOf(bytes, PIECE);
    const big = manifestOf(bytes, 2 * PIECE);
    const first = await PartialDownload.create(dir, small, "file.bin");
    for (let i = 0; i < pieceCount(small.size, small.pieceSize); i++) first.markVerified(i);
    const second = await first.rebase(big);
    expect(bitsOf(second)).toEqual([false, false, false]);
    expect((await stat(second.partPath)).size).toBe(bytes.length);
    await second.close();
    expect(bitsOf((await PartialDownload.load(dir, big.contentId))!)).toEqual([false, false, false]);
  });

  it("refuses a manifest of other content", async () => {
    const first = await PartialDownload.create(dir, manifestOf(randomBytes(PIECE)), "file.bin");
    await expect(first.rebase(manifestOf(randomBytes(PIECE)))).rejects.toThrow("another content");
    await first.close();
    // Nothing was changed on disk.
    expect(JSON.parse(await readFile(join(dir.path, `${first.manifest.contentId}.manifest.json`), "utf8")).contentId).toBe(first.manifest.contentId);
  });
});
