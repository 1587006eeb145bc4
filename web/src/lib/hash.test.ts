import { describe, expect, it } from "vitest";
import { MemoryStorage } from "./client/token-store.js";
import { HashCache } from "./hash.js";

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
