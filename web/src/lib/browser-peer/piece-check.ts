// Checking one received piece against the manifest, the same in the store worker and in a piece
// fetcher (piece-fetch-worker.ts): a piece is written only once its size and SHA-256 match.
import type { IHasher } from "hash-wasm";
import { sameBytes } from "./content-id.js";
import { sha256With } from "./piece-hasher.js";

/** A holder that broke the protocol: banned for the rest of the download. */
export class HolderLied extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HolderLied";
  }
}

/** Throws HolderLied unless `data` is `length` bytes whose SHA-256 is `expected` (piece `index` of the manifest). */
export function checkPiece(sha256: IHasher, holder: string, index: number, data: Uint8Array, expected: Uint8Array | undefined, length: number): void {
  if (expected === undefined || data.byteLength !== length) throw new HolderLied(`${holder} sent piece ${index} with ${data.byteLength} bytes`);
  if (!sameBytes(sha256With(sha256, data), expected)) throw new HolderLied(`${holder} sent piece ${index} with bytes that do not match the manifest`);
}
