import { describe, expect, it } from "vitest";
import { bearerToken, SessionStore } from "../../src/rpc/sessions.js";

describe("SessionStore", () => {
  it("opens a session whose token authenticates, and refuses other tokens", () => {
    const store = new SessionStore();
    const { token, session } = store.create("alice");
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(store.authenticate(token)?.id).toBe(session.id);
    expect(store.authenticate(token.slice(0, -1) + (token.endsWith("A") ? "B" : "A"))).toBeUndefined();
    expect(store.authenticate("")).toBeUndefined();
    expect(store.authenticate(undefined)).toBeUndefined();
  });

  it("gives every session its own random token", () => {
    const store = new SessionStore();
    const tokens = new Set(Array.from({ length: 20 }, () => store.create("alice").token));
    expect(tokens.size).toBe(20);
  });

  it("expires a session left idle, and tells who listens", async () => {
    const store = new SessionStore({ idleMs: 30 });
    const ended: string[] = [];
    store.onEnd = (id) => ended.push(id);
    const { token, session } = store.create("alice");
    await new Promise((r) => setTimeout(r, 80));
    expect(store.authenticate(token)).toBeUndefined();
    expect(ended).toEqual([session.id]);
  });

  it("revokes one session without touching the others", () => {
    const store = new SessionStore();
    const a = store.create("alice");
    const b = store.create("alice");
    store.revoke(a.token);
    expect(store.authenticate(a.token)).toBeUndefined();
    expect(store.authenticate(b.token)).toBeDefined();
  });

  it("evicts the least recently used session past the maximum", () => {
    const store = new SessionStore({ max: 2 });
    const a = store.create("alice");
    const b = store.create("alice");
    store.authenticate(a.token);
    store.create("alice");
    expect(store.authenticate(b.token)).toBeUndefined();
    expect(store.authenticate(a.token)).toBeDefined();
  });
});

describe("bearerToken", () => {
  it.each([
    ["Bearer abc-DEF_123", "abc-DEF_123"],
    ["bearer abc", "abc"],
    ["Basic abc", undefined],
    ["Bearer", undefined],
    ["Bearer a b", undefined],
    [undefined, undefined],
  ])("%s -> %s", (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});
