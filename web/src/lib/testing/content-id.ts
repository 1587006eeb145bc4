// The content id of some bytes computed in Node (node:crypto), the way a pserver computes it: the
// unit tests check the tab's WebCrypto construction and the fake pserver's answers against it.
import { createHash } from "node:crypto";
import { canonicalManifestBytes, contentIdFromManifestDigest, pieceSizeFor } from "@p2p/directory-api";

/** The m1_ content id of `bytes` (pieces at pieceSizeFor, then the canonical manifest). */
export function nodeContentIdOf(bytes: Uint8Array): string {
  const pieceSize = pieceSizeFor(bytes.length);
  const hashes: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += pieceSize) hashes.push(createHash("sha256").update(bytes.subarray(at, at + pieceSize)).digest());
  return contentIdFromManifestDigest(createHash("sha256").update(canonicalManifestBytes(bytes.length, pieceSize, hashes)).digest());
}
