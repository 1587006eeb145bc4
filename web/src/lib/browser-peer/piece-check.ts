// Checking one received piece against the manifest, the same in the store worker and in a piece
// fetcher (piece-fetch-worker.ts): a piece is written only once its size and SHA-256 match.
// WebCrypto's digest, not hash-wasm: of a 1 MiB piece in a Chromium worker it took ~1.0 CPU-s per GiB
// against hash-wasm's 3.5-4.7 (SHA-NI against WebAssembly), its copy of the input (a fresh mapping per
// call, 259 page faults per MiB) included (docs/browser-peers.md, Speed).
import { sameBytes } from "./content-id.js";

/** A holder that broke the protocol: banned for the rest of the download. */
export class HolderLied extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HolderLied";
  }
}

/** Rejects with HolderLied unless `data` is `length` bytes whose SHA-256 is `expected` (piece `index` of the manifest). */
export async function checkPiece(holder: string, index: number, data: Uint8Array<ArrayBuffer>, expected: Uint8Array | undefined, length: number): Promise<void> {
  if (expected === undefined || data.byteLength !== length) throw new HolderLied(`${holder} sent piece ${index} with ${data.byteLength} bytes`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  if (!sameBytes(digest, expected)) throw new HolderLied(`${holder} sent piece ${index} with bytes that do not match the manifest`);
}
