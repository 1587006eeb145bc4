// A piece hasher of the store worker (hash-pool.ts): the SHA-256 of each piece transferred here,
// sent back with the piece's memory. Chromium's WebCrypto digest of 1 MiB runs on the calling thread
// (measured: the calls alone take as long as awaiting them), so hashing in the store worker itself
// held up its reading and writing; here it runs beside them, one piece per hasher at a time.
/// <reference lib="webworker" />
import type { HashAnswer, HashRequest } from "./hash-pool.js";

declare const self: DedicatedWorkerGlobalScope;

self.onmessage = async (message: MessageEvent<HashRequest>) => {
  const { id, bytes } = message.data;
  let answer: HashAnswer;
  try {
    answer = { id, bytes, digest: new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)) };
  } catch (error) {
    answer = { id, bytes, error: error instanceof Error ? error.message : String(error) };
  }
  self.postMessage(answer, [bytes.buffer]);
};
