import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { FakePserver } from "../testing/fake-pserver.js";
import { createClientApi } from "./api.js";
import { chunkCount, chunkRange, importChunked, missingChunks, receivedBytes } from "./chunked-import.js";
import { MemoryStorage, TokenStore } from "./token-store.js";
import { nodeContentIdOf } from "../testing/content-id.js";

describe("chunk arithmetic", () => {
  it("cuts a file into chunks with a short last one", () => {
    expect(chunkCount(0, 4)).toBe(0);
    expect(chunkCount(8, 4)).toBe(2);
    expect(chunkCount(9, 4)).toBe(3);
    expect(chunkRange(2, 9, 4)).toEqual({ start: 8, end: 9 });
    expect(missingChunks(5, [0, 3, 9])).toEqual([1, 2, 4]);
    expect(receivedBytes([0, 2, 2, 7], 9, 4)).toBe(5);
  });
});

async function setup(chunkSize: number) {
  const pserver = new FakePserver();
  pserver.chunkSize = chunkSize;
  const tokens = new TokenStore(new MemoryStorage());
  const api = createClientApi(pserver.transport(tokens));
  tokens.set((await api.login({ username: "alice", password: "correct horse" })).sessionToken);
  return { pserver, api };
}

const contentIdOfBytes = nodeContentIdOf;

describe("importChunked", () => {
  it("sends every chunk with at most 4 in flight and the pserver gets the exact bytes", async () => {
    const { pserver, api } = await setup(1000);
    pserver.chunkDelayMs = 5;
    const bytes = randomBytes(10_500);
    const progress: number[] = [];
    const file = await importChunked(
      api,
      { blob: new Blob([bytes]), name: "data.bin", contentId: contentIdOfBytes(bytes) },
      { parallelChunks: 4, onProgress: (n) => progress.push(n) },
    );

    expect(file.contentId).toBe(contentIdOfBytes(bytes));
    expect(Number(file.size)).toBe(10_500);
    expect([...pserver.chunkCalls].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(pserver.maxInFlightChunks).toBe(4);
    expect(progress.at(-1)).toBe(10_500);
  });

  it("resumes: only the chunks the pserver lacks are sent", async () => {
    const { pserver, api } = await setup(1000);
    const bytes = randomBytes(5_000);
    const contentId = contentIdOfBytes(bytes);
    // A first attempt got chunks 0, 1 and 3 across before the tab was reloaded.
    const begun = await api.beginImport({ name: "data.bin", size: 5_000n, contentId });
    for (const index of [0, 1, 3]) {
      await api.importChunk({ importId: begun.importId, chunkIndex: index, data: bytes.subarray(index * 1000, index * 1000 + 1000) });
    }
    pserver.chunkCalls = [];

    let already = -1;
    const file = await importChunked(api, { blob: new Blob([bytes]), name: "data.bin", contentId }, { onBegin: (_id, n) => (already = n) });

    expect(already).toBe(3_000);
    expect([...pserver.chunkCalls].sort()).toEqual([2, 4]);
    expect(file.contentId).toBe(contentId);
  });

  it("retries a chunk that failed for a passing reason", async () => {
    const { pserver, api } = await setup(100);
    pserver.flakyChunks.add(2);
    const bytes = randomBytes(450);
    await importChunked(api, { blob: new Blob([bytes]), name: "x", contentId: contentIdOfBytes(bytes) }, { retryBaseMs: 1 });
    expect(pserver.chunkCalls.filter((index) => index === 2)).toHaveLength(2);
  });

  it("fails with DataLoss when the bytes do not match the content id", async () => {
    const { api } = await setup(100);
    const bytes = randomBytes(250);
    await expect(importChunked(api, { blob: new Blob([bytes]), name: "x", contentId: `m1_${"0".repeat(64)}` })).rejects.toMatchObject({ code: Code.DataLoss });
  });

  it("imports an empty file with no chunk at all", async () => {
    const { pserver, api } = await setup(100);
    const file = await importChunked(api, { blob: new Blob([]), name: "empty", contentId: contentIdOfBytes(new Uint8Array()) });
    expect(Number(file.size)).toBe(0);
    expect(pserver.chunkCalls).toEqual([]);
  });
});
