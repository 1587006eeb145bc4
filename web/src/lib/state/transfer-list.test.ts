import { describe, expect, it, vi } from "vitest";
import { createClientApi } from "../client/api.js";
import { TransferState } from "../client/gen.js";
import { MemoryStorage } from "../client/token-store.js";
import { FakePserver, progress } from "../testing/fake-pserver.js";
import { TransfersState } from "./transfers.svelte.js";
import { barOf, transferTitle, transferView } from "./views.js";

const api = () => createClientApi(new FakePserver().transport());

describe("clearing finished transfers", () => {
  it("stays cleared after a reload of the tab, per peer", () => {
    const storage = new MemoryStorage();
    const before = new TransfersState({ api: api(), storage });
    before.useClearedOf("alice");
    before.applyProgress(progress({ id: "done", state: TransferState.COMPLETED, done: 100 }));
    before.applyProgress(progress({ id: "failed", state: TransferState.FAILED, done: 5 }));
    before.applyProgress(progress({ id: "running", done: 5 }));
    before.clearEnded();
    expect(before.list.map((t) => t.id)).toEqual(["running"]);

    // A reload: a new list over the same tab storage gets the pserver's whole record again.
    const after = new TransfersState({ api: api(), storage });
    for (const id of ["done", "failed"]) after.applyProgress(progress({ id, state: TransferState.COMPLETED, done: 100 }));
    after.applyProgress(progress({ id: "running", done: 7 }));
    after.useClearedOf("alice");
    expect(after.list.map((t) => t.id)).toEqual(["running"]);
    after.applyProgress(progress({ id: "done", state: TransferState.COMPLETED, done: 100 }));
    expect(after.list.map((t) => t.id)).toEqual(["running"]);

    // Another peer's tab storage key is its own.
    const bob = new TransfersState({ api: api(), storage });
    bob.useClearedOf("bob");
    bob.applyProgress(progress({ id: "done", state: TransferState.COMPLETED, done: 100 }));
    expect(bob.list.map((t) => t.id)).toEqual(["done"]);
  });

  it("does not keep ids the tab made up for its own imports", () => {
    const storage = new MemoryStorage();
    const transfers = new TransfersState({ api: api(), storage });
    transfers.useClearedOf("alice");
    const local = transfers.addLocal({ kind: "import", name: "a.txt", bytesTotal: 3 });
    transfers.patch(local.id, { phase: "completed" });
    transfers.clearEnded();
    expect(JSON.parse(storage.getItem("p2p.cleared-transfers.alice") ?? "null")).toEqual([]);
  });
});

describe("the bounded list", () => {
  it("shows the first few, running ones first, until Show all", () => {
    const transfers = new TransfersState({ api: api(), shownLimit: 3 });
    for (let i = 0; i < 4; i += 1) transfers.applyProgress(progress({ id: `ended-${i}`, state: TransferState.COMPLETED, done: 100 }));
    transfers.applyProgress(progress({ id: "running", done: 1 }));
    expect(transfers.shown.map((t) => t.id)[0]).toBe("running");
    expect(transfers.shown).toHaveLength(3);
    expect(transfers.hiddenCount).toBe(2);
    transfers.showAll = true;
    expect(transfers.shown).toHaveLength(5);
    expect(transfers.hiddenCount).toBe(0);
  });
});

describe("bars and titles", () => {
  const view = (fields: Parameters<typeof progress>[0]) => transferView(progress(fields), 0);

  it("draws no partial bar for a failure of unknown size, and how far it got otherwise", () => {
    expect(barOf(view({ id: "a", state: TransferState.FAILED, done: 0, total: 0 }))).toBeUndefined();
    expect(barOf(view({ id: "b", state: TransferState.FAILED, done: 30, total: 100 }))).toEqual({ value: 0.3, tone: "bad" });
    expect(barOf(view({ id: "c", state: TransferState.CANCELLED, done: 0, total: 0 }))).toBeUndefined();
    expect(barOf(view({ id: "d", state: TransferState.COMPLETED, done: 0, total: 0 }))).toEqual({ value: 1, tone: "ok" });
    expect(barOf(view({ id: "e", done: 0, total: 0 }))).toEqual({ value: undefined, tone: "accent" });
    expect(barOf(view({ id: "f", done: 50, total: 100 }), true)).toEqual({ value: 0.5, tone: "muted" });
  });

  it("names a download by its short content id until its name arrives", () => {
    const nameless = view({ id: "a", name: "", contentId: "3f9a2c81d0e4".padEnd(64, "0") });
    expect(transferTitle(nameless, 12)).toBe("3f9a2c81d0e4…");
    expect(transferTitle({ ...nameless, name: "movie.mkv" }, 12)).toBe("movie.mkv");
    expect(transferTitle({ ...nameless, contentId: "" }, 12)).toBe("A file");
  });

  it("keeps the name once the manifest brought it, even if later reports have none", async () => {
    const transfers = new TransfersState({ api: api() });
    transfers.applyProgress(progress({ id: "d", name: "" }));
    transfers.applyProgress(progress({ id: "d", name: "movie.mkv" }));
    transfers.applyProgress(progress({ id: "d", name: "" }));
    await vi.waitFor(() => expect(transfers.get("d")?.name).toBe("movie.mkv"), { timeout: 10_000 });
    transfers.applyProgress(progress({ id: "d", name: "" }));
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(transfers.get("d")?.name).toBe("movie.mkv");
  });
});
