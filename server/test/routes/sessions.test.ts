import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { file, login, type TestDirectory, TRANSPORTS, startTestDirectory } from "../helpers.js";
import { describeEachStore } from "../stores.js";

const ADDRESS = "http://127.0.0.1:7001";

describeEachStore("store", (storage) => {
  describe.each(TRANSPORTS)("sessions over %s", (transport) => {
    let dir: TestDirectory;
    beforeEach(async () => {
      dir = await startTestDirectory({ storage, transport });
    });
    afterEach(async () => {
      await dir.close();
    });

    it("registers on first login and returns a token, the peer, the heartbeat interval and the expiry", async () => {
      const res = await dir.request("POST", "/api/v1/login", {
        body: { username: "alice", password: "correct horse", address: ADDRESS },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        peer: { name: "alice", address: ADDRESS },
        heartbeatIntervalMs: 10_000,
        sessionTtlMs: 30_000,
        expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
    });

    it("refuses a wrong password with 401 and keeps the account", async () => {
      await login(dir, "alice");
      const wrong = await dir.request("POST", "/api/v1/login", {
        body: { username: "alice", password: "wrong password", address: ADDRESS },
      });
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual({ error: "Unauthorized", message: 'wrong password for user "alice"' });
      expect(await login(dir, "alice")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it("treats usernames case-insensitively, so nobody can register Alice next to alice", async () => {
      await login(dir, "alice");
      const res = await dir.request("POST", "/api/v1/login", {
        body: { username: "ALICE", password: "another password", address: ADDRESS },
      });
      expect(res.status).toBe(401);
      const same = await dir.request("POST", "/api/v1/login", {
        body: { username: "ALICE", password: "correct horse", address: ADDRESS },
      });
      expect(same.body.peer.name).toBe("alice");
    });

    it("replaces the previous session on a new login: the old token stops working", async () => {
      const first = await login(dir, "alice");
      const second = await login(dir, "alice");
      expect((await dir.request("POST", "/api/v1/heartbeat", { token: first })).status).toBe(401);
      expect((await dir.request("POST", "/api/v1/heartbeat", { token: second })).status).toBe(200);
    });

    it("accepts a browser peer's relay address naming the peer itself, and refuses one naming another", async () => {
      const relay = "http://127.0.0.1:7001/relay/alice";
      const own = await dir.request("POST", "/api/v1/login", { body: { username: "alice", password: "correct horse", address: relay } });
      expect(own.status).toBe(200);
      expect(own.body.peer).toEqual({ name: "alice", address: relay });
      const other = await dir.request("POST", "/api/v1/login", { body: { username: "mallory", password: "correct horse", address: relay } });
      expect(other.status).toBe(400);
      expect(other.body.message).toBe('body/address must name the peer itself in its relay path (/relay/mallory), not "alice"');
    });

    it("relocate moves a live session to a new address with a new token, and needs a live one", async () => {
      const first = await login(dir, "alice");
      await dir.request("PUT", "/api/v1/index", { token: first, body: { files: [file("song.mp3")] } });
      const moved = await dir.request("POST", "/api/v1/relocate", { token: first, body: { address: "http://127.0.0.1:7002/relay/alice" } });
      expect(moved.status).toBe(200);
      expect(moved.body.peer).toEqual({ name: "alice", address: "http://127.0.0.1:7002/relay/alice" });
      expect(moved.body.token).not.toBe(first);
      // The old token is used up; the new session starts with an empty index, like a login.
      expect((await dir.request("POST", "/api/v1/heartbeat", { token: first })).status).toBe(401);
      expect((await dir.request("POST", "/api/v1/relocate", { token: first, body: { address: ADDRESS } })).status).toBe(401);
      expect((await dir.request("GET", "/api/v1/search?q=song")).body.total).toBe(0);
      const peers = (await dir.request("GET", "/api/v1/peers")).body.peers as Array<{ name: string; address: string }>;
      expect(peers.map((p) => [p.name, p.address])).toEqual([["alice", "http://127.0.0.1:7002/relay/alice"]]);
      // Nobody relocates onto another peer's relay path.
      const stolen = await dir.request("POST", "/api/v1/relocate", { token: moved.body.token, body: { address: "http://127.0.0.1:7002/relay/bob" } });
      expect(stolen.status).toBe(400);
      const bad = await dir.request("POST", "/api/v1/relocate", { token: moved.body.token, body: { address: "nope" } });
      expect(bad.status).toBe(400);
    });

    it("heartbeat extends the session and answers the interval", async () => {
      const token = await login(dir, "alice");
      const res = await dir.request("POST", "/api/v1/heartbeat", { token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ expiresAt: expect.any(String), heartbeatIntervalMs: 10_000 });
    });

    it("logout hides the peer's files at once, keeps the account, and kills the token", async () => {
      const token = await login(dir, "alice");
      await dir.request("PUT", "/api/v1/index", { token, body: { files: [file("song.mp3")] } });
      expect((await dir.request("GET", "/api/v1/search?q=song")).body.total).toBe(1);

      const out = await dir.request("POST", "/api/v1/logout", { token });
      expect(out.status).toBe(200);
      expect(out.body).toEqual({ ok: true });
      expect((await dir.request("GET", "/api/v1/search?q=song")).body).toEqual({
        results: [],
        total: 0,
        totalExact: true,
        nextOffset: null,
      });
      expect((await dir.request("GET", "/api/v1/peers")).body.peers).toEqual([]);
      expect((await dir.request("POST", "/api/v1/heartbeat", { token })).status).toBe(401);
      expect((await dir.request("POST", "/api/v1/logout", { token })).status).toBe(401);
      const wrong = await dir.request("POST", "/api/v1/login", {
        body: { username: "alice", password: "not the password", address: ADDRESS },
      });
      expect(wrong.status).toBe(401);
    });

    it("accepts logout with an empty JSON body (curl -X POST -H 'content-type: application/json')", async () => {
      const token = await login(dir, "alice");
      const res = await dir.request("POST", "/api/v1/logout", { token, rawBody: "" });
      expect(res.status).toBe(200);
    });

    it("a new login starts with an empty index", async () => {
      const token = await login(dir, "alice");
      await dir.request("PUT", "/api/v1/index", { token, body: { files: [file("song.mp3")] } });
      await login(dir, "alice");
      expect((await dir.request("GET", "/api/v1/search?q=song")).body.total).toBe(0);
    });

    it.each([
      ["no header", {}],
      ["not a bearer token", { headers: { authorization: "Basic YWxpY2U6c2VjcmV0" } }],
      ["a malformed token", { headers: { authorization: "Bearer short" } }],
      ["an unknown token", { token: "A".repeat(43) }],
    ])("heartbeat with %s is 401 with a JSON error", async (_case, options) => {
      const res = await dir.request("POST", "/api/v1/heartbeat", options);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe("Unauthorized");
      expect(res.body.message).toMatch(/token|session/);
    });
  });

  describe("login input is bounded", () => {
    let dir: TestDirectory;
    beforeEach(async () => {
      dir = await startTestDirectory({ storage });
    });
    afterEach(async () => {
      await dir.close();
    });

    const good = { username: "alice", password: "correct horse", address: ADDRESS };
    const cases: Array<[string, unknown, number, RegExp]> = [
      ["no body", undefined, 400, /body/],
      ["missing username", { password: good.password, address: ADDRESS }, 400, /body\/username is required/],
      ["missing password", { username: "alice", address: ADDRESS }, 400, /body\/password is required/],
      ["missing address", { username: "alice", password: good.password }, 400, /body\/address is required/],
      ["username of the wrong type", { ...good, username: 42 }, 400, /body\/username must be string/],
      ["username with a space", { ...good, username: "al ice" }, 400, /body\/username must be 1-64 characters/],
      ["username with a slash", { ...good, username: "../etc" }, 400, /body\/username must be 1-64 characters/],
      ["empty username", { ...good, username: "" }, 400, /body\/username must be 1-64 characters/],
      ["username of 65 characters", { ...good, username: "a".repeat(65) }, 400, /body\/username/],
      ["password of 7 bytes", { ...good, password: "1234567" }, 400, /body\/password must be 8 to 1024 UTF-8 bytes/],
      ["password of 1025 bytes", { ...good, password: "é".repeat(513) }, 400, /body\/password must be 8 to 1024 UTF-8 bytes/],
      ["address without a port", { ...good, address: "http://127.0.0.1" }, 400, /body\/address must be an http/],
      ["address with a path", { ...good, address: "http://127.0.0.1:7001/x" }, 400, /body\/address/],
      ["address of another scheme", { ...good, address: "ftp://127.0.0.1:21" }, 400, /body\/address/],
      ["address with credentials", { ...good, address: "http://u:p@127.0.0.1:7001" }, 400, /body\/address/],
      ["address with port 0", { ...good, address: "http://127.0.0.1:0" }, 400, /body\/address must have a port/],
      ["address with port 70000", { ...good, address: "http://127.0.0.1:70000" }, 400, /body\/address must have a port/],
      ["address over 2048 characters", { ...good, address: `http://${"a".repeat(2050)}:1` }, 400, /body\/address/],
      ["an unknown field next to valid ones", { ...good, admin: true }, 400, /^body\/admin is not a known field$/],
      [
        "invalid UTF-8 in the password",
        Buffer.concat([Buffer.from('{"username":"alice","address":"http://127.0.0.1:7001","password":"correct '), Buffer.from([0xff, 0xfe]), Buffer.from('horse"}')]),
        400,
        /^body is not valid UTF-8$/,
      ],
    ];
    it.each(cases)("%s: %s", async (_case, body, status, message) => {
      const res = await dir.request("POST", "/api/v1/login", body === undefined ? {} : Buffer.isBuffer(body) ? { rawBody: body } : { body });
      expect(res.status).toBe(status);
      expect(res.body.error).toBe("Bad Request");
      expect(res.body.message).toMatch(message);
      expect(dir.logs.some((line) => line.level === 40 && line.status === status)).toBe(true);
      expect((await dir.request("GET", "/api/v1/peers")).body.peers).toEqual([]);
    });

    it("never logs the password, not even in a rejection", async () => {
      await dir.request("POST", "/api/v1/login", { body: { ...good, address: "nope", password: "hunter2hunter2" } });
      await dir.request("POST", "/api/v1/login", { rawBody: '{"password": "hunter2hunter2", "username": ' });
      expect(JSON.stringify(dir.logs)).not.toContain("hunter2");
      expect(dir.logs.length).toBeGreaterThan(0);
    });

    it("says so when the body is not JSON, without echoing it", async () => {
      const res = await dir.request("POST", "/api/v1/login", { rawBody: '{"password": "hunter2hunter2", "username": ' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: "Bad Request", message: "body is not valid JSON" });
    });

    it("names where a prototype-poisoning key sits, and changes nothing", async () => {
      for (const [rawBody, where] of [
        ['{"username":"alice","password":"pw-pw-pw-pw","address":{"":{"__proto__":""}}}', "body/address//__proto__"],
        ['{"__proto__":{"admin":true},"username":"alice"}', "body/__proto__"],
        ['{"username":"alice","x":[1,{"constructor":{"prototype":{"admin":true}}}]}', "body/x/1/constructor/prototype"],
      ] as const) {
        const res = await dir.request("POST", "/api/v1/login", { rawBody });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ error: "Bad Request", message: `${where} is a forbidden key (prototype poisoning)` });
      }
      expect((await dir.request("GET", "/api/v1/peers")).body.peers).toEqual([]);
      expect(({} as Record<string, unknown>).admin).toBeUndefined();
    });

    it("refuses a body that is not JSON with 415", async () => {
      const res = await dir.request("POST", "/api/v1/login", { rawBody: "username=alice", contentType: "text/plain" });
      expect(res.status).toBe(415);
      expect(res.body.error).toBe("Unsupported Media Type");
    });

    it("refuses a huge body with 413", async () => {
      const res = await dir.request("POST", "/api/v1/login", { body: { ...good, padding: "x".repeat(100_000) } });
      expect(res.status).toBe(413);
      expect(res.body.error).toBe("Payload Too Large");
    });
  });
});
