// Large index changes: SQLite applies them in chunks with the event loop free in between
// (src/storage/sqlite-chunks.ts); PostgreSQL in one transaction. Both must end in the same state as one
// transaction would, never interleave two changes of one peer, and stop a publish whose session ended.
// SQLite runs here with chunks of 3 files, so every change below is split.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import type { ChunkBudget } from "../../src/storage/sqlite-chunks.js";
import type { FileEntry, SearchOptions } from "../../src/storage/store.js";
import { contentId, file, startTestDirectory, tokenHash } from "../helpers.js";
import { describeEachStore, type StoreLocation, type TestStore } from "../stores.js";

const TTL_MS = 30_000;
const SEARCH: SearchOptions = { limit: 100, offset: 0, maxHolders: 100, totalCap: 500 };
const TINY_CHUNKS: ChunkBudget = { ms: 0, minSteps: 3 };
const MAX_FILES = 10_000;

/** `count` files "<prefix> i.bin", content "<prefix>:<i>". */
function files(prefix: string, count: number, from = 0): FileEntry[] {
  return Array.from({ length: count }, (_, i) => file(`${prefix} ${i + from}.bin`, `${prefix}:${i + from}`));
}

describeEachStore("large index changes", (storage) => {
  describe("in chunks", () => {
    let location: StoreLocation;
    let clock: ManualClock;
    let store: TestStore;
    beforeEach(async () => {
      location = await storage.create();
      clock = new ManualClock();
      store = await location.open(clock, TINY_CHUNKS);
    });
    afterEach(async () => {
      await store.close();
      await location.remove();
    });

    async function session(name: string): Promise<number> {
      const user = (await store.findUser(name)) ?? (await store.createUser(name, "scrypt$hash"));
      if (!user) throw new Error("no user");
      await store.openSession(user.id, tokenHash(`token of ${name}`), `http://${name}:1`, TTL_MS);
      return user.id;
    }

    const names = async (query: string) => (await store.searchByName(query, SEARCH)).results.map((r) => [r.name, r.holderCount]);

    it("a publish, renames, removals and a logout end as one transaction would leave them", async () => {
      const alice = await session("alice");
      const bob = await session("bob");
      expect(await store.replaceFiles(alice, files("song", 40), MAX_FILES)).toEqual({ ok: true, count: 40 });
      // Bob holds 10 of the same contents under other names, and 5 of his own.
      const renamed = files("song", 10).map((entry, i) => ({ ...entry, name: `track ${i}.bin` }));
      expect(await store.replaceFiles(bob, [...renamed, ...files("own", 5)], MAX_FILES)).toEqual({ ok: true, count: 15 });
      // A third peer sides with bob's names for contents 0-4: now two of three holders call them "track".
      const carol = await session("carol");
      expect(await store.replaceFiles(carol, renamed.slice(0, 5), MAX_FILES)).toEqual({ ok: true, count: 5 });

      expect(await names("track")).toEqual(Array.from({ length: 5 }, (_, i) => [`track ${i}.bin`, 3]));
      expect((await store.searchByName("song", SEARCH)).total).toBe(35);
      expect(await store.stats()).toMatchObject({ indexedFiles: 60, contents: 45 });

      // Alice: removes 20, renames 5 of the rest, adds 3; removals first, then additions.
      const add = [...files("song", 5, 20).map((entry) => ({ ...entry, name: `re ${entry.name}` })), ...files("new", 3)];
      const remove = files("song", 20).map((entry) => entry.contentId);
      expect(await store.updateFiles(alice, add, [...remove, ...remove.slice(0, 3)], MAX_FILES)).toEqual({ ok: true, count: 23 });
      expect(await names("re song")).toEqual(Array.from({ length: 5 }, (_, i) => [`re song ${20 + i}.bin`, 1]));
      expect((await store.searchByName("new ", SEARCH)).total).toBe(3);
      expect(await store.findContent(contentId("song:3"), 10)).toMatchObject({ name: "track 3.bin", holderCount: 2 });
      expect(await store.findContent(contentId("song:15"), 10)).toBeNull();
      // Contents: song 0-9 (bob, carol), song 20-39 and new 0-2 (alice), own 0-4 (bob).
      expect(await store.stats()).toMatchObject({ indexedFiles: 43, contents: 38 });

      // A replacement keeps what is unchanged and drops the rest.
      expect(await store.replaceFiles(bob, files("own", 5), MAX_FILES)).toEqual({ ok: true, count: 5 });
      expect(await names("track")).toEqual(Array.from({ length: 5 }, (_, i) => [`track ${i}.bin`, 1]));

      expect(await store.closeSession(tokenHash("token of alice"))).toBe(true);
      expect((await store.searchByName("song", SEARCH)).total).toBe(0);
      expect(await store.stats()).toMatchObject({ indexedFiles: 10, contents: 10, sessions: 2 });
      expect(await store.closeSession(tokenHash("token of alice"))).toBe(false);
    });

    it("a search during a publish sees whole files of it, with their holder, and the publish completes", async () => {
      const alice = await session("alice");
      const publishing = store.replaceFiles(alice, files("clip", 60), MAX_FILES);
      await new Promise((resolve) => setImmediate(resolve));
      const midway = await store.searchByName("clip", SEARCH);
      expect(midway.total).toBeLessThanOrEqual(60);
      // SQLite has committed a few chunks of 3 by now, not all of them.
      if (storage.kind === "sqlite") expect(midway.total).toBeGreaterThan(0);
      if (storage.kind === "sqlite") expect(midway.total).toBeLessThan(60);
      for (const result of midway.results) {
        expect(result.name).toMatch(/^clip \d+\.bin$/);
        expect(result.holders.map((h) => h.name)).toEqual(["alice"]);
      }
      expect(await publishing).toEqual({ ok: true, count: 60 });
      expect((await store.searchByName("clip", SEARCH)).total).toBe(60);
    });

    it("a logout during a publish stops it: nothing of it is listed or stays stored", async () => {
      const alice = await session("alice");
      const publishing = store.replaceFiles(alice, files("clip", 60), MAX_FILES);
      await new Promise((resolve) => setImmediate(resolve));
      expect(await store.closeSession(tokenHash("token of alice"))).toBe(true);
      const outcome = await publishing;
      if (storage.kind === "sqlite") expect(outcome).toEqual({ ok: false, reason: "session-ended" });
      expect((await store.searchByName("clip", SEARCH)).total).toBe(0);
      expect(await store.stats()).toMatchObject({ indexedFiles: 0, contents: 0, sessions: 0 });
    });

    it("a login during a publish starts the new session empty; the old publish stops", async () => {
      const alice = await session("alice");
      const publishing = store.replaceFiles(alice, files("clip", 60), MAX_FILES);
      await new Promise((resolve) => setImmediate(resolve));
      const reopened = await store.openSession(alice, contentId("second token"), "http://alice:2", TTL_MS);
      expect(reopened.address).toBe("http://alice:2");
      const outcome = await publishing;
      if (storage.kind === "sqlite") expect(outcome).toEqual({ ok: false, reason: "session-ended" });
      expect((await store.searchByName("clip", SEARCH)).total).toBe(0);
      expect(await store.stats()).toMatchObject({ indexedFiles: 0, livePeers: 1 });
      expect(await store.findLiveSession(contentId("second token"))).toMatchObject({ name: "alice" });
      expect(await store.findLiveSession(tokenHash("token of alice"))).toBeNull();
    });

    it("two changes of one peer sent at once apply one after the other", async () => {
      const alice = await session("alice");
      const first = store.replaceFiles(alice, files("clip", 30), MAX_FILES);
      const second = store.updateFiles(alice, files("more", 2), files("clip", 5).map((entry) => entry.contentId), MAX_FILES);
      expect(await first).toEqual({ ok: true, count: 30 });
      const outcome = await second;
      // SQLite runs them in the order they came; PostgreSQL in the order their transactions took the
      // peer's lock, which may be the other: then the replacement comes last and wipes the update.
      if (storage.kind === "sqlite" || outcome.ok && outcome.count === 27) {
        expect(outcome).toEqual({ ok: true, count: 27 });
        expect((await store.searchByName("clip", SEARCH)).total).toBe(25);
        expect(await store.stats()).toMatchObject({ indexedFiles: 27, contents: 27 });
      } else {
        expect(outcome).toEqual({ ok: true, count: 2 });
        expect((await store.searchByName("clip", SEARCH)).total).toBe(30);
        expect(await store.stats()).toMatchObject({ indexedFiles: 30, contents: 30 });
      }
    });

    it("refuses a change past the per-peer limit whole, before any chunk", async () => {
      const alice = await session("alice");
      expect(await store.replaceFiles(alice, files("clip", 20), 25)).toEqual({ ok: true, count: 20 });
      expect(await store.updateFiles(alice, files("more", 10), files("clip", 4).map((e) => e.contentId), 25)).toEqual({
        ok: false,
        reason: "too-many-files",
        count: 26,
      });
      expect(await store.stats()).toMatchObject({ indexedFiles: 20 });
      expect((await store.searchByName("more", SEARCH)).total).toBe(0);
    });

    it("a sweep of a large expired index may take several calls, and leaves nothing", async () => {
      const alice = await session("alice");
      await session("bob");
      expect(await store.replaceFiles(alice, files("clip", 40), MAX_FILES)).toEqual({ ok: true, count: 40 });
      clock.advance(TTL_MS);
      const swept = { sessions: 0, files: 0 };
      for (let calls = 0; calls < 100; calls += 1) {
        const batch = await store.sweep(100);
        if (batch.sessions === 0 && batch.files === 0) break;
        swept.sessions += batch.sessions;
        swept.files += batch.files;
      }
      expect(swept).toEqual({ sessions: 2, files: 40 });
      expect(await store.stats()).toMatchObject({ sessions: 0, indexedFiles: 0, contents: 0 });
    });

    it("the directory's sweep goes on until a batch removes nothing, so one sweep removes everything expired", async () => {
      const dir = await startTestDirectory({ location, store, config: { sessionTtlMs: TTL_MS } });
      const alice = await session("alice");
      const bob = await session("bob");
      expect(await store.replaceFiles(alice, files("clip", 40), MAX_FILES)).toEqual({ ok: true, count: 40 });
      expect(await store.replaceFiles(bob, files("clip", 10), MAX_FILES)).toEqual({ ok: true, count: 10 });
      clock.advance(TTL_MS);
      expect(await dir.app.directory.sweep()).toEqual({ sessions: 2, files: 50, tickets: 0 });
      expect(await store.stats()).toMatchObject({ sessions: 0, indexedFiles: 0, contents: 0 });
      await dir.close();
    });
  });
});
