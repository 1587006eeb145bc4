import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { contentId, file, login, publish, type TestDirectory, TRANSPORTS, startTestDirectory } from "../helpers.js";
import { describeEachStore } from "../stores.js";

async function search(dir: TestDirectory, query: string) {
  return dir.request("GET", `/api/v1/search?${query}`);
}

const LIBRARY = [
  file("Blue Monday.mp3", "blue"),
  file("blue moon.flac", "moon"),
  file("Kind of Blue (1959).mp3", "kind"),
  file("Ölfass – Größe.txt", "umlaut"),
  file("x.bin", "tiny"),
  file("report-2024.pdf", "report"),
];

describeEachStore("store", (storage) => {
  describe.each(TRANSPORTS)("search over %s", (transport) => {
    let dir: TestDirectory;
    beforeEach(async () => {
      dir = await startTestDirectory({ storage, transport });
    });
    afterEach(async () => {
      await dir.close();
    });

    it("finds substrings of the name case-insensitively, ordered by name, with live holders", async () => {
      await publish(dir, "alice", LIBRARY, 7001);
      const res = await search(dir, "q=BLUE");
      expect(res.status).toBe(200);
      expect(res.body.results.map((r: { name: string }) => r.name)).toEqual([
        "Blue Monday.mp3",
        "blue moon.flac",
        "Kind of Blue (1959).mp3",
      ]);
      expect(res.body.total).toBe(3);
      expect(res.body.totalExact).toBe(true);
      expect(res.body.nextOffset).toBeNull();
      expect(res.body.results[0]).toEqual({
        contentId: contentId("blue"),
        name: "Blue Monday.mp3",
        size: 1000,
        pieceSize: 1 << 20,
        holders: [{ name: "alice", address: "http://127.0.0.1:7001", lastSeenAt: expect.any(String) }],
        holderCount: 1,
      });
    });

    it.each([
      ["a one-character query", "x", ["x.bin", "Ölfass – Größe.txt"]],
      ["a two-character query at the end of a name", "in", ["Kind of Blue (1959).mp3", "x.bin"]],
      ["a two-character query found only at the end of a name", "xt", ["Ölfass – Größe.txt"]],
      ["a two-character query in the middle", "ue", ["Blue Monday.mp3", "blue moon.flac", "Kind of Blue (1959).mp3"]],
      ["a query across words and punctuation", "f blue (", ["Kind of Blue (1959).mp3"]],
      ["a non-ASCII query in another case", "GRÖSSE", []],
      ["a non-ASCII query", "größe", ["Ölfass – Größe.txt"]],
      ["an upper-case non-ASCII query", "ÖLFASS", ["Ölfass – Größe.txt"]],
      ["digits", "2024", ["report-2024.pdf"]],
      ["a query with a double quote", 'blue"', []],
      ["a query with FTS syntax", "blue OR moon", []],
      ["a query nobody has", "zzzz", []],
    ])("handles %s", async (_case, q, expected) => {
      await publish(dir, "alice", LIBRARY, 7001);
      const res = await search(dir, `q=${encodeURIComponent(q)}`);
      expect(res.status).toBe(200);
      expect(res.body.results.map((r: { name: string }) => r.name)).toEqual(expected);
      expect(res.body.total).toBe(expected.length);
    });

    it("groups holders by content id; the name is the one most holders use", async () => {
      await publish(dir, "alice", [file("Track 01.mp3", "same")], 7001);
      await publish(dir, "bob", [file("song.mp3", "same")], 7002);
      await publish(dir, "carol", [file("song.mp3", "same")], 7003);
      const res = await search(dir, "q=.mp3");
      expect(res.body.total).toBe(1);
      const [result] = res.body.results;
      expect(result.name).toBe("song.mp3");
      expect(result.holderCount).toBe(3);
      expect(result.holders.map((h: { name: string }) => h.name).sort()).toEqual(["alice", "bob", "carol"]);
      // The result's name is what is searched: Alice's own name for it is not.
      expect((await search(dir, "q=track")).body.total).toBe(0);
    });

    it("pages with limit, offset and nextOffset", async () => {
      await publish(dir, "alice", Array.from({ length: 25 }, (_, i) => file(`part-${String(i).padStart(2, "0")}.bin`, i)), 7001);
      const first = await search(dir, "q=part&limit=10");
      expect(first.body.results).toHaveLength(10);
      expect(first.body.results[0].name).toBe("part-00.bin");
      expect(first.body.nextOffset).toBe(10);
      expect(first.body.total).toBe(25);
      const last = await search(dir, "q=part&limit=10&offset=20");
      expect(last.body.results.map((r: { name: string }) => r.name)).toEqual([
        "part-20.bin",
        "part-21.bin",
        "part-22.bin",
        "part-23.bin",
        "part-24.bin",
      ]);
      expect(last.body.nextOffset).toBeNull();
      const beyond = await search(dir, "q=part&offset=40");
      expect(beyond.body.results).toEqual([]);
      expect(beyond.body.nextOffset).toBeNull();
      expect((await search(dir, "q=part")).body.results).toHaveLength(20);
    });

    it("GET /files/:contentId answers one result, or 404 when no live peer holds it", async () => {
      await publish(dir, "alice", [file("song.mp3", "s")], 7001);
      const res = await dir.request("GET", `/api/v1/files/${contentId("s")}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ contentId: contentId("s"), name: "song.mp3", holderCount: 1 });
      const missing = await dir.request("GET", `/api/v1/files/${contentId("nobody")}`);
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({ error: "Not Found", message: `no live peer holds content ${contentId("nobody")}` });
    });

    it.each([
      ["no q", "", /querystring\/q is required/],
      ["an empty q", "q=", /querystring\/q must NOT have fewer than 1 characters/],
      ["q of 256 bytes", `q=${"a".repeat(256)}`, /querystring\/q/],
      ["q of 128 two-byte characters", `q=${encodeURIComponent("é".repeat(128))}`, /querystring\/q must be at most 255 UTF-8 bytes/],
      ["q with a control character", "q=a%0Ab", /querystring\/q must not contain control characters/],
      ["limit 0", "q=a&limit=0", /querystring\/limit must be >= 1/],
      ["limit 101", "q=a&limit=101", /querystring\/limit must be <= 100/],
      ["limit not a number", "q=a&limit=ten", /querystring\/limit must be integer/],
      ["a negative offset", "q=a&offset=-1", /querystring\/offset must be >= 0/],
      ["offset 10,001", "q=a&offset=10001", /querystring\/offset must be <= 10000/],
      ["q with invalid UTF-8 (%ff%fe)", "q=%ff%fe", /^querystring\/q is not valid UTF-8$/],
      ["q with a truncated UTF-8 sequence", "q=song%C3", /^querystring\/q is not valid UTF-8$/],
      ["q with an encoded surrogate", "q=%ED%A0%80", /^querystring\/q is not valid UTF-8$/],
      ["a later parameter with invalid UTF-8", "q=song&limit=%ff", /^querystring\/limit is not valid UTF-8$/],
    ])("search with %s is 400", async (_case, query, message) => {
      const res = await search(dir, query);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("Bad Request");
      expect(res.body.message).toMatch(message);
      expect(dir.logs.some((line) => line.level === 40 && line.status === 400)).toBe(true);
    });

    it.each([
      ["upper-case hex", `m1_${contentId(1).slice(3).toUpperCase()}`],
      ["63 characters", contentId(1).slice(0, -1)],
      ["not hex", `m1_${"g".repeat(64)}`],
      ["the format of an older version (whole-file SHA-256)", contentId(1).slice(3)],
    ])("GET /files with a content id in %s is 400", async (_case, id) => {
      const res = await dir.request("GET", `/api/v1/files/${id}`);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/params\/contentId must be m1_ followed by 64 lower-case hex/);
    });
  });

  describe("search sees only live holders", () => {
    let dir: TestDirectory;
    let clock: ManualClock;
    beforeEach(async () => {
      clock = new ManualClock();
      dir = await startTestDirectory({ storage, clock });
    });
    afterEach(async () => {
      await dir.close();
    });

    it("drops an expired holder from results and holders before any sweep", async () => {
      const alice = await publish(dir, "alice", [file("shared.mp3", "s"), file("only-alice.mp3", "a")], 7001);
      await publish(dir, "bob", [file("shared.mp3", "s")], 7002);
      clock.advance(20_000);
      await dir.request("POST", "/api/v1/heartbeat", { token: alice });
      clock.advance(15_000); // bob: 35 s silent (TTL 30 s); alice: 15 s
      const res = await search(dir, "q=.mp3");
      expect(res.body.results.map((r: { name: string }) => r.name)).toEqual(["only-alice.mp3", "shared.mp3"]);
      expect(res.body.results[1].holders.map((h: { name: string }) => h.name)).toEqual(["alice"]);
      expect(res.body.results[1].holderCount).toBe(1);

      // alice silent too: her heartbeat at 20 s wrote a lease of TTL + the default slack (one 10 s
      // interval), to 60 s; at 65 s it is over.
      clock.advance(30_000);
      expect((await search(dir, "q=.mp3")).body.total).toBe(0);
      expect((await search(dir, "q=s")).body.total).toBe(0);
      expect((await dir.request("GET", `/api/v1/files/${contentId("s")}`)).status).toBe(404);
    });

    it("lists holders freshest heartbeat first, and a login later than the rest comes first", async () => {
      await publish(dir, "alice", [file("shared.mp3", "s")], 7001);
      clock.advance(1_000);
      await publish(dir, "bob", [file("shared.mp3", "s")], 7002);
      const [result] = (await search(dir, "q=shared")).body.results;
      expect(result.holders.map((h: { name: string }) => h.name)).toEqual(["bob", "alice"]);
      expect(result.holders[0].lastSeenAt).toBe(new Date(clock.now()).toISOString());
    });

    it("a peer with many files and many peers with one: totals stay right when queries are common or rare", async () => {
      const files = Array.from({ length: 1_200 }, (_, i) => file(`common name ${i}.dat`, i));
      const token = await login(dir, "alice");
      // Two requests: one takes at most MAX_FILES_PER_REQUEST (1,000) files.
      expect((await dir.request("PUT", "/api/v1/index", { token, body: { files: files.slice(0, 1_000) } })).body.count).toBe(1_000);
      expect((await dir.request("PATCH", "/api/v1/index", { token, body: { add: files.slice(1_000) } })).body.count).toBe(1_200);
      const common = await search(dir, "q=common&limit=5");
      expect(common.body.results.map((r: { name: string }) => r.name)).toEqual([
        "common name 0.dat",
        "common name 1.dat",
        "common name 10.dat",
        "common name 100.dat",
        "common name 1000.dat",
      ]);
      // 1,200 names match: the total is a lower bound counted over 500 of them.
      expect(common.body.totalExact).toBe(false);
      expect(common.body.total).toBe(500);
      expect(common.body.nextOffset).toBe(5);
      const rare = await search(dir, "q=name 1199");
      expect(rare.body.results.map((r: { name: string }) => r.name)).toEqual(["common name 1199.dat"]);
      expect(rare.body.totalExact).toBe(true);
      const tail = await search(dir, "q=common&offset=1195&limit=10");
      expect(tail.body.results).toHaveLength(5);
      expect(tail.body.total).toBe(1_200);
      expect(tail.body.totalExact).toBe(true);
      expect(tail.body.nextOffset).toBeNull();
    });
  });
});
