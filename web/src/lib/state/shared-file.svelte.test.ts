import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { PeerSchema, SearchResultSchema } from "../client/gen.js";
import { MemoryStorage, TokenStore } from "../client/token-store.js";
import type { HashLocation } from "../location-hash.js";
import { FakePserver, settle } from "../testing/fake-pserver.js";
import { AppState } from "./app.svelte.js";

const ID = `m1_${"5".repeat(64)}`;

/** A location hash in memory, with the listeners a browser would call. */
class MemoryHash implements HashLocation {
  listeners = new Set<(hash: string) => void>();
  constructor(public hash = "") {}
  read(): string {
    return this.hash;
  }
  clear(): void {
    this.hash = "";
  }
  onChange(listener: (hash: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  follow(hash: string): void {
    this.hash = hash;
    for (const listener of this.listeners) listener(hash);
  }
}

function setup(hash: MemoryHash, tabStorage = new MemoryStorage()) {
  const pserver = new FakePserver();
  pserver.searchResults = (request) =>
    request.contentId === ID
      ? [create(SearchResultSchema, { contentId: ID, name: "holiday.mp4", size: 31_457_280n, holders: [create(PeerSchema, { name: "bob", address: "http://127.0.0.1:3" })] })]
      : [];
  const tokens = new TokenStore(tabStorage);
  const app = new AppState({ transport: pserver.transport(tokens), tokens, baseUrl: "http://alice.test", tabStorage, hash });
  return { pserver, app, tabStorage };
}

describe("a share link opened in a tab", () => {
  it("opened before login, shows the file with its holders once logged in, even after a reload in between", async () => {
    const hash = new MemoryHash(`#/get/${ID}`);
    const first = setup(hash);
    await first.app.start();
    expect(first.app.shared.contentId).toBe(ID);
    expect(first.pserver.searchRequests).toEqual([]);
    first.app.destroy();

    // The address bar lost the hash (e.g. a redirect), the tab storage still has it.
    const reloaded = setup(new MemoryHash(""), first.tabStorage);
    await reloaded.app.start();
    expect(await reloaded.app.login("alice", "correct horse")).toBe(true);
    await settle();
    expect(reloaded.app.shared.status).toBe("found");
    expect(reloaded.app.shared.result).toMatchObject({ name: "holiday.mp4", sizeBytes: 31_457_280, holders: [{ name: "bob" }] });
    expect(reloaded.pserver.searchRequests.at(-1)).toMatchObject({ contentId: ID, query: "" });
    reloaded.app.destroy();
  });

  it("followed while logged in, looks the file up at once; closing takes it out of the address bar for good", async () => {
    const hash = new MemoryHash();
    const { app, tabStorage } = setup(hash);
    await app.start();
    await app.login("alice", "correct horse");
    hash.follow(`#/get/${ID}`);
    await settle();
    expect(app.shared.status).toBe("found");

    app.dismissShared();
    expect(app.shared.contentId).toBeUndefined();
    expect(hash.read()).toBe("");
    expect(tabStorage.getItem("p2p.shared-content")).toBeNull();
    app.destroy();
  });

  it("says when no live peer holds the content", async () => {
    const other = `m1_${"6".repeat(64)}`;
    const { app } = setup(new MemoryHash(`#/get/${other}`));
    await app.start();
    await app.login("alice", "correct horse");
    await settle();
    expect(app.shared.status).toBe("missing");
    app.destroy();
  });
});
