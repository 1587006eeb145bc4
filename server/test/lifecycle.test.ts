import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../src/clock.js";
import { contentId, file, login, publish, type TestDirectory, startTestDirectory } from "./helpers.js";
import { describeEachStore } from "./stores.js";

function gauge(metrics: string, name: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1]);
}

describeEachStore("store", (storage) => {
  describe("expiry with a controlled clock", () => {
    let dir: TestDirectory;
    afterEach(async () => {
      await dir.close();
    });

    it("a peer silent for the TTL is dead everywhere, its heartbeat is refused, and a sweep removes its rows", async () => {
      const clock = new ManualClock();
      dir = await startTestDirectory({ storage, clock, config: { heartbeatIntervalMs: 1_000 } });
      const alice = await publish(dir, "alice", [file("a.txt", 1)], 7001);
      const bob = await publish(dir, "bob", [file("b.txt", 2), file("a.txt", 1)], 7002);
      for (let i = 0; i < 5; i += 1) {
        clock.advance(1_000);
        expect((await dir.request("POST", "/api/v1/heartbeat", { token: alice })).status).toBe(200);
      }
      // Bob: 5 s silent with a TTL of 3 s (3 x the 1 s interval) is dead, though nothing was swept yet.
      expect((await dir.request("GET", "/api/v1/peers")).body.peers.map((p: { name: string }) => p.name)).toEqual(["alice"]);
      expect((await dir.request("GET", "/api/v1/search?q=.txt")).body.results.map((r: { name: string }) => r.name)).toEqual(["a.txt"]);
      expect((await dir.request("GET", `/api/v1/files/${contentId(2)}`)).status).toBe(404);
      expect((await dir.request("POST", "/api/v1/upload-target", { token: alice, body: { contentId: contentId(9), size: 1 } })).status).toBe(404);
      const late = await dir.request("POST", "/api/v1/heartbeat", { token: bob });
      expect(late.status).toBe(401);
      expect(late.body.message).toBe("the session is unknown, expired or logged out: log in again");

      let metrics = (await dir.request("GET", "/metrics")).text;
      expect(gauge(metrics, "directory_sessions")).toBe(2);
      expect(gauge(metrics, "directory_live_peers")).toBe(1);
      expect(gauge(metrics, "directory_indexed_files")).toBe(3);

      expect(await dir.app.directory.sweep()).toEqual({ sessions: 1, files: 2, tickets: 0 });
      metrics = (await dir.request("GET", "/metrics")).text;
      expect(gauge(metrics, "directory_sessions")).toBe(1);
      expect(gauge(metrics, "directory_indexed_files")).toBe(1);
      expect(gauge(metrics, "directory_contents")).toBe(1);
      expect(gauge(metrics, "directory_users")).toBe(2);

      // The account survives: bob logs in again and republishes.
      const again = await publish(dir, "bob", [file("b.txt", 2)], 7002);
      expect((await dir.request("POST", "/api/v1/heartbeat", { token: again })).status).toBe(200);
      expect((await dir.request("GET", "/api/v1/search?q=b.txt")).body.total).toBe(1);
    });

    it("the sweeper runs by itself on its interval", async () => {
      const clock = new ManualClock();
      dir = await startTestDirectory({ storage, clock, config: { heartbeatIntervalMs: 100, sweepIntervalMs: 100 } });
      await publish(dir, "alice", [file("a.txt", 1)]);
      clock.advance(1_000);
      await expect
        .poll(async () => gauge((await dir.request("GET", "/metrics")).text, "directory_sessions"), { timeout: 5_000 })
        .toBe(0);
      expect(gauge((await dir.request("GET", "/metrics")).text, "directory_indexed_files")).toBe(0);
    });
  });

  // SQLite: a new process on the same file. PostgreSQL: a new store on the same schema.
  describe("restart on the same database", () => {
    it("keeps accounts, sessions and every index", async () => {
      const first = await startTestDirectory({ storage, transport: "http" });
      const { location } = first;
      const alice = await publish(first, "alice", [file("Song.mp3", 1), file("other.bin", 2)], 7001);
      await publish(first, "bob", [file("song.mp3", 1)], 7002);
      const before = (await first.request("GET", "/api/v1/search?q=song")).body;
      await first.close(false);

      const second = await startTestDirectory({ transport: "http", location });
      try {
        expect((await second.request("POST", "/api/v1/heartbeat", { token: alice })).status).toBe(200);
        const after = (await second.request("GET", "/api/v1/search?q=song")).body;
        expect(after.results.map((r: { holders: unknown[] }) => r.holders.length)).toEqual([2]);
        expect(after.results[0].name).toBe(before.results[0].name);
        expect((await second.request("GET", "/api/v1/search?q=other")).body.total).toBe(1);
        expect((await second.request("PATCH", "/api/v1/index", { token: alice, body: { remove: [contentId(2)] } })).body).toEqual({ count: 1 });
        const wrong = await second.request("POST", "/api/v1/login", {
          body: { username: "alice", password: "wrong password", address: "http://127.0.0.1:7001" },
        });
        expect(wrong.status).toBe(401);
        expect(await login(second, "alice", 7001)).toMatch(/^[A-Za-z0-9_-]{43}$/);
      } finally {
        await second.close();
        await location.remove();
      }
    });
  });

  describe("rate limits", () => {
    let dir: TestDirectory;
    afterEach(async () => {
      await dir.close();
    });

    it("per IP: past the limit a client gets 429 with a message and Retry-After", async () => {
      dir = await startTestDirectory({ storage, transport: "http", config: { rateLimitPerMinute: 5 } });
      const statuses: number[] = [];
      for (let i = 0; i < 7; i += 1) statuses.push((await dir.request("GET", "/api/v1/peers")).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      const res = await dir.request("GET", "/api/v1/search?q=a");
      expect(res.status).toBe(429);
      expect(res.body.error).toBe("Too Many Requests");
      expect(res.body.message).toMatch(/^too many requests from 127\.0\.0\.1: at most 5 per minute; retry in/);
      expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
      // Health checks and metrics are not throttled.
      expect((await dir.request("GET", "/healthz")).status).toBe(200);
    });

    it("per session: one busy session is throttled while another is not", async () => {
      dir = await startTestDirectory({ storage, config: { sessionRateLimitPerMinute: 3 } });
      const alice = await login(dir, "alice", 7001);
      const bob = await login(dir, "bob", 7002);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await dir.request("POST", "/api/v1/heartbeat", { token: alice })).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const res = await dir.request("PUT", "/api/v1/index", { token: alice, body: { files: [] } });
      expect(res.status).toBe(429);
      expect(res.body.message).toMatch(/^too many requests on this session: at most 3 per minute/);
      expect((await dir.request("POST", "/api/v1/heartbeat", { token: bob })).status).toBe(200);
    });
  });
});
