import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MemoryStorage } from "./client/token-store.js";
import { contentIdOf, HashCache } from "./hash.js";

const MIB = 1024 * 1024;

/** The content id as node:crypto computes it from the construction's definition (docs/content-ids.md). */
function expectedId(bytes: Uint8Array): string {
  const pieceSize = MIB;
  const header = Buffer.alloc(12);
  header.writeBigUInt64BE(BigInt(bytes.byteLength), 0);
  header.writeUInt32BE(pieceSize, 8);
  const manifest = createHash("sha256").update("p2p-manifest-v1\n").update(header);
  for (let at = 0; at < bytes.byteLength; at += pieceSize) manifest.update(createHash("sha256").update(bytes.subarray(at, at + pieceSize)).digest());
  return `m1_${manifest.digest("hex")}`;
}

describe("contentIdOf", () => {
  it.each([0, 1, 4097, MIB - 1, MIB, MIB + 1, 2 * MIB + 10_000])("matches node's manifest hash for %i bytes read in 4 KiB slices", async (size) => {
    const bytes = randomBytes(size);
    const progress: number[] = [];
    const id = await contentIdOf(new Blob([bytes]), { sliceBytes: 4096, onProgress: (n) => progress.push(n) });
    expect(id).toBe(expectedId(bytes));
    expect(progress.at(-1) ?? 0).toBe(size);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it("falls back to Blob.slice reads where the Blob's stream is not a byte stream", async () => {
    class PlainStreamBlob extends Blob {
      override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
        return new ReadableStream<Uint8Array<ArrayBuffer>>({ start: (controller) => controller.close() });
      }
    }
    const bytes = randomBytes(MIB + 10_000);
    const id = await contentIdOf(new PlainStreamBlob([bytes]), { sliceBytes: 4096 });
    expect(id).toBe(expectedId(bytes));
  });

  it("stops when aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(contentIdOf(new Blob([randomBytes(10)]), { signal: controller.signal })).rejects.toThrow();
  });
});

describe("HashCache", () => {
  it("remembers a file by name, size and modification time", () => {
    const cache = new HashCache(new MemoryStorage(), "k");
    const file = { name: "a.bin", size: 10, lastModified: 5 };
    expect(cache.get(file)).toBeUndefined();
    cache.set(file, "f".repeat(64));
    expect(cache.get(file)).toBe("f".repeat(64));
    expect(cache.get({ ...file, lastModified: 6 })).toBeUndefined();
    cache.delete(file);
    expect(cache.get(file)).toBeUndefined();
  });

  it("survives garbage in storage", () => {
    const storage = new MemoryStorage();
    storage.setItem("k", "{not json");
    expect(new HashCache(storage, "k").get({ name: "a", size: 1, lastModified: 1 })).toBeUndefined();
  });
});
