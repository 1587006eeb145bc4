// SHA-256 of pieces in WebAssembly (hash-wasm), one hasher per thread. Chromium's WebCrypto digest
// copies its input into a fresh allocation, and one of 1 MiB (a piece) is mapped and unmapped by the
// allocator every call: ~13 ms per piece on the 2-core VM (~77 MB/s, against ~1 GB/s at 512 KiB).
// The WebAssembly hasher works in its own memory, reused for every piece, and needs no await, so a
// download hashed each piece in the store worker between reading and writing it. Downloads now check
// pieces with WebCrypto (piece-check.ts): measured again on a warm VM (first write to fresh memory
// ~2 GB/s) its digest of 1 MiB cost ~1.0 CPU-s/GiB against this hasher's 3.5-4.7; imports and relayed
// receives still use this one (docs/browser-peers.md, Speed).
import { createSHA256, type IHasher } from "hash-wasm";

let hasher: Promise<IHasher> | undefined;

/** This thread's SHA-256 hasher (made on first use). */
export function pieceHasher(): Promise<IHasher> {
  hasher ??= createSHA256();
  return hasher;
}

/** The raw 32-byte SHA-256 of `bytes`, with a hasher from pieceHasher. */
export function sha256With(sha256: IHasher, bytes: Uint8Array): Uint8Array {
  return sha256.init().update(bytes).digest("binary");
}
