import { describe, expect, it } from "vitest";
import { createClientApi } from "../client/api.js";
import { PushAccept } from "../client/gen.js";
import { MemoryStorage, TokenStore } from "../client/token-store.js";
import { FakePserver } from "../testing/fake-pserver.js";
import { parsePeerNames, PushSettingsState } from "./push-settings.svelte.js";

describe("PushSettingsState", () => {
  it("reads the setting (nobody for a new peer), saves a listed one, and reads back what the pserver kept", async () => {
    const pserver = new FakePserver();
    const tokens = new TokenStore(new MemoryStorage());
    const api = createClientApi(pserver.transport(tokens));
    tokens.set((await api.login({ username: "bob", password: "correct horse" })).sessionToken);
    const settings = new PushSettingsState({ api });
    expect(await settings.load()).toBeUndefined();
    expect(settings.accept).toBe("nobody");
    expect(settings.loaded).toBe(true);
    settings.accept = "listed";
    settings.fromText = " alice,carol  alice ";
    settings.maxFileBytes = 100_000_000;
    expect(await settings.save()).toBeUndefined();
    expect(pserver.pushPolicy.accept).toBe(PushAccept.LISTED);
    expect(pserver.pushPolicy.from).toEqual(["alice", "carol"]);
    expect(pserver.pushPolicy.maxFileBytes).toBe(100_000_000n);
    expect(settings.fromText).toBe("alice, carol");
  });

  it("says why when the pserver refuses", async () => {
    const pserver = new FakePserver();
    const api = createClientApi(pserver.transport(new TokenStore(new MemoryStorage())));
    const settings = new PushSettingsState({ api });
    expect(await settings.load()).toBe("Your session has ended. Please log in again.");
    expect(settings.loaded).toBe(false);
  });
});

describe("parsePeerNames", () => {
  it("splits on commas and spaces, drops empty ones and repeats", () => {
    expect(parsePeerNames("bob, carol\ndave,,bob")).toEqual(["bob", "carol", "dave"]);
    expect(parsePeerNames("   ")).toEqual([]);
  });
});
