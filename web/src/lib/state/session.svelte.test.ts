import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { LocalFileSchema } from "../client/gen.js";
import { createClientApi } from "../client/api.js";
import { MemoryStorage, TokenStore } from "../client/token-store.js";
import { SESSION_TOKEN_KEY } from "../constants.js";
import { FakePserver } from "../testing/fake-pserver.js";
import { AppState } from "./app.svelte.js";
import { SessionState } from "./session.svelte.js";

function setup(storage = new MemoryStorage()) {
  const pserver = new FakePserver();
  const tokens = new TokenStore(storage);
  const api = createClientApi(pserver.transport(tokens));
  return { pserver, tokens, storage, session: new SessionState({ api, tokens }) };
}

describe("SessionState", () => {
  it("logs in, keeps the token in session storage and sends it on every later call", async () => {
    const { pserver, tokens, storage, session } = setup();
    expect(await session.login("alice", "correct horse")).toBe(true);

    expect(session.loggedIn).toBe(true);
    expect(session.peerName).toBe("alice");
    expect(session.error).toBe("");
    expect(tokens.token).toMatch(/^token-/);
    expect(storage.getItem(SESSION_TOKEN_KEY)).toBe(tokens.token);
    // The status call after login carried the bearer token, so it knows the address and the link.
    expect(session.address).toBe("http://127.0.0.1:2");
    expect(session.link.reachable).toBe(true);

    const app = new AppState({ transport: pserver.transport(tokens), tokens, baseUrl: "http://127.0.0.1:2" });
    await app.files.refresh();
    expect(pserver.authHeaders.at(-1)).toEqual({ method: "listFiles", authorization: `Bearer ${tokens.token}` });
  });

  it("says so in words when the password is wrong, and keeps no token", async () => {
    const { pserver, tokens, session } = setup();
    pserver.users.set("alice", "the real password");

    expect(await session.login("alice", "not the password")).toBe(false);

    expect(session.loggedIn).toBe(false);
    expect(session.error).toBe("Wrong username or password.");
    expect(tokens.token).toBeUndefined();
  });

  it("checks the input before asking the pserver", async () => {
    const { pserver, session } = setup();
    expect(await session.login("al ice", "long enough")).toBe(false);
    expect(session.error).toBe("Usernames are 1 to 64 letters, digits, dots, dashes or underscores.");
    expect(await session.login("alice", "short")).toBe(false);
    expect(session.error).toBe("Passwords are at least 8 characters long.");
    expect(pserver.users.size).toBe(0);
  });

  it("stays logged in after a reload while the session is valid, and explains when it is not", async () => {
    const storage = new MemoryStorage();
    const first = setup(storage);
    await first.session.login("alice", "correct horse");

    // A reload: new state objects over the same sessionStorage and the same pserver.
    const reloadedTokens = new TokenStore(storage);
    const reloaded = new SessionState({ api: createClientApi(first.pserver.transport(reloadedTokens)), tokens: reloadedTokens });
    await reloaded.load();
    expect(reloaded.loggedIn).toBe(true);
    expect(reloaded.peerName).toBe("alice");

    first.pserver.sessions.clear();
    const expiredTokens = new TokenStore(storage);
    const expired = new SessionState({ api: createClientApi(first.pserver.transport(expiredTokens)), tokens: expiredTokens });
    await expired.load();
    expect(expired.loggedIn).toBe(false);
    expect(expired.endedReason).toBe("Your session has ended. Please log in again.");
    expect(storage.getItem(SESSION_TOKEN_KEY)).toBeNull();
  });

  it("logs out at the pserver and forgets the token", async () => {
    const { pserver, tokens, session } = setup();
    await session.login("alice", "correct horse");
    await session.logout();
    expect(session.loggedIn).toBe(false);
    expect(tokens.token).toBeUndefined();
    expect(pserver.sessions.size).toBe(0);
  });
});

describe("logging out", () => {
  it("says afterwards how many files were taken off the network", async () => {
    const pserver = new FakePserver();
    const tokens = new TokenStore(new MemoryStorage());
    const app = new AppState({ transport: pserver.transport(tokens), tokens, baseUrl: "http://alice.test" });
    await app.start();
    await app.login("alice", "correct horse");
    app.files.set([0, 1, 2].map((i) => create(LocalFileSchema, { contentId: `m1_${String(i).repeat(64)}`, name: `f${i}.txt`, size: 1n })));
    await app.logout();
    expect(app.session.loggedIn).toBe(false);
    expect(app.session.farewell).toBe("You logged out. This peer is offline: its 3 files were taken off the network.");
    expect(pserver.sessions.size).toBe(0);
    expect(await app.login("alice", "correct horse")).toBe(true);
    expect(app.session.farewell).toBe("");
    app.destroy();
  });
});

describe("the login form's facts", () => {
  it("knows the one name the pserver accepts and whether the peer is on the network", async () => {
    const { pserver, session } = setup();
    pserver.peerName = "carol";
    await session.load();
    expect(session.fixedUsername).toBe("carol");
    expect(session.peerOnline).toBe(false);
    await session.login("carol", "correct horse");
    await session.load();
    expect(session.peerOnline).toBe(true);
  });
});
