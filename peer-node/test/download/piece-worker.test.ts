// The piece worker on a real thread and a real partial file: pieces checked against the manifest,
// written at their offsets, and each slot's memory given back.
import { randomBytes } from "node:crypto";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PieceRing } from "../../src/pieces/piece-ring.js";
import type { Manifest } from "../../src/store/file-store.js";
import { sha256 } from "../../src/store/pieces.js";
import { PieceWorker } from "../../src/download/piece-worker.js";
import { tempDir } from "../store/helpers.js";

const PIECE = 16 * 1024;
let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

function manifestOf(bytes: Buffer): Manifest {
  const hashes: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += PIECE) hashes.push(new Uint8Array(sha256(bytes.subarray(at, at + PIECE))));
  return { contentId: sha256(bytes).toString("hex"), name: "file.bin", size: bytes.length, pieceSize: PIECE, pieceHashes: hashes };
}

/** An empty partial file of the manifest's size. */
async function partialFile(m: Manifest, prefix?: Buffer): Promise<string> {
  const path = join(dir, "file.part");
  const fh = await open(path, "w");
  await fh.truncate(m.size);
  if (prefix) await fh.write(prefix, 0, prefix.length, 0);
  await fh.close();
  return path;
}

describe("PieceWorker", () => {
  it("writes the pieces that match, refuses one that does not, and closes the file at the end", async () => {
    const bytes = randomBytes(5 * PIECE + 123);
    const m = manifestOf(bytes);
    const path = await partialFile(m);
    const worker = new PieceWorker(path, m);
    const ring = new PieceRing(2, PIECE + 8);
    const slot = ring.tryAcquire()!;
    const piece = (i: number) => bytes.subarray(i * PIECE, Math.min(bytes.length, (i + 1) * PIECE));
    // Out of order, each at an offset inside the slot, as pieces arrive in received frames.
    const results: boolean[] = [];
    for (const i of [3, 0, 5, 1, 4, 2]) {
      piece(i).copy(slot.bytes, 8);
      const answer = worker.verifyAndWrite(i, slot, 8, piece(i).length);
      // Once the thread runs (it has answered), a piece's memory is moved to it, not copied.
      if (results.length > 0) expect(slot.bytes.byteLength).toBe(0);
      results.push(await answer);
      // The slot's memory came back with the answer.
      expect(slot.bytes.byteLength).toBe(PIECE + 8);
    }
    expect(results).toEqual([true, true, true, true, true, true]);
    const wrong = Buffer.from(piece(2));
    wrong[0]! ^= 1;
    wrong.copy(slot.bytes, 0);
    expect(await worker.verifyAndWrite(2, slot, 0, wrong.length)).toBe(false);
    await worker.finish();
    expect((await readFile(path)).equals(bytes)).toBe(true);
  });

  it("writes only what a resumed download lacks, leaving the pieces it has as they are", async () => {
    const bytes = randomBytes(3 * PIECE);
    const m = manifestOf(bytes);
    const path = await partialFile(m, bytes.subarray(0, 2 * PIECE));
    const worker = new PieceWorker(path, m);
    const slot = new PieceRing(2, PIECE).tryAcquire()!;
    bytes.copy(slot.bytes, 0, 2 * PIECE);
    expect(await worker.verifyAndWrite(2, slot, 0, PIECE)).toBe(true);
    await worker.finish();
    expect((await readFile(path)).equals(bytes)).toBe(true);
  });

  it("starts before it knows the file, and checks and writes against the manifest it is opened with", async () => {
    const bytes = randomBytes(2 * PIECE);
    const m = manifestOf(bytes);
    // Started as a download job starts it, while the manifest is still on its way.
    const worker = new PieceWorker();
    const path = await partialFile(m);
    worker.open(path, m);
    const slot = new PieceRing(2, PIECE).tryAcquire()!;
    for (const i of [1, 0]) {
      bytes.copy(slot.bytes, 0, i * PIECE, (i + 1) * PIECE);
      expect(await worker.verifyAndWrite(i, slot, 0, PIECE)).toBe(true);
    }
    await worker.finish();
    expect((await readFile(path)).equals(bytes)).toBe(true);
  });

  it("fails every piece with the I/O error when its file cannot be opened", async () => {
    const bytes = randomBytes(PIECE);
    const m = manifestOf(bytes);
    const worker = new PieceWorker();
    worker.open(join(dir, "gone", "file.part"), m);
    const slot = new PieceRing(2, PIECE).tryAcquire()!;
    bytes.copy(slot.bytes);
    await expect(worker.verifyAndWrite(0, slot, 0, PIECE)).rejects.toMatchObject({ code: "ENOENT" });
    // The slot's memory came back with the failure.
    expect(slot.bytes.byteLength).toBe(PIECE);
    worker.destroy();
  });

  it("fails what is in flight when destroyed, and gives the slot fresh memory", async () => {
    const bytes = randomBytes(2 * PIECE);
    const m = manifestOf(bytes);
    const worker = new PieceWorker(await partialFile(m), m);
    const slot = new PieceRing(2, PIECE).tryAcquire()!;
    const pending = worker.verifyAndWrite(0, slot, 0, PIECE);
    worker.destroy();
    await expect(pending).rejects.toThrow("the piece worker stopped");
    expect(slot.bytes.byteLength).toBe(PIECE);
    await expect(worker.verifyAndWrite(1, slot, 0, PIECE)).rejects.toThrow("the piece worker stopped");
  });
});
