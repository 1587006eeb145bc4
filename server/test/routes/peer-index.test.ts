import { INDEX_BODY_LIMIT_BYTES, MAX_FILES_PER_REQUEST } from "@p2p/directory-api";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { contentId, file, login, publish, type TestDirectory, TRANSPORTS, startTestDirectory } from "../helpers.js";
import { describeEachStore } from "../stores.js";

/** Valid JSON within the index body limit: `files` and as many unknown keys as fit. */
function hostileBody(): Buffer {
  const keys: string[] = [];
  for (let i = 0, bytes = 16; bytes < INDEX_BODY_LIMIT_BYTES - 64; i += 1) {
    keys.push(`"k${i}":0`);
    bytes += keys.at(-1)!.length + 1;
  }
  return Buffer.from(`{"files":[],${keys.join(",")}}`);
}

async function names(dir: TestDirectory, q: string): Promise<string[]> {
  const res = await dir.request("GET", `/api/v1/search?q=${encodeURIComponent(q)}&limit=100`);
  return res.body.results.map((r: { name: string }) => r.name);
}

describeEachStore("store", (storage) => {
  describe.each(TRANSPORTS)("index over %s", (transport) => {
    let dir: TestDirectory;
    beforeEach(async () => {
      dir = await startTestDirectory({ storage, transport });
    });
    afterEach(async () => {
      await dir.close();
    });

    it("PUT replaces the whole index and answers the count", async () => {
      const token = await login(dir, "alice");
      const first = await dir.request("PUT", "/api/v1/index", {
        token,
        body: { files: [file("one.txt"), file("two.txt")] },
      });
      expect(first.status).toBe(200);
      expect(first.body).toEqual({ count: 2 });
      const second = await dir.request("PUT", "/api/v1/index", { token, body: { files: [file("three.txt")] } });
      expect(second.body).toEqual({ count: 1 });
      expect(await names(dir, ".txt")).toEqual(["three.txt"]);
      expect((await dir.request("PUT", "/api/v1/index", { token, body: { files: [] } })).body).toEqual({ count: 0 });
      expect(await names(dir, ".txt")).toEqual([]);
    });

    it("PATCH removes first, then adds; adding a held content id again renames it", async () => {
      const token = await login(dir, "alice");
      await dir.request("PUT", "/api/v1/index", { token, body: { files: [file("a.txt", 1), file("b.txt", 2)] } });
      const res = await dir.request("PATCH", "/api/v1/index", {
        token,
        body: { remove: [contentId(1), contentId(99)], add: [file("c.txt", 3), file("renamed.txt", 2)] },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ count: 2 });
      expect(await names(dir, ".txt")).toEqual(["c.txt", "renamed.txt"]);
      // Removing and re-adding the same content id in one request leaves it held.
      const again = await dir.request("PATCH", "/api/v1/index", {
        token,
        body: { remove: [contentId(3)], add: [file("c.txt", 3)] },
      });
      expect(again.body).toEqual({ count: 2 });
      expect((await dir.request("PATCH", "/api/v1/index", { token, body: {} })).body).toEqual({ count: 2 });
    });

    it("a later entry for the same content id wins within one request", async () => {
      const token = await login(dir, "alice");
      const res = await dir.request("PUT", "/api/v1/index", {
        token,
        body: { files: [file("old.txt", 1), file("new.txt", 1)] },
      });
      expect(res.body).toEqual({ count: 1 });
      expect(await names(dir, ".txt")).toEqual(["new.txt"]);
    });

    it("one peer cannot touch another's index: each token changes only its own peer's files", async () => {
      await publish(dir, "alice", [file("alice-song.mp3", 1), file("shared.mp3", 2)], 7001);
      const bob = await publish(dir, "bob", [file("bob-song.mp3", 3)], 7002);
      // Bob replaces "his" index with nothing and removes Alice's content ids: only his files go.
      await dir.request("PATCH", "/api/v1/index", { token: bob, body: { remove: [contentId(1), contentId(2)] } });
      await dir.request("PUT", "/api/v1/index", { token: bob, body: { files: [] } });
      expect(await names(dir, ".mp3")).toEqual(["alice-song.mp3", "shared.mp3"]);
      const holders = (await dir.request("GET", `/api/v1/files/${contentId(1)}`)).body.holders;
      expect(holders.map((h: { name: string }) => h.name)).toEqual(["alice"]);
    });

    it.each([
      ["PUT", { files: [] }],
      ["PATCH", { add: [] }],
    ])("%s without a token is 401", async (method, body) => {
      const res = await dir.request(method, "/api/v1/index", { body });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe("Unauthorized");
    });
  });

  describe("index input is bounded", () => {
    let dir: TestDirectory;
    let token: string;
    beforeEach(async () => {
      dir = await startTestDirectory({ storage });
      token = await login(dir, "alice");
    });
    afterEach(async () => {
      await dir.close();
    });

    const ok = file("song.mp3");
    const put = (entry: unknown) => ({ files: [entry] });
    const cases: Array<[string, unknown, RegExp]> = [
      ["no files field", {}, /body\/files is required/],
      ["files not an array", { files: "song.mp3" }, /body\/files must be array/],
      ["name with a slash", put({ ...ok, name: "dir/song.mp3" }), /body\/files\/0\/name must not contain "\/"/],
      ["name with a backslash", put({ ...ok, name: "dir\\song.mp3" }), /body\/files\/0\/name must not contain/],
      ["name with a newline", put({ ...ok, name: "song\n.mp3" }), /body\/files\/0\/name must not contain/],
      ["name with a NUL", put({ ...ok, name: "song\u0000.mp3" }), /body\/files\/0\/name/],
      ["name with DEL", put({ ...ok, name: "song\u007f.mp3" }), /body\/files\/0\/name/],
      ["name '.'", put({ ...ok, name: "." }), /must not be "." or ".."/],
      ["name '..'", put({ ...ok, name: ".." }), /must not be "." or ".."/],
      ["empty name", put({ ...ok, name: "" }), /body\/files\/0\/name/],
      ["name of 256 ASCII bytes", put({ ...ok, name: "a".repeat(256) }), /body\/files\/0\/name/],
      ["name of 128 characters, 256 bytes", put({ ...ok, name: "é".repeat(128) }), /body\/files\/0\/name must be at most 255 UTF-8 bytes/],
      ["content id in upper case", put({ ...ok, contentId: `m1_${ok.contentId.slice(3).toUpperCase()}` }), /body\/files\/0\/contentId must be m1_ followed by 64 lower-case hex/],
      ["content id too short", put({ ...ok, contentId: "abc" }), /body\/files\/0\/contentId must be m1_ followed by 64 lower-case hex/],
      ["content id of an older version (whole-file SHA-256)", put({ ...ok, contentId: ok.contentId.slice(3) }), /body\/files\/0\/contentId must be m1_ followed by 64 lower-case hex/],
      ["piece size other than the one the size gives", put({ ...ok, pieceSize: 16 * 1024 }), /^body\/files\/0\/pieceSize must be 1048576 for a file of 1000 bytes/],
      ["negative size", put({ ...ok, size: -1 }), /body\/files\/0\/size must be >= 0/],
      ["fractional size", put({ ...ok, size: 1.5 }), /body\/files\/0\/size must be integer/],
      ["size as a string", put({ ...ok, size: "1000" }), /body\/files\/0\/size must be integer/],
      ["size above 2^53-1", put({ ...ok, size: 2 ** 53 }), /body\/files\/0\/size must be <= 9007199254740991/],
      ["piece size below 16 KiB", put({ ...ok, pieceSize: 1024 }), /body\/files\/0\/pieceSize must be >= 16384/],
      ["piece size above 16 MiB", put({ ...ok, pieceSize: 32 * 1024 * 1024 }), /body\/files\/0\/pieceSize must be <= 16777216/],
      ["missing piece size", put({ name: ok.name, size: 1, contentId: ok.contentId }), /body\/files\/0\/pieceSize is required/],
      [
        `${MAX_FILES_PER_REQUEST + 1} files`,
        { files: Array.from({ length: MAX_FILES_PER_REQUEST + 1 }, (_, i) => file(`f${i}`, i)) },
        new RegExp(`body/files must NOT have more than ${MAX_FILES_PER_REQUEST} items`),
      ],
      // Valid JSON of the shape that parses slowest (one object of many keys), as large as the limit lets it be.
      ["tens of thousands of unknown top-level keys", hostileBody(), /^body\/k0 is not a known field$/],
      ["an unknown field in an entry", put({ ...ok, hidden: true }), /^body\/files\/0\/hidden is not a known field$/],
      ["an unknown top-level field", { files: [ok], replace: false }, /^body\/replace is not a known field$/],
      [
        "invalid UTF-8 in a name",
        Buffer.concat([Buffer.from(JSON.stringify({ files: [ok] }).replace("song.mp3", "song")), Buffer.from([0xc3, 0x28])]),
        /^body is not valid UTF-8$/,
      ],
    ];
    it.each(cases)("PUT with %s is 400", async (_case, body, message) => {
      const res = await dir.request("PUT", "/api/v1/index", Buffer.isBuffer(body) ? { token, rawBody: body } : { token, body });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("Bad Request");
      expect(res.body.message).toMatch(message);
      expect(dir.logs.some((line) => line.level === 40 && line.status === 400)).toBe(true);
      expect(await names(dir, "song")).toEqual([]);
    });

    const patchCases: Array<[string, unknown, RegExp]> = [
      ["a bad content id to remove", { remove: ["nope"] }, /body\/remove\/0 must be m1_ followed by 64 lower-case hex/],
      ["remove not an array", { remove: contentId(1) }, /body\/remove must be array/],
      ["a bad entry to add", { add: [{ ...ok, name: "a/b" }] }, /body\/add\/0\/name/],
      [
        `more than ${MAX_FILES_PER_REQUEST} files in all`,
        { add: Array.from({ length: 600 }, (_, i) => file(`f${i}`, i)), remove: Array.from({ length: MAX_FILES_PER_REQUEST - 599 }, (_, i) => contentId(i)) },
        new RegExp(`body/add and body/remove together must name at most ${MAX_FILES_PER_REQUEST} files`),
      ],
      ["a misspelt field (removee)", { removee: [contentId(1)] }, /^body\/removee is not a known field$/],
      ["an unknown field in an entry to add", { add: [{ ...ok, hidden: true }] }, /^body\/add\/0\/hidden is not a known field$/],
    ];
    it.each(patchCases)("PATCH with %s is 400", async (_case, body, message) => {
      await dir.request("PUT", "/api/v1/index", { token, body: { files: [file("kept song.mp3", 1)] } });
      const res = await dir.request("PATCH", "/api/v1/index", { token, body });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("Bad Request");
      expect(res.body.message).toMatch(message);
      expect(dir.logs.some((line) => line.level === 40 && line.status === 400)).toBe(true);
      expect(await names(dir, "song")).toEqual(["kept song.mp3"]);
    });

    it(`takes ${MAX_FILES_PER_REQUEST} files in one request, and more in pages (a PUT, then a PATCH)`, async () => {
      const page = (from: number) => Array.from({ length: MAX_FILES_PER_REQUEST }, (_, i) => file(`song ${from + i}.mp3`, from + i));
      const first = await dir.request("PUT", "/api/v1/index", { token, body: { files: page(0) } });
      expect(first.body).toEqual({ count: MAX_FILES_PER_REQUEST });
      const second = await dir.request("PATCH", "/api/v1/index", { token, body: { add: page(MAX_FILES_PER_REQUEST) } });
      expect(second.body).toEqual({ count: 2 * MAX_FILES_PER_REQUEST });
      const res = await dir.request("GET", `/api/v1/search?q=${encodeURIComponent(`song ${2 * MAX_FILES_PER_REQUEST - 1}.mp3`)}`);
      expect(res.body.results.map((r: { name: string }) => r.name)).toEqual([`song ${2 * MAX_FILES_PER_REQUEST - 1}.mp3`]);
    });

    it.each(["PUT", "PATCH"])("%s of fewer files than the limit but more bytes is 413 and changes nothing", async (method) => {
      // Long names with characters JSON escapes: valid entries, ~600 bytes each.
      const files = Array.from({ length: MAX_FILES_PER_REQUEST }, (_, i) => file(`${'"'.repeat(240)} ${i}.mp3`, i));
      const body = method === "PUT" ? { files } : { add: files };
      expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(INDEX_BODY_LIMIT_BYTES);
      await dir.request("PUT", "/api/v1/index", { token, body: { files: [file("kept song.mp3", 1)] } });
      const res = await dir.request(method, "/api/v1/index", { token, body });
      expect(res.status).toBe(413);
      expect(await names(dir, "mp3")).toEqual(["kept song.mp3"]);
    });

    it("accepts a name of exactly 255 UTF-8 bytes, with spaces, dots and non-ASCII letters", async () => {
      const name = `${"é".repeat(126)}.mp`; // 252 + 3 bytes
      const res = await dir.request("PUT", "/api/v1/index", { token, body: { files: [file(name), file("..hidden .txt")] } });
      expect(res.status).toBe(200);
      expect(await names(dir, "É")).toEqual([name]);
    });
  });
});
