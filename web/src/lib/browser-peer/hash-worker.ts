// A piece hasher of a HashPool (hash-pool.ts): the SHA-256 of each piece transferred here, sent back
// with the piece's memory. It hashes in WebAssembly (piece-hasher.ts), not with WebCrypto, whose digest
// of a 1 MiB piece maps and unmaps a fresh copy of it every call.
/// <reference lib="webworker" />
import type { HashAnswer, HashRequest } from "./hash-pool.js";
import { pieceHasher, sha256With } from "./piece-hasher.js";

declare const self: DedicatedWorkerGlobalScope;

self.onmessage = async (message: MessageEvent<HashRequest>) => {
  const { id, bytes } = message.data;
  let answer: HashAnswer;
  try {
    answer = { id, bytes, digest: sha256With(await pieceHasher(), bytes) };
  } catch (error) {
    answer = { id, bytes, error: error instanceof Error ? error.message : String(error) };
  }
  self.postMessage(answer, [bytes.buffer]);
};
