import { PUSH_POLICY_MAX_SENDERS } from "@p2p/directory-api";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { contentId, login, receiver, type TestDirectory, startTestDirectory } from "../helpers.js";
import { describeEachStore } from "../stores.js";

const CONTENT = contentId("movie");

async function uploadTarget(dir: TestDirectory, token: string, body: Record<string, unknown> = {}) {
  return dir.request("POST", "/api/v1/upload-target", { token, body: { contentId: CONTENT, size: 4096, ...body } });
}

describeEachStore("store", (storage) => {
  describe("push consent", () => {
    let dir: TestDirectory;
    let alice: string;
    beforeEach(async () => {
      dir = await startTestDirectory({ storage });
      alice = await login(dir, "alice", 7001);
    });
    afterEach(async () => {
      await dir.close();
    });

    it("never picks a peer that set no policy, and a named one answers 403", async () => {
      await login(dir, "bob", 7002);
      const none = await uploadTarget(dir, alice);
      expect(none.status).toBe(404);
      expect(none.body.message).toMatch(/^no live peer takes this push/);
      const named = await uploadTarget(dir, alice, { target: "bob" });
      expect(named.status).toBe(403);
      expect(named.body).toEqual({ error: "Forbidden", message: 'peer "bob" does not accept pushes' });
      expect(named.body.ticket).toBeUndefined();
    });

    it("a listed policy takes only the listed senders, names compared case-insensitively", async () => {
      const policy = { accept: "listed", from: ["ALICE"], maxFileBytes: 10_000, quotaBytes: 10_000 };
      await receiver(dir, "bob", 7002, policy);
      const carol = await login(dir, "carol", 7003);
      expect((await uploadTarget(dir, alice)).body.peer.name).toBe("bob");
      expect((await uploadTarget(dir, carol)).status).toBe(404);
      const named = await uploadTarget(dir, carol, { target: "bob" });
      expect(named.status).toBe(403);
      expect(named.body.message).toBe('peer "bob" does not accept pushes from you');
    });

    it("skips a peer when the file is larger than it takes or its quota has no room, and says which", async () => {
      await receiver(dir, "bob", 7002, { accept: "anyone", from: [], maxFileBytes: 1000, quotaBytes: 5000 });
      expect((await uploadTarget(dir, alice, { size: 1000 })).status).toBe(200);
      expect((await uploadTarget(dir, alice, { size: 1001 })).status).toBe(404);
      expect((await uploadTarget(dir, alice, { size: 1001, target: "bob" })).body.message).toBe(
        'peer "bob" accepts pushed files of at most 1000 bytes',
      );
      const bob = await login(dir, "bob", 7002);
      await dir.request("PUT", "/api/v1/push-policy", {
        token: bob,
        body: { accept: "anyone", from: [], maxFileBytes: 1000, quotaBytes: 10 },
      });
      const full = await uploadTarget(dir, alice, { size: 11, target: "bob" });
      expect(full.status).toBe(403);
      expect(full.body.message).toBe('peer "bob" has no room left for pushes (its push quota is used up)');
    });

    it("keeps the policy across logins, answers it on GET, and a new policy replaces it", async () => {
      let bob = await receiver(dir, "bob", 7002, { accept: "listed", from: ["alice", "Alice", "carol"], maxFileBytes: 7, quotaBytes: 9 });
      expect((await dir.request("GET", "/api/v1/push-policy", { token: bob })).body).toEqual({
        accept: "listed",
        from: ["alice", "carol"],
        maxFileBytes: 7,
        quotaBytes: 9,
      });
      bob = await login(dir, "bob", 7002);
      expect((await dir.request("GET", "/api/v1/push-policy", { token: bob })).body.accept).toBe("listed");
      await dir.request("PUT", "/api/v1/push-policy", { token: bob, body: { accept: "nobody", from: [], maxFileBytes: 0, quotaBytes: 0 } });
      expect((await uploadTarget(dir, alice, { size: 1, target: "bob" })).status).toBe(403);
      const fresh = await login(dir, "dave", 7004);
      expect((await dir.request("GET", "/api/v1/push-policy", { token: fresh })).body).toEqual({
        accept: "nobody",
        from: [],
        maxFileBytes: 0,
        quotaBytes: 0,
      });
    });

    it.each([
      ["an unknown accept value", { accept: "everyone" }, /body\/accept/],
      ["a bad sender name", { from: ["bob/../x"] }, /body\/from\/0/],
      ["too many senders", { from: Array.from({ length: PUSH_POLICY_MAX_SENDERS + 1 }, (_, i) => `p${i}`) }, /body\/from/],
      ["a negative quota", { quotaBytes: -1 }, /body\/quotaBytes/],
      ["an unknown field", { to: ["bob"] }, /body\/to is not a known field/],
    ])("PUT /push-policy with %s is 400", async (_case, change, message) => {
      const body = { accept: "anyone", from: [], maxFileBytes: 1, quotaBytes: 1, ...change };
      const res = await dir.request("PUT", "/api/v1/push-policy", { token: alice, body });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(message);
    });

    it("needs a session", async () => {
      const body = { accept: "anyone", from: [], maxFileBytes: 1, quotaBytes: 1 };
      expect((await dir.request("PUT", "/api/v1/push-policy", { body })).status).toBe(401);
      expect((await dir.request("GET", "/api/v1/push-policy")).status).toBe(401);
    });
  });
});
