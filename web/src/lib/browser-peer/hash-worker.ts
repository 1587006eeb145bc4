// A piece hasher of the store worker (hash-pool.ts): the SHA-256 of each piece transferred here,
// sent back with the piece's memory. It hashes with a WebAssembly SHA-256 (hash-wasm), not WebCrypto:
// Chromium's digest copies its input into a fresh allocation, and one of 1 MiB (a piece) is mapped
// and unmapped by the allocator every call, which cost ~13 ms per piece in a download on a 2-core VM
// (~77 MB/s, against ~1 GB/s for 512 KiB; docs/browser-peers.md, Speed). The WebAssembly hasher reuses
// its own memory.
/// <reference lib="webworker" />
import { createSHA256, type IHasher } from "hash-wasm";
import type { HashAnswer, HashRequest } from "./hash-pool.js";

declare const self: DedicatedWorkerGlobalScope;

const hasher: Promise<IHasher> = createSHA256();

self.onmessage = async (message: MessageEvent<HashRequest>) => {
  const { id, bytes } = message.data;
  let answer: HashAnswer;
  try {
    const sha256 = await hasher;
    answer = { id, bytes, digest: sha256.init().update(bytes).digest("binary") };
  } catch (error) {
    answer = { id, bytes, error: error instanceof Error ? error.message : String(error) };
  }
  self.postMessage(answer, [bytes.buffer]);
};
