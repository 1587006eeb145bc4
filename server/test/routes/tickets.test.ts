import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { contentId, file, login, publish, receiver, type TestDirectory, TRANSPORTS, startTestDirectory } from "../helpers.js";
import { describeEachStore } from "../stores.js";

const CONTENT = contentId("movie");

async function uploadTarget(dir: TestDirectory, token: string, body: Record<string, unknown> = {}) {
  return dir.request("POST", "/api/v1/upload-target", { token, body: { contentId: CONTENT, size: 4096, ...body } });
}

async function redeem(dir: TestDirectory, token: string, ticket: string, id = CONTENT) {
  return dir.request("POST", "/api/v1/tickets/redeem", { token, body: { ticket, contentId: id } });
}

describeEachStore("store", (storage) => {
  describe.each(TRANSPORTS)("push tickets over %s", (transport) => {
    let dir: TestDirectory;
    let clock: ManualClock;
    let alice: string;
    beforeEach(async () => {
      clock = new ManualClock();
      dir = await startTestDirectory({ storage, transport, clock });
      alice = await publish(dir, "alice", [file("movie.mkv", "movie")], 7001);
    });
    afterEach(async () => {
      await dir.close();
    });

    it("picks a live peer other than the caller and issues a ticket the target redeems once", async () => {
      const bob = await receiver(dir, "bob", 7002);
      const res = await uploadTarget(dir, alice);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        peer: { name: "bob", address: "http://127.0.0.1:7002", lastSeenAt: expect.any(String) },
        ticket: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        expiresAt: new Date(clock.now() + 5 * 60_000).toISOString(),
      });
      const redeemed = await redeem(dir, bob, res.body.ticket);
      expect(redeemed.status).toBe(200);
      expect(redeemed.body).toEqual({ contentId: CONTENT, size: 4096, from: "alice" });
      const again = await redeem(dir, bob, res.body.ticket);
      expect(again.status).toBe(409);
      expect(again.body).toEqual({ error: "Conflict", message: "this ticket was already redeemed" });
    });

    it("spreads load: the least recently chosen peer goes first", async () => {
      await receiver(dir, "bob", 7002);
      await receiver(dir, "carol", 7003);
      await receiver(dir, "dave", 7004);
      const picks: string[] = [];
      for (let i = 0; i < 6; i += 1) {
        const res = await uploadTarget(dir, alice, { contentId: contentId(`other ${i}`) });
        picks.push(res.body.peer.name);
      }
      expect(picks).toEqual(["bob", "carol", "dave", "bob", "carol", "dave"]);
    });

    it("prefers a peer without an open ticket for the same content, falling back to one that has one", async () => {
      await receiver(dir, "bob", 7002);
      await receiver(dir, "carol", 7003);
      const pick = async (label: string) => (await uploadTarget(dir, alice, { contentId: contentId(label) })).body.peer.name;
      expect(await pick("x")).toBe("bob");
      expect(await pick("y")).toBe("carol");
      // Bob is the least recently chosen, but already has an open ticket for x.
      expect(await pick("x")).toBe("carol");
      // Both have one now: round robin again.
      expect(await pick("x")).toBe("bob");
    });

    it("skips peers that hold the content, and dead peers, and says so when nobody is left", async () => {
      await publish(dir, "bob", [file("movie.mkv", "movie")], 7002);
      const carol = await receiver(dir, "carol", 7003);
      expect((await uploadTarget(dir, alice)).body.peer.name).toBe("carol");
      clock.advance(20_000);
      await dir.request("POST", "/api/v1/heartbeat", { token: alice });
      clock.advance(15_000); // carol and bob are now silent for 35 s
      const none = await uploadTarget(dir, alice);
      expect(none.status).toBe(404);
      expect(none.body).toEqual({
        error: "Not Found",
        message:
          "no live peer takes this push: none of the other live peers accepts pushes from you of this size " +
          "(or they all hold the content already)",
      });
      expect((await redeem(dir, carol, "A".repeat(43))).status).toBe(401);
    });

    it("honours a named target when it is live and eligible, and explains each refusal", async () => {
      await receiver(dir, "bob", 7002);
      await publish(dir, "carol", [file("movie.mkv", "movie")], 7003);
      expect((await uploadTarget(dir, alice, { target: "bob" })).body.peer.name).toBe("bob");
      const cases: Array<[string, string]> = [
        ["carol", 'peer "carol" already holds this content'],
        ["zed", 'peer "zed" is not online'],
        ["alice", "a peer cannot push content to itself"],
      ];
      for (const [target, message] of cases) {
        const res = await uploadTarget(dir, alice, { target });
        expect(res.status).toBe(404);
        expect(res.body.message).toBe(message);
      }
    });

    it("refuses a ticket for another peer, another content, an unknown ticket or an expired one, all with 404", async () => {
      const bob = await receiver(dir, "bob", 7002);
      const carol = await receiver(dir, "carol", 7003);
      const ticket = (await uploadTarget(dir, alice, { target: "bob" })).body.ticket as string;
      const notFound = "no such ticket: it is unknown, expired, or was issued for another peer or content";
      for (const res of [
        await redeem(dir, carol, ticket),
        await redeem(dir, alice, ticket),
        await redeem(dir, bob, ticket, contentId("something else")),
        await redeem(dir, bob, "B".repeat(43)),
      ]) {
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ error: "Not Found", message: notFound });
      }
      // Refusals did not use it up... (both peers keep heartbeating while five minutes pass)
      for (let waited = 0; waited < 5 * 60_000 - 1; ) {
        const step = Math.min(20_000, 5 * 60_000 - 1 - waited);
        clock.advance(step);
        waited += step;
        for (const token of [alice, bob]) await dir.request("POST", "/api/v1/heartbeat", { token });
      }
      const late = await uploadTarget(dir, alice, { target: "bob", contentId: contentId("late") });
      expect(late.status).toBe(200);
      // ...but five minutes did.
      clock.advance(1);
      expect((await redeem(dir, bob, ticket)).status).toBe(404);
      expect((await redeem(dir, bob, late.body.ticket, contentId("late"))).status).toBe(200);
    });

    it.each([
      ["no content id", { contentId: undefined }, /body\/contentId is required/],
      ["a bad content id", { contentId: "xyz" }, /body\/contentId must be m1_ followed by 64 lower-case hex/],
      ["a negative size", { size: -5 }, /body\/size must be >= 0/],
      ["a size as text", { size: "5" }, /body\/size must be integer/],
      ["a bad target name", { target: "bob/../x" }, /body\/target must be 1-64 characters/],
      ["a misspelt target (targett)", { targett: "bob" }, /^body\/targett is not a known field$/],
    ])("upload-target with %s is 400", async (_case, body, message) => {
      await receiver(dir, "bob", 7002);
      const res = await uploadTarget(dir, alice, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("Bad Request");
      expect(res.body.message).toMatch(message);
      expect(res.body.ticket).toBeUndefined();
      expect(dir.logs.some((line) => line.level === 40 && line.status === 400)).toBe(true);
    });

    it.each([
      ["a malformed ticket", { ticket: "short", contentId: CONTENT }, /body\/ticket must be a ticket as issued/],
      ["no ticket", { contentId: CONTENT }, /body\/ticket is required/],
      ["a bad content id", { ticket: "A".repeat(43), contentId: "nope" }, /body\/contentId/],
    ])("redeem with %s is 400", async (_case, body, message) => {
      const res = await dir.request("POST", "/api/v1/tickets/redeem", { token: alice, body });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(message);
    });

    it("both routes need a session", async () => {
      expect((await dir.request("POST", "/api/v1/upload-target", { body: { contentId: CONTENT, size: 1 } })).status).toBe(401);
      expect((await dir.request("POST", "/api/v1/tickets/redeem", { body: { ticket: "A".repeat(43), contentId: CONTENT } })).status).toBe(401);
    });
  });

  describe("GET /peers", () => {
    let dir: TestDirectory;
    let clock: ManualClock;
    beforeEach(async () => {
      clock = new ManualClock();
      dir = await startTestDirectory({ storage, clock });
    });
    afterEach(async () => {
      await dir.close();
    });

    it("lists live peers by name, with their address and last heartbeat", async () => {
      await login(dir, "carol", 7003);
      await login(dir, "alice", 7001);
      clock.advance(31_000);
      const bob = await login(dir, "bob", 7002);
      const res = await dir.request("GET", "/api/v1/peers");
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        peers: [{ name: "bob", address: "http://127.0.0.1:7002", lastSeenAt: new Date(clock.now()).toISOString() }],
      });
      clock.advance(10_000);
      await dir.request("POST", "/api/v1/heartbeat", { token: bob });
      await login(dir, "alice", 7001);
      expect((await dir.request("GET", "/api/v1/peers")).body.peers.map((p: { name: string }) => p.name)).toEqual([
        "alice",
        "bob",
      ]);
    });
  });
});
