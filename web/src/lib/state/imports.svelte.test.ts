import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createClientApi } from "../client/api.js";
import { MemoryStorage, TokenStore } from "../client/token-store.js";
import { fileKey, HashCache } from "../hash.js";
import { FakePserver, settle } from "../testing/fake-pserver.js";
import { FilesState } from "./files.svelte.js";
import { ImportsState } from "./imports.svelte.js";
import { TransfersState } from "./transfers.svelte.js";
import { nodeContentIdOf } from "../testing/content-id.js";

async function setup() {
  const pserver = new FakePserver();
  pserver.chunkSize = 1000;
  const tokens = new TokenStore(new MemoryStorage());
  const api = createClientApi(pserver.transport(tokens));
  tokens.set((await api.login({ username: "alice", password: "correct horse" })).sessionToken);
  const transfers = new TransfersState({ api });
  const files = new FilesState({ api, tokens, baseUrl: "http://peer" });
  const cacheStorage = new MemoryStorage();
  const imports = new ImportsState({
    api,
    transfers,
    holds: (id) => files.has(id),
    onImported: (file) => files.upsert(file),
    hashCache: new HashCache(cacheStorage, "cache"),
  });
  return { pserver, api, transfers, files, imports, cacheStorage };
}

const contentIdOfBytes = nodeContentIdOf;
const fileOf = (bytes: Uint8Array, name: string): File => new File([bytes as Uint8Array<ArrayBuffer>], name, { lastModified: 1_700_000_000_000 });

describe("ImportsState", () => {
  it("imports in chunks without hashing in the tab and lists the file the pserver named, and a finished transfer", async () => {
    const { pserver, transfers, files, imports } = await setup();
    const bytes = randomBytes(7_300);
    const [localId] = imports.add([fileOf(bytes, "notes.pdf")]);
    expect(transfers.get(localId ?? "")?.phase).toBe("queued");
    await imports.idle();

    expect(files.files.map((f) => [f.name, f.contentId, f.sizeBytes])).toEqual([["notes.pdf", contentIdOfBytes(bytes), 7_300]]);
    expect(pserver.files).toHaveLength(1);
    const [done] = transfers.list;
    expect(done).toMatchObject({ kind: "import", phase: "completed", bytesDone: 7_300, bytesTotal: 7_300, contentId: contentIdOfBytes(bytes) });
    // The local entry took the pserver's import id, so cancel and events address the same transfer.
    expect(done?.id).toMatch(/^import-/);
    expect(transfers.list).toHaveLength(1);
  });

  it("resumes after a reload: the same file picked again sends only missing chunks", async () => {
    const { pserver, api, transfers, imports } = await setup();
    const bytes = randomBytes(4_000);
    // The tab that started it named the file by name, size and modification time.
    const resumeKey = fileKey({ name: "big.iso", size: 4_000, lastModified: 1_700_000_000_000 });
    const begun = await api.beginImport({ name: "big.iso", size: 4_000n, contentId: "", resumeKey });
    await api.importChunk({ importId: begun.importId, chunkIndex: 1, data: bytes.subarray(1000, 2000) });
    pserver.chunkCalls = [];

    imports.add([fileOf(bytes, "big.iso")]);
    await imports.idle();

    expect([...pserver.chunkCalls].sort()).toEqual([0, 2, 3]);
    expect(transfers.get(begun.importId)).toMatchObject({ phase: "completed", note: "Resumed where it stopped.", contentId: contentIdOfBytes(bytes) });
  });

  it("imports several files one after the other", async () => {
    const { files, imports } = await setup();
    imports.add([fileOf(randomBytes(1500), "one"), fileOf(randomBytes(2500), "two")]);
    expect(imports.pending).toBe(2);
    await imports.idle();
    expect(files.files.map((f) => f.name).sort()).toEqual(["one", "two"]);
    expect(imports.pending).toBe(0);
  });

  it("says a file is already shared instead of sending it again", async () => {
    const { pserver, transfers, imports } = await setup();
    const bytes = randomBytes(1200);
    imports.add([fileOf(bytes, "a")]);
    await imports.idle();
    pserver.chunkCalls = [];
    // The same file picked again: the tab knows its id from the first import and sends nothing.
    imports.add([fileOf(bytes, "a")]);
    await imports.idle();
    expect(pserver.chunkCalls).toEqual([]);
    expect(transfers.list.map((t) => t.note)).toContain("Already in your shared files.");
    // A copy under another name is sent, and the pserver keeps the one it has.
    imports.add([fileOf(bytes, "a copy")]);
    await imports.idle();
    expect(pserver.files.map((f) => f.name)).toEqual(["a"]);
    expect(transfers.list.filter((t) => t.note === "Already in your shared files.")).toHaveLength(2);
  });

  it("cancels a running import and tells the pserver to drop it", async () => {
    const { pserver, transfers, imports } = await setup();
    pserver.chunkDelayMs = 20;
    imports.add([fileOf(randomBytes(20_000), "slow.bin")]);
    for (let i = 0; i < 100 && pserver.chunkCalls.length === 0; i += 1) await new Promise((r) => setTimeout(r, 5));
    const running = transfers.list[0];
    expect(running?.phase).toBe("running");
    await transfers.cancel(running?.id ?? "");
    await imports.idle();
    await settle();

    expect(transfers.list[0]?.phase).toBe("cancelled");
    expect(pserver.cancelled).toEqual([running?.id]);
    expect(pserver.chunkCalls.length).toBeLessThan(20);
  });

  it("fails with a sentence when the pserver refuses, and cancels one still waiting", async () => {
    const { pserver, transfers, imports } = await setup();
    pserver.sessions.clear();
    const [first, second] = imports.add([fileOf(randomBytes(100), "a"), fileOf(randomBytes(100), "b")]);
    await transfers.cancel(second ?? "");
    await imports.idle();
    expect(transfers.list.find((t) => t.name === "a")).toMatchObject({ phase: "failed", error: "Your session has ended. Please log in again." });
    expect(transfers.get(second ?? "")?.phase).toBe("cancelled");
    expect(first).toBeDefined();
  });
});
