// Heartbeat renewals on both stores: the renewals of one event-loop turn are written together, and
// with a lease slack a renewal that finds at least a TTL left writes nothing (store.ts, renewSession).

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { tokenHash } from "../helpers.js";
import { describeEachStore, type StoreLocation, type TestStore } from "../stores.js";

const TTL_MS = 30_000;
const INTERVAL_MS = 10_000;
const SLACK_MS = 20_000;

describeEachStore("renewals", (storage) => {
  describe("heartbeat renewals", () => {
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

    async function session(name: string): Promise<string> {
      const user = (await store.createUser(name, "scrypt$hash")) ?? (await store.findUser(name));
      if (!user) throw new Error("no user");
      const token = tokenHash(`token of ${name}`);
      await store.openSession(user.id, token, `http://${name}:1`, TTL_MS);
      return token;
    }

    it("without slack, every renewal moves the expiry and the last-seen time to now + TTL", async () => {
      const token = await session("alice");
      for (let beat = 1; beat <= 3; beat += 1) {
        clock.advance(INTERVAL_MS);
        expect((await store.renewSession(token, TTL_MS))?.getTime()).toBe(clock.now() + TTL_MS);
        expect(await store.findLiveSession(token)).toMatchObject({
          lastSeenAt: new Date(clock.now()),
          expiresAt: new Date(clock.now() + TTL_MS),
        });
      }
    });

    it("with slack, a renewal writes TTL + slack only when less than a TTL is left, and answers the lease it has otherwise", async () => {
      const token = await session("alice");
      const opened = clock.now();
      clock.advance(INTERVAL_MS);
      const written = clock.now();
      // 20 s left of 30: written, for 30 + 20 s.
      expect((await store.renewSession(token, TTL_MS, SLACK_MS))?.getTime()).toBe(written + TTL_MS + SLACK_MS);
      clock.advance(INTERVAL_MS);
      // 40 s left: nothing written; the answer is the lease it has, and the last-seen time stays.
      expect((await store.renewSession(token, TTL_MS, SLACK_MS))?.getTime()).toBe(written + TTL_MS + SLACK_MS);
      clock.advance(INTERVAL_MS);
      expect((await store.renewSession(token, TTL_MS, SLACK_MS))?.getTime()).toBe(written + TTL_MS + SLACK_MS);
      expect(await store.findLiveSession(token)).toMatchObject({ lastSeenAt: new Date(written) });
      clock.advance(INTERVAL_MS);
      // 20 s left: written again.
      expect((await store.renewSession(token, TTL_MS, SLACK_MS))?.getTime()).toBe(clock.now() + TTL_MS + SLACK_MS);
      expect(await store.findLiveSession(token)).toMatchObject({ lastSeenAt: new Date(clock.now()) });
      expect(opened).toBeLessThan(written);
    });

    it("with slack, a silent peer stays live to the end of its lease and not a millisecond longer", async () => {
      const token = await session("alice");
      clock.advance(INTERVAL_MS);
      const expiresAt = (await store.renewSession(token, TTL_MS, SLACK_MS))?.getTime() as number;
      clock.advance(expiresAt - 1 - clock.now());
      expect(await store.findLiveSession(token)).not.toBeNull();
      expect((await store.stats()).livePeers).toBe(1);
      clock.advance(1);
      expect(await store.findLiveSession(token)).toBeNull();
      expect(await store.renewSession(token, TTL_MS, SLACK_MS)).toBeNull();
      expect((await store.stats()).livePeers).toBe(0);
    });

    it("renewals of many sessions in one turn are each answered and each written", async () => {
      const tokens = await Promise.all(Array.from({ length: 40 }, (_, i) => session(`peer${i}`)));
      clock.advance(INTERVAL_MS);
      const unknown = tokenHash("nobody's token");
      const answers = await Promise.all([...tokens, unknown].map((token) => store.renewSession(token, TTL_MS)));
      expect(answers.slice(0, 40).map((date) => date?.getTime())).toEqual(tokens.map(() => clock.now() + TTL_MS));
      expect(answers[40]).toBeNull();
      clock.advance(TTL_MS - 1);
      expect((await store.stats()).livePeers).toBe(40);
      clock.advance(1);
      expect((await store.stats()).livePeers).toBe(0);
    });

    it("a logout in the same turn as a renewal is not undone by it", async () => {
      const token = await session("alice");
      clock.advance(INTERVAL_MS);
      const [renewed, closed] = await Promise.all([store.renewSession(token, TTL_MS), store.closeSession(token)]);
      expect(closed).toBe(true);
      // Either order is a valid outcome for the renewal; the session stays closed either way.
      expect([null, new Date(clock.now() + TTL_MS).toISOString()]).toContain(renewed?.toISOString() ?? null);
      expect(await store.findLiveSession(token)).toBeNull();
      expect(await store.renewSession(token, TTL_MS, SLACK_MS)).toBeNull();
      expect((await store.stats()).livePeers).toBe(0);
    });
  });
});
