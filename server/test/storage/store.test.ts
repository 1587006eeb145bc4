import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import type { FileEntry } from "../../src/storage/store.js";
import { contentId, file, tokenHash } from "../helpers.js";
import { describeEachStore, type StoreLocation, type TestStore } from "../stores.js";
import type { TestSqliteStore } from "../test-stores.js";

const TTL_MS = 30_000;
const SEARCH = { limit: 20, offset: 0, maxHolders: 100, totalCap: 500 };

describeEachStore("store", (storage) => {
  describe("the store", () => {
    let location: StoreLocation;
    let clock: ManualClock;
    let store: TestStore;
    beforeEach(async () => {
      location = await storage.create();
      clock = new ManualClock();
      store = await location.open(clock);
    });
    afterEach(async () => {
      await store.close();
      await location.remove();
    });

    async function peer(name: string, files: FileEntry[] = []): Promise<number> {
      const user = (await store.findUser(name)) ?? (await store.createUser(name, "scrypt$hash"));
      if (!user) throw new Error("no user");
      await store.openSession(user.id, tokenHash(`token of ${name}`), `http://${name}:1`, TTL_MS);
      expect(await store.replaceFiles(user.id, files, 10_000)).toEqual({ ok: true, count: files.length });
      return user.id;
    }

    it("createUser answers null for a taken name, in any case", async () => {
      expect(await store.createUser("alice", "h")).toMatchObject({ name: "alice" });
      expect(await store.createUser("Alice", "h")).toBeNull();
      expect((await store.findUser("ALICE"))?.name).toBe("alice");
    });

    it("names a content after the (name, size, piece size) most holders use, ties to the smallest name", async () => {
      await peer("a", [file("zeta.bin", "c")]);
      await peer("b", [file("alpha.bin", "c")]);
      expect((await store.findContent(contentId("c"), 10))?.name).toBe("alpha.bin");
      await peer("c", [file("zeta.bin", "c")]);
      const content = await store.findContent(contentId("c"), 2);
      expect(content).toMatchObject({ name: "zeta.bin", holderCount: 3 });
      expect(content?.holders).toHaveLength(2);
      expect((await store.searchByName("alpha", SEARCH)).total).toBe(0);
      expect((await store.searchByName("zeta", SEARCH)).total).toBe(1);
    });

    it("a logout takes the peer's holdings: contents only it held go, shared ones keep the others' name", async () => {
      await peer("a", [file("zeta.bin", "c"), file("solo.bin", "s"), ...Array.from({ length: 50 }, (_, i) => file(`many ${i}.bin`, `m${i}`))]);
      await peer("b", [file("zeta.bin", "c"), file("many 7.bin", "m7")]);
      await peer("c", [file("alpha.bin", "c")]);
      expect(await store.findContent(contentId("c"), 10)).toMatchObject({ name: "zeta.bin", holderCount: 3 });
      expect(await store.closeSession(tokenHash("token of a"))).toBe(true);
      // zeta.bin and alpha.bin now have one holder each: the tie goes to the smallest name.
      expect(await store.findContent(contentId("c"), 10)).toMatchObject({ name: "alpha.bin", holderCount: 2 });
      expect(await store.findContent(contentId("s"), 10)).toBeNull();
      expect((await store.searchByName("solo", SEARCH)).total).toBe(0);
      expect((await store.searchByName("many", SEARCH)).results.map((r) => [r.name, r.holderCount])).toEqual([["many 7.bin", 1]]);
      expect(await store.stats()).toMatchObject({ sessions: 2, indexedFiles: 3, contents: 2 });
      expect(await store.closeSession(tokenHash("token of a"))).toBe(false);
      // Two peers sharing a content dropped in one sweep: their counters go together.
      clock.advance(TTL_MS);
      expect(await store.sweep(100)).toEqual({ sessions: 2, files: 3, tickets: 0 });
      expect(await store.stats()).toMatchObject({ indexedFiles: 0, contents: 0 });
      expect(await store.findContent(contentId("c"), 10)).toBeNull();
    });

    it("refuses an index change past the per-peer limit and leaves everything as it was", async () => {
      const id = await peer("alice", [file("one.txt", 1), file("two.txt", 2)]);
      const result = await store.updateFiles(id, [file("three.txt", 3), file("four.txt", 4)], [contentId(1)], 2);
      expect(result).toEqual({ ok: false, reason: "too-many-files", count: 3 });
      expect((await store.searchByName(".txt", SEARCH)).results.map((r) => r.name)).toEqual(["one.txt", "two.txt"]);
      expect((await store.searchByName("three", SEARCH)).total).toBe(0);
      expect((await store.searchByName("thr", SEARCH)).total).toBe(0);
      expect(await store.stats()).toMatchObject({ indexedFiles: 2, contents: 2 });
      expect(await store.replaceFiles(id, [file("a", 1), file("b", 2), file("c", 3)], 2)).toEqual({
        ok: false,
        reason: "too-many-files",
        count: 3,
      });
    });

    it("refuses index changes once the session has ended", async () => {
      const id = await peer("alice");
      expect(await store.closeSession(tokenHash("token of alice"))).toBe(true);
      expect(await store.replaceFiles(id, [file("x.txt")], 10)).toEqual({ ok: false, reason: "session-ended" });
      clock.advance(0);
      const bob = await peer("bob");
      clock.advance(TTL_MS);
      expect(await store.updateFiles(bob, [file("y.txt")], [], 10)).toEqual({ ok: false, reason: "session-ended" });
    });

    it("sweeps expired sessions with their files, and expired tickets, leaving live ones", async () => {
      const alice = await peer("alice", [file("a.txt", 1)]);
      const bob = await peer("bob", [file("b.txt", 2)]);
      await store.setPushPolicy(bob, { accept: "listed", from: ["Alice"], maxFileBytes: 1, quotaBytes: 1 });
      const chosen = await store.chooseUploadTarget({
        fromUserId: alice,
        fromName: "alice",
        contentId: contentId(9),
        size: 1,
        ticketHash: tokenHash("ticket"),
        ticketTtlMs: 60_000,
      });
      expect(chosen.kind).toBe("chosen");
      clock.advance(20_000);
      await store.renewSession(tokenHash("token of alice"), TTL_MS);
      clock.advance(20_000);
      expect(await store.sweep(100)).toEqual({ sessions: 1, files: 1, tickets: 0 });
      clock.advance(20_000);
      expect(await store.sweep(100)).toEqual({ sessions: 1, files: 1, tickets: 1 });
      expect(await store.stats()).toEqual({ users: 2, sessions: 0, livePeers: 0, indexedFiles: 0, contents: 0 });
    });

    // SQLite only: FTS5 leaves a segment per write and the sweep merges them. PostgreSQL's GIN indexes
    // are kept tidy by autovacuum, which a test cannot wait for.
    if (storage.kind === "sqlite") {
      it("keeps the trigram index tidy: sweeps merge its segments", async () => {
        const sqlite = store as TestSqliteStore;
        for (let i = 0; i < 30; i += 1) await peer(`p${i}`, [file(`name ${i}.bin`, i)]);
        expect(sqlite.trigramSegments()).toBeGreaterThan(4);
        for (let i = 0; i < 20 && sqlite.trigramSegments() > 4; i += 1) await store.sweep(100);
        expect(sqlite.trigramSegments()).toBeLessThanOrEqual(4);
        expect((await store.searchByName("name 29", SEARCH)).results.map((r) => r.name)).toEqual(["name 29.bin"]);
      });
    }

    it("a common query drops the files of an expired peer even when it walks the names in order", async () => {
      const many = Array.from({ length: 1_500 }, (_, i) => file(`common ${String(i).padStart(4, "0")}`, i));
      await peer("alice", many.slice(0, 1_200));
      clock.advance(20_000);
      await peer("bob", [...many.slice(1_195, 1_200), file("common zzz", "z")]);
      clock.advance(15_000); // alice expired, bob live
      const page = await store.searchByName("common", SEARCH);
      expect(page.results.map((r) => r.name)).toEqual([
        "common 1195",
        "common 1196",
        "common 1197",
        "common 1198",
        "common 1199",
        "common zzz",
      ]);
      expect(page).toMatchObject({ total: 6, totalExact: true, hasMore: false });
      const deep = await store.searchByName("common", { ...SEARCH, offset: 3, limit: 2 });
      expect(deep.results.map((r) => r.name)).toEqual(["common 1198", "common 1199"]);
      expect(deep.hasMore).toBe(true);
      expect(deep.totalExact).toBe(false);
      expect(deep.total).toBe(6);
    });

    it("importPeers loads accounts, live sessions and indexes in one go", async () => {
      await store.importPeers([
        { name: "a", passwordHash: "h", tokenHash: tokenHash("ta"), address: "http://a:1", ttlMs: TTL_MS, files: [file("x.bin", 1)] },
        { name: "b", passwordHash: "h", tokenHash: tokenHash("tb"), address: "http://b:1", ttlMs: TTL_MS, files: [file("x.bin", 1), file("y.bin", 2)] },
      ]);
      expect(await store.stats()).toEqual({ users: 2, sessions: 2, livePeers: 2, indexedFiles: 3, contents: 2 });
      expect((await store.findLiveSession(tokenHash("tb")))?.name).toBe("b");
      expect((await store.findContent(contentId(1), 10))?.holderCount).toBe(2);
    });
  });

  // SQLite searches on the store's connection, or in its search threads (sqlite-search-threads.ts).
  const searchPaths = storage.kind === "sqlite" ? [0, 2] : [undefined];
  describe.each(searchPaths)("search agrees with a brute-force scan (search threads: %s)", (searchThreads) => {
    // Random names over a small alphabet make every query plan happen: trigram counts of zero, rare and
    // common trigrams, phrases made only of common trigrams, 1-2 character queries, many matches.
    // U+1F600 (above U+FFFF) and U+FF41 sort differently as UTF-16 and as UTF-8: the order must be UTF-8's.
    const WORDS = ["ka", "ro", "mi", "te", "lu", "sa", "vo", "ne", "Ü", "x", "7", " - ", "(", ")", ".mp3", ".flac", "\u{1f600}", "\u{ff41}"];
    let location: StoreLocation;
    let clock: ManualClock;
    let store: TestStore;
    const held = new Map<number, { names: Map<string, string>; live: boolean }>();

    function randomName(random: () => number): string {
      let name = "";
      const parts = 2 + Math.floor(random() * 6);
      for (let i = 0; i < parts; i += 1) name += WORDS[Math.floor(random() * WORDS.length)];
      return name;
    }

    function nameOf(n: number): string {
      let state = n + 1;
      return randomName(() => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31));
    }

    beforeEach(async () => {
      location = await storage.create();
      clock = new ManualClock();
      store = await location.open(clock, undefined, searchThreads);
      let seed = 7;
      const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
      for (let p = 0; p < 40; p += 1) {
        const user = await store.createUser(`peer${p}`, "h");
        if (!user) throw new Error("no user");
        await store.openSession(user.id, tokenHash(`t${p}`), `http://p${p}:1`, TTL_MS);
        // Names derive from the content number, so holders of a content agree on its name.
        const entries: FileEntry[] = [];
        for (let i = 0; i < 200; i += 1) {
          const n = Math.floor(random() * 6_000);
          entries.push(file(nameOf(n), n));
        }
        await store.replaceFiles(user.id, entries, 1_000);
        held.set(user.id, { names: new Map(entries.map((e) => [e.contentId, e.name])), live: true });
      }
      // A third of the peers go silent (expired, not swept).
      clock.advance(20_000);
      for (let p = 0; p < 40; p += 1) if (p % 3 !== 0) await store.renewSession(tokenHash(`t${p}`), TTL_MS);
      clock.advance(15_000);
      for (const [userId, peer] of held) peer.live = (userId - 1) % 3 !== 0;
    });
    afterEach(async () => {
      held.clear();
      await store.close();
      await location.remove();
    });

    /** 300 random queries of 1-8 characters, with paging, each compared with a scan of the live names. */
    async function compareWithScan(): Promise<void> {
      // With threads, every search below must be answered by one (none runs until they have started).
      const threads = storage.kind === "sqlite" ? await (store as TestSqliteStore).searchThreadsReady() : undefined;
      expect(threads?.running).toBe(searchThreads);
      const servedBefore = threads?.served() ?? 0;
      const live = new Map<string, string>();
      for (const peer of held.values()) {
        if (!peer.live) continue;
        for (const [id, name] of peer.names) live.set(id, name);
      }
      const everything = [...live].map(([id, name]) => ({ id, name, key: name.toLowerCase() }));
      const compare = (a: { key: string; id: string }, b: { key: string; id: string }) =>
        Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      everything.sort(compare);
      let seed = 99;
      const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
      let checkedMany = 0;
      for (let i = 0; i < 300; i += 1) {
        const source = everything[Math.floor(random() * everything.length)] as { key: string };
        const length = 1 + Math.floor(random() * 8);
        const start = Math.floor(random() * Math.max(1, [...source.key].length - length));
        let query = [...source.key].slice(start, start + length).join("");
        if (i % 10 === 0) query = `${query}q`; // sometimes something nobody has
        if (i % 7 === 0) query = query.toUpperCase();
        const expected = everything.filter((e) => e.key.includes(query.toLowerCase()));
        const offset = i % 4 === 0 ? 7 : 0;
        const page = await store.searchByName(query, { ...SEARCH, offset, totalCap: 50 });
        expect(page.results.map((r) => r.contentId), `query ${JSON.stringify(query)}`).toEqual(
          expected.slice(offset, offset + SEARCH.limit).map((e) => e.id),
        );
        expect(page.hasMore).toBe(expected.length > offset + SEARCH.limit);
        if (page.totalExact) expect(page.total).toBe(expected.length);
        else {
          checkedMany += 1;
          expect(page.total).toBeLessThanOrEqual(expected.length);
          expect(page.total).toBeGreaterThanOrEqual(Math.min(offset + page.results.length + 1, expected.length));
        }
        for (const result of page.results) {
          expect(result.holders.length).toBeGreaterThan(0);
          expect(result.holders.every((h) => (Number(h.name.slice(4)) % 3) !== 0)).toBe(true);
        }
      }
      expect(checkedMany).toBeGreaterThanOrEqual(10);
      if (threads) expect(threads.served() - servedBefore).toBe(searchThreads ? 300 : 0);
    }

    it("for 300 random queries of 1-8 characters, with paging", compareWithScan);

    it("the same once the silent peers are swept (every holder live: SQLite counts in the trigram index alone)", async () => {
      // A sweep may stop within a peer's index (chunked): go on until one finds nothing to do.
      for (let swept = await store.sweep(100); swept.sessions + swept.files > 0; swept = await store.sweep(100));
      expect((await store.stats()).sessions).toBe((await store.stats()).livePeers);
      await compareWithScan();
    });
  });
});
