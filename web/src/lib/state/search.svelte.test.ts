import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createClientApi } from "../client/api.js";
import { PeerSchema, SearchResultSchema, type SearchResult } from "../client/gen.js";
import { MemoryStorage, TokenStore } from "../client/token-store.js";
import { FakePserver, settle } from "../testing/fake-pserver.js";
import { PeersState } from "./peers.svelte.js";
import { groupByContentId, SearchState } from "./search.svelte.js";

const ID_A = `m1_${"a".repeat(64)}`;
const ID_B = `m1_${"b".repeat(64)}`;

function result(contentId: string, name: string, holders: string[], size = 1000): SearchResult {
  return create(SearchResultSchema, {
    contentId,
    name,
    size: BigInt(size),
    pieceSize: 1024,
    holders: holders.map((holder) => create(PeerSchema, { name: holder, address: `http://${holder}` })),
  });
}

async function setup() {
  const pserver = new FakePserver();
  const tokens = new TokenStore(new MemoryStorage());
  const api = createClientApi(pserver.transport(tokens));
  await api.login({ username: "bob", password: "correct horse" }).then((r) => tokens.set(r.sessionToken));
  const peers = new PeersState();
  const search = new SearchState({ api, isLive: (name) => peers.isLive(name) });
  return { pserver, search, peers };
}

describe("SearchState", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("waits for a 250 ms pause in typing, then asks once with the latest text", async () => {
    const { pserver, search } = await setup();
    pserver.searchResults = () => [result(ID_A, "holiday.mp4", ["alice"])];

    for (const text of ["h", "ho", "hol", "holi"]) {
      search.setQuery(text);
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(pserver.searchRequests).toHaveLength(0);

    await vi.advanceTimersByTimeAsync(249);
    expect(pserver.searchRequests.map((r) => r.query)).toEqual(["holi"]);
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(search.results.map((r) => r.name)).toEqual(["holiday.mp4"]);
    expect(search.answeredQuery).toBe("holi");
    expect(search.searching).toBe(false);
  });

  it("groups results by content id, merging holders", async () => {
    const { pserver, search } = await setup();
    pserver.searchResults = () => [
      result(ID_A, "song.mp3", ["alice"]),
      result(ID_B, "song (live).mp3", ["carol"]),
      result(ID_A, "song-copy.mp3", ["bob", "alice"]),
    ];
    search.setQuery("song");
    await vi.advanceTimersByTimeAsync(250);
    await settle();

    expect(search.results.map((r) => [r.contentId, r.name, r.holders.map((h) => h.name)])).toEqual([
      [ID_A, "song.mp3", ["alice", "bob"]],
      [ID_B, "song (live).mp3", ["carol"]],
    ]);
    expect(search.results[0]?.sizeBytes).toBe(1000);
  });

  it("never lets an older, slower answer replace a newer one", async () => {
    const { pserver, search } = await setup();
    pserver.searchDelayMs = (request) => (request.query === "old" ? 500 : 10);
    pserver.searchResults = (request) => [result(request.query === "old" ? ID_A : ID_B, `${request.query}.txt`, ["alice"])];

    search.setQuery("old");
    await vi.advanceTimersByTimeAsync(260);
    search.setQuery("new");
    await vi.advanceTimersByTimeAsync(1000);
    await settle();

    expect(search.results.map((r) => r.name)).toEqual(["new.txt"]);
    expect(search.answeredQuery).toBe("new");
  });

  it("asks by content id when the text is one, and clears on empty text", async () => {
    const { pserver, search } = await setup();
    pserver.searchResults = () => [result(ID_A, "x.bin", ["alice"])];
    search.setQuery(ID_A.toUpperCase());
    await vi.advanceTimersByTimeAsync(250);
    await settle();
    expect(pserver.searchRequests[0]).toMatchObject({ contentId: ID_A, query: "" });

    search.setQuery("   ");
    expect(search.results).toEqual([]);
    expect(search.answeredQuery).toBe("");
  });

  it("shows only holders that are still live", async () => {
    const { pserver, search, peers } = await setup();
    pserver.searchResults = () => [result(ID_A, "x.bin", ["alice", "carol"])];
    search.setQuery("x");
    await vi.advanceTimersByTimeAsync(250);
    await settle();
    const [found] = search.results;
    if (found === undefined) throw new Error("no result");
    expect(search.liveHolders(found).map((h) => h.name)).toEqual(["alice", "carol"]);

    peers.set([create(PeerSchema, { name: "alice" }), create(PeerSchema, { name: "bob" })]);
    expect(search.liveHolders(found).map((h) => h.name)).toEqual(["alice"]);
  });

  it("turns a failed search into a sentence", async () => {
    const { pserver, search } = await setup();
    pserver.sessions.clear();
    search.setQuery("x");
    await vi.advanceTimersByTimeAsync(250);
    await settle();
    expect(search.error).toBe("Your session has ended. Please log in again.");
    expect(search.results).toEqual([]);
  });
});

describe("groupByContentId", () => {
  it("appends a later page without duplicating a content", () => {
    const first = groupByContentId([], [result(ID_A, "a", ["alice"])]);
    const second = groupByContentId(first, [result(ID_A, "a", ["carol"]), result(ID_B, "b", ["bob"])]);
    expect(second.map((r) => [r.contentId, r.holders.length])).toEqual([
      [ID_A, 2],
      [ID_B, 1],
    ]);
    expect(first[0]?.holders).toHaveLength(1);
  });
});
