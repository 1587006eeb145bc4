// Several directory instances on one PostgreSQL database, each with its own store and its own HTTP
// listener: whatever one instance is told, the others know; tickets and upload-target spreading work
// whichever instance is asked; concurrent requests through both keep the index consistent.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../src/clock.js";
import { PG_MIGRATIONS } from "../src/storage/pg-schema.js";
import { PgStore } from "../src/storage/pg-store.js";
import { contentId, file, login, publish, receiver, type TestDirectory, startTestDirectory } from "./helpers.js";
import { POSTGRES, type StoreLocation } from "./stores.js";

const title = (name: string) => (POSTGRES.skipReason === null ? name : `${name} (skipped: ${POSTGRES.skipReason})`);

function names(body: { results?: Array<{ name: string }>; peers?: Array<{ name: string }> }): string[] {
  return (body.results ?? body.peers ?? []).map((r) => r.name);
}

describe.skipIf(POSTGRES.skipReason !== null)(title("two directory instances on one PostgreSQL database"), () => {
  let location: StoreLocation;
  let a: TestDirectory;
  let b: TestDirectory;
  let clock: ManualClock;
  const running: TestDirectory[] = [];
  beforeEach(async () => {
    location = await POSTGRES.fixture.create();
  });
  afterEach(async () => {
    for (const dir of running.splice(0)) await dir.close();
    await location.remove();
  });

  /** Starts instances A and B at once on the test's schema. */
  async function startBoth(options: { clock?: ManualClock; config?: Record<string, number> } = {}) {
    const start = () => startTestDirectory({ transport: "http", location, clock: options.clock, config: options.config });
    [a, b] = await Promise.all([start(), start()]);
    running.push(a, b);
  }

  it("starting both at once migrates the schema once", async () => {
    await startBoth();
    const store = await location.open();
    try {
      expect((await store.stats()).users).toBe(0);
    } finally {
      await store.close();
    }
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: POSTGRES.url });
    await client.connect();
    try {
      const schema = location.config.databaseSchema as string;
      const { rows } = await client.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
      expect(rows).toEqual(PG_MIGRATIONS.map((_, i) => ({ version: i + 1 })));
    } finally {
      await client.end();
    }
  });

  it("a session made on one is valid on the other: login on A, heartbeat, publish and logout on B, search on A", async () => {
    await startBoth();
    const token = await login(a, "alice", 7001);
    expect((await b.request("POST", "/api/v1/heartbeat", { token })).status).toBe(200);
    const put = await b.request("PUT", "/api/v1/index", { token, body: { files: [file("Song.mp3", 1), file("notes.txt", 2)] } });
    expect(put.body).toEqual({ count: 2 });
    const found = await a.request("GET", "/api/v1/search?q=song");
    expect(names(found.body)).toEqual(["Song.mp3"]);
    expect(found.body.results[0].holders.map((h: { name: string }) => h.name)).toEqual(["alice"]);
    expect(names((await b.request("GET", "/api/v1/peers")).body)).toEqual(["alice"]);
    expect((await a.request("GET", `/api/v1/files/${contentId(2)}`)).body.name).toBe("notes.txt");

    expect((await b.request("POST", "/api/v1/logout", { token })).status).toBe(200);
    expect((await a.request("POST", "/api/v1/heartbeat", { token })).status).toBe(401);
    expect((await a.request("GET", "/api/v1/search?q=song")).body.total).toBe(0);
    // A new login through B replaces the session: A refuses the token B replaced.
    const first = await login(a, "alice", 7001);
    await login(b, "alice", 7001);
    expect((await a.request("POST", "/api/v1/heartbeat", { token: first })).status).toBe(401);
  });

  it("both agree on who is live: a shared clock expires a peer on both, and a heartbeat on one keeps it live on the other", async () => {
    clock = new ManualClock();
    await startBoth({ clock, config: { heartbeatIntervalMs: 1_000 } });
    const alice = await publish(a, "alice", [file("a.txt", 1)], 7001);
    await publish(b, "bob", [file("b.txt", 2)], 7002);
    for (let i = 0; i < 4; i += 1) {
      clock.advance(1_000);
      expect((await (i % 2 === 0 ? b : a).request("POST", "/api/v1/heartbeat", { token: alice })).status).toBe(200);
    }
    for (const dir of [a, b]) {
      expect(names((await dir.request("GET", "/api/v1/peers")).body)).toEqual(["alice"]);
      expect(names((await dir.request("GET", "/api/v1/search?q=.txt")).body)).toEqual(["a.txt"]);
    }
    expect(await b.app.directory.sweep()).toEqual({ sessions: 1, files: 1, tickets: 0 });
    expect(await a.app.directory.sweep()).toEqual({ sessions: 0, files: 0, tickets: 0 });
  });

  it("liveness uses the database's clock: a peer that stops heartbeating drops out of both", async () => {
    // The real database clock (no test clock): a TTL of 2 s (300 ms ran out between the login and the
    // publish on a loaded machine), and the test only waits for the outcome.
    await startBoth({ config: { heartbeatIntervalMs: 500, sessionTtlMs: 2_000 } });
    await publish(a, "alice", [file("a.txt", 1)], 7001);
    expect(names((await b.request("GET", "/api/v1/peers")).body)).toEqual(["alice"]);
    for (const dir of [b, a]) {
      await expect
        .poll(async () => names((await dir.request("GET", "/api/v1/peers")).body), { timeout: 20_000, interval: 100 })
        .toEqual([]);
    }
    expect((await a.request("GET", "/api/v1/search?q=a.txt")).body.total).toBe(0);
  });

  it("a ticket issued by one is redeemed through the other, once", async () => {
    await startBoth();
    const alice = await publish(a, "alice", [file("movie.mkv", "movie")], 7001);
    const bob = await receiver(b, "bob", 7002);
    const target = await a.request("POST", "/api/v1/upload-target", { token: alice, body: { contentId: contentId("movie"), size: 4096 } });
    expect(target.body.peer.name).toBe("bob");
    const body = { ticket: target.body.ticket, contentId: contentId("movie") };
    const redeemed = await b.request("POST", "/api/v1/tickets/redeem", { token: bob, body });
    expect(redeemed.status).toBe(200);
    expect(redeemed.body).toEqual({ contentId: contentId("movie"), size: 4096, from: "alice" });
    const again = await a.request("POST", "/api/v1/tickets/redeem", { token: bob, body });
    expect(again.status).toBe(409);
  });

  it("ten redeems of one ticket at once through both: exactly one succeeds, the others are 409", async () => {
    await startBoth();
    const alice = await publish(a, "alice", [file("movie.mkv", "movie")], 7001);
    const bob = await receiver(b, "bob", 7002);
    const target = await b.request("POST", "/api/v1/upload-target", { token: alice, body: { contentId: contentId("movie"), size: 1 } });
    const body = { ticket: target.body.ticket, contentId: contentId("movie") };
    const statuses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).request("POST", "/api/v1/tickets/redeem", { token: bob, body })),
    );
    expect(statuses.map((res) => res.status).sort()).toEqual([200, ...Array.from({ length: 9 }, () => 409)]);
  });

  it("upload targets spread round-robin whichever instance is asked", async () => {
    await startBoth();
    const alice = await login(a, "alice", 7001);
    for (const [i, name] of ["bob", "carol", "dave"].entries()) await receiver(i % 2 ? a : b, name, 7002 + i);
    const picks: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const res = await (i % 2 ? a : b).request("POST", "/api/v1/upload-target", {
        token: alice,
        body: { contentId: contentId(`other ${i}`), size: 1 },
      });
      picks.push(res.body.peer.name);
    }
    expect(picks).toEqual(["bob", "carol", "dave", "bob", "carol", "dave"]);
  });

  it("upload targets asked for at once through both instances are all issued, spread over every peer, each ticket redeemable by its target only", async () => {
    await startBoth();
    const alice = await login(a, "alice", 7001);
    const targets = new Map<string, string>();
    for (const [i, name] of ["bob", "carol", "dave", "erin"].entries()) targets.set(name, await receiver(i % 2 ? a : b, name, 7002 + i));
    const responses = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        (i % 2 ? a : b).request("POST", "/api/v1/upload-target", { token: alice, body: { contentId: contentId(`c${i}`), size: 1 } }),
      ),
    );
    expect(responses.map((res) => res.status)).toEqual(Array.from({ length: 16 }, () => 200));
    const chosen = responses.map((res) => res.body.peer.name as string);
    expect(new Set(chosen)).toEqual(new Set(targets.keys()));
    expect(new Set(responses.map((res) => res.body.ticket)).size).toBe(16);
    for (const [i, res] of responses.entries()) {
      const body = { ticket: res.body.ticket, contentId: contentId(`c${i}`) };
      const other = [...targets.keys()].find((name) => name !== res.body.peer.name) as string;
      expect((await a.request("POST", "/api/v1/tickets/redeem", { token: targets.get(other), body })).status).toBe(404);
      expect((await b.request("POST", "/api/v1/tickets/redeem", { token: targets.get(res.body.peer.name), body })).status).toBe(200);
    }
  });

  it("peers publishing overlapping indexes at once through both keep every holder count and name right", async () => {
    await startBoth();
    // 12 peers, each holding 40 of 60 contents; a content's name depends on the peer (3 variants),
    // so holder counters and the name most holders use change from many transactions at once.
    const peers = Array.from({ length: 12 }, (_, i) => `peer${String(i).padStart(2, "0")}`);
    const held = (i: number) => Array.from({ length: 40 }, (_, k) => (i * 7 + k) % 60);
    const nameOf = (i: number, n: number) => `shared ${String(n).padStart(2, "0")} ${["alpha", "beta", "beta"][(i + n) % 3]}.bin`;
    const tokens = await Promise.all(peers.map((name, i) => login(i % 2 ? a : b, name, 7100 + i)));
    const publishAll = (round: number) =>
      Promise.all(
        tokens.map((token, i) => {
          const files = held(i).map((n) => file(nameOf(i + round, n), `content ${n}`));
          return (i % 2 ? b : a).request("PUT", "/api/v1/index", { token, body: { files } });
        }),
      );
    for (let round = 0; round < 3; round += 1) {
      expect((await publishAll(round)).map((res) => res.status)).toEqual(peers.map(() => 200));
    }
    // Then half of them drop a third of their files, at once, while the others log in again.
    const changes = await Promise.all(
      tokens.map((token, i) =>
        i % 2
          ? a.request("PATCH", "/api/v1/index", { token, body: { remove: held(i).slice(0, 13).map((n) => contentId(`content ${n}`)) } })
          : login(b, peers[i] as string, 7100 + i).then(() => ({ status: 200 })),
      ),
    );
    expect(changes.map((res) => res.status)).toEqual(peers.map(() => 200));

    const expected = new Map<number, { holders: number; votes: Map<string, number> }>();
    peers.forEach((_, i) => {
      if (i % 2 === 0) return; // logged in again: an empty index
      for (const n of held(i).slice(13)) {
        const entry = expected.get(n) ?? { holders: 0, votes: new Map<string, number>() };
        entry.holders += 1;
        const name = nameOf(i + 2, n);
        entry.votes.set(name, (entry.votes.get(name) ?? 0) + 1);
        expected.set(n, entry);
      }
    });
    const page = await b.request("GET", "/api/v1/search?q=shared&limit=100");
    expect(page.body.total).toBe(expected.size);
    for (const result of page.body.results as Array<{ contentId: string; name: string; holderCount: number }>) {
      const n = [...expected.keys()].find((k) => contentId(`content ${k}`) === result.contentId) as number;
      const want = expected.get(n) as { holders: number; votes: Map<string, number> };
      expect(result.holderCount, `holders of content ${n}`).toBe(want.holders);
      const best = [...want.votes].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))[0]?.[0];
      expect(result.name, `name of content ${n}`).toBe(best);
    }
    const store = await location.open();
    try {
      expect(await store.stats()).toMatchObject({ indexedFiles: 6 * 27, contents: expected.size });
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(POSTGRES.skipReason !== null)(title("PgStore.open"), () => {
  it("refuses a schema newer than this directory, naming it", async () => {
    const location = await POSTGRES.fixture.create();
    const { default: pg } = await import("pg");
    const schema = location.config.databaseSchema as string;
    try {
      await (await location.open()).close();
      const client = new pg.Client({ connectionString: POSTGRES.url });
      await client.connect();
      await client.query(`INSERT INTO "${schema}".schema_migrations (version) VALUES (999)`);
      await client.end();
      await expect(location.open()).rejects.toThrow(`database schema "${schema}" is at version 999, newer than this directory`);
    } finally {
      await location.remove();
    }
  });

  it("refuses a schema name that would need quoting", async () => {
    await expect(PgStore.open({ connectionString: POSTGRES.url, schema: 'x"; DROP SCHEMA public; --' })).rejects.toThrow(
      "must be 1-63 characters of a-z, 0-9 and _",
    );
  });
});
