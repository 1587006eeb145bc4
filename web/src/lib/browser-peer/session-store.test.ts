import { describe, expect, it } from "vitest";
import { JoinMemory } from "./session-store.js";

class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

describe("what a browser peer remembers", () => {
  it("keeps the resume token for this tab only and never a password; forgets it at logout", () => {
    const tab = new MemoryStorage();
    const lasting = new MemoryStorage();
    const memory = new JoinMemory(tab, lasting);
    expect(memory.resumable()).toBeUndefined();
    memory.remember({ peerName: "anna", gateways: ["http://127.0.0.1:7001"], resumeToken: "r-1" });
    expect(memory.resumable()).toEqual({ peerName: "anna", gateways: ["http://127.0.0.1:7001"], resumeToken: "r-1" });
    expect(memory.lastUsed()).toEqual({ peerName: "anna", gateways: ["http://127.0.0.1:7001"] });
    expect([...lasting.items.values()].join()).not.toContain("r-1");
    memory.forget();
    expect(memory.resumable()).toBeUndefined();
    expect(memory.lastUsed()?.peerName).toBe("anna");
  });

  it("treats garbage in storage as nothing remembered", () => {
    const tab = new MemoryStorage();
    tab.setItem("p2p.browser-peer", "{not json");
    expect(new JoinMemory(tab, tab).resumable()).toBeUndefined();
    tab.setItem("p2p.browser-peer", JSON.stringify({ peerName: 3, gateways: "x" }));
    expect(new JoinMemory(tab, tab).lastUsed()).toBeUndefined();
  });
});
