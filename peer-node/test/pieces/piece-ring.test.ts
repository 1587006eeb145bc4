// PieceRing: slots whose memory is lent to a worker (transferred) and given back.
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MessageChannel } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { sha256 } from "../../src/store/pieces.js";
import { PieceRing } from "../../src/pieces/piece-ring.js";
import { PieceWorker } from "../../src/download/piece-worker.js";
import { tempDir } from "../store/helpers.js";

describe("PieceRing slots", () => {
  it("lend their memory for a transfer and get it back, bytes intact; a slot whose memory was lost gets new memory", async () => {
    const ring = new PieceRing(2, 4096);
    const slot = ring.tryAcquire()!;
    slot.bytes.fill(7, 0, 100);
    const { port1, port2 } = new MessageChannel();
    const back = new Promise<ArrayBuffer>((resolve) => port2.once("message", (m: { buffer: ArrayBuffer }) => resolve(m.buffer)));
    const lent = slot.lend();
    port1.postMessage({ buffer: lent }, [lent]);
    // Transferred: nothing of it is usable here until it comes back.
    expect(slot.bytes.length).toBe(0);
    slot.restore(await back);
    expect(slot.bytes.length).toBe(4096);
    expect(slot.bytes.subarray(0, 100).every((b) => b === 7)).toBe(true);
    port1.close();

    // Lost (the worker died holding it): new memory of the slot's size.
    const gone = slot.lend();
    structuredClone(gone, { transfer: [gone] });
    slot.restore();
    expect(slot.bytes.length).toBe(4096);
    slot.release();
    expect(ring.freeCount).toBe(2);
    // The slot's memory stays its own across acquires.
    const again = ring.tryAcquire()!;
    expect(again.bytes.length).toBe(4096);
  });
});

describe("PieceWorker with ring slots", () => {
  it("gets each piece's slot memory and gives it back, verified or not, and new memory when it dies holding it", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const piece = 16 * 1024;
      const bytes = randomBytes(2 * piece);
      const path = join(dir, "file.part");
      await writeFile(path, Buffer.alloc(bytes.length));
      const manifest = {
        contentId: sha256(bytes).toString("hex"),
        name: "file.bin",
        size: bytes.length,
        pieceSize: piece,
        pieceHashes: [0, 1].map((i) => new Uint8Array(sha256(bytes.subarray(i * piece, (i + 1) * piece)))),
      };
      const ring = new PieceRing(2, piece + 1024);
      const worker = new PieceWorker(path, manifest);
      const slot = ring.tryAcquire()!;
      // A wrong piece: refused, memory back.
      slot.bytes.fill(0);
      expect(await worker.verifyAndWrite(0, slot, 10, piece)).toBe(false);
      expect(slot.bytes.length).toBe(piece + 1024);
      // The right ones, at an offset in the slot: written, memory back each time.
      for (const i of [1, 0]) {
        bytes.copy(slot.bytes, 10, i * piece, (i + 1) * piece);
        expect(await worker.verifyAndWrite(i, slot, 10, piece)).toBe(true);
        expect(slot.bytes.length).toBe(piece + 1024);
      }
      await worker.finish();
      expect((await readFile(path)).equals(bytes)).toBe(true);

      // A worker stopped while it holds the slot's memory: the call fails, the slot has memory again.
      const doomed = new PieceWorker(path, manifest);
      const pending = doomed.verifyAndWrite(0, slot, 0, piece);
      doomed.destroy();
      await pending.catch(() => undefined);
      expect(slot.bytes.length).toBe(piece + 1024);
    } finally {
      await cleanup();
    }
  });
});
