import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MemoryStorage } from "./client/token-store.js";
import { contentIdOf, HashCache } from "./hash.js";
import { nodeContentIdOf } from "./testing/content-id.js";

const MiB = 1024 * 1024;

describe("contentIdOf", () => {
  // Node has WebCrypto and Blob too; e2e/hash.e2e.test.ts runs the same function in Chromium.
  it.each([0, 1, 4096, MiB - 1, MiB, MiB + 1, 3 * MiB + 5])("matches node's construction for %i bytes, with progress per piece", async (size) => {
    const bytes = randomBytes(size);
    const progress: number[] = [];
    const id = await contentIdOf(new Blob([bytes]), { onProgress: (n) => progress.push(n) });
    expect(id).toBe(nodeContentIdOf(bytes));
    expect(id).toMatch(/^m1_[0-9a-f]{64}$/);
    expect(progress.at(-1) ?? 0).toBe(size);
    expect(progress).toHaveLength(Math.ceil(size / MiB));
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it("is the known id of hello\\n", async () => {
    expect(await contentIdOf(new Blob(["hello\n"]))).toBe("m1_ce11fe69e5391303554231b2dc6dac584c59f0100569a2d9864c0d35ebb31fde");
  });

  it("stops when aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(contentIdOf(new Blob([randomBytes(10)]), { signal: controller.signal })).rejects.toThrow();
  });
});

describe("HashCache", () => {
  const id = `m1_${"f".repeat(64)}`;

  it("remembers a file by name, size and modification time", () => {
    const cache = new HashCache(new MemoryStorage(), "k");
    const file = { name: "a.bin", size: 10, lastModified: 5 };
    expect(cache.get(file)).toBeUndefined();
    cache.set(file, id);
    expect(cache.get(file)).toBe(id);
    expect(cache.get({ ...file, lastModified: 6 })).toBeUndefined();
    cache.delete(file);
    expect(cache.get(file)).toBeUndefined();
  });

  it("survives garbage in storage", () => {
    const storage = new MemoryStorage();
    storage.setItem("k", "{not json");
    expect(new HashCache(storage, "k").get({ name: "a", size: 1, lastModified: 1 })).toBeUndefined();
  });

  it("drops what an older version cached (whole-file ids), so those files are hashed again", () => {
    const storage = new MemoryStorage();
    const old = { name: "old.bin", size: 1, lastModified: 1 };
    const kept = { name: "new.bin", size: 1, lastModified: 1 };
    storage.setItem("k", JSON.stringify([{ key: "old.bin\u00001\u00001", contentId: "f".repeat(64) }, { key: "new.bin\u00001\u00001", contentId: id }]));
    const cache = new HashCache(storage, "k");
    expect(cache.get(old)).toBeUndefined();
    expect(cache.get(kept)).toBe(id);
  });
});
