// Manifests and raw pushes as a (possibly malicious) peer would build them itself, without a pserver.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { canonicalManifestBytes, contentIdFromManifestDigest, pieceSizeFor } from "@p2p/directory-api";
import { FileManifestSchema, PushFileRequestSchema, type FileManifest, type PeerService, type PushFileRequest } from "../gen.js";

/** A file's manifest and its pieces, read whole (chaos only pushes small files this way). */
export interface LocalManifest {
  readonly manifest: FileManifest;
  readonly pieces: Uint8Array[];
}

/** The content id a manifest's size, piece size and piece hashes name (docs/content-ids.md). */
export function manifestContentId(size: number, pieceSize: number, pieceHashes: readonly Uint8Array[]): string {
  return contentIdFromManifestDigest(createHash("sha256").update(canonicalManifestBytes(size, pieceSize, pieceHashes)).digest());
}

/** Reads `file` and describes it as `name`, in pieces of pieceSizeFor(its size). */
export async function manifestOf(file: string, name: string): Promise<LocalManifest> {
  const bytes = await readFile(file);
  const pieceSize = pieceSizeFor(bytes.length);
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += pieceSize) pieces.push(bytes.subarray(at, Math.min(bytes.length, at + pieceSize)));
  const pieceHashes = pieces.map((p) => createHash("sha256").update(p).digest());
  const manifest = create(FileManifestSchema, {
    contentId: manifestContentId(bytes.length, pieceSize, pieceHashes),
    name,
    size: BigInt(bytes.length),
    pieceSize,
    pieceHashes,
  });
  return { manifest, pieces };
}

/** The messages of a whole push: header with `ticket`, then every piece in order. */
export function pushMessages(local: LocalManifest, ticket: string, from: string): PushFileRequest[] {
  return [
    create(PushFileRequestSchema, { message: { case: "header", value: { ticket, manifest: local.manifest, from } } }),
    ...local.pieces.map((data, pieceIndex) => create(PushFileRequestSchema, { message: { case: "piece", value: { pieceIndex, data } } })),
  ];
}

/** Sends a whole push to a pserver over PeerService.PushFile. */
export function pushRaw(peer: Client<typeof PeerService>, messages: PushFileRequest[]) {
  return peer.pushFile(
    (async function* () {
      for (const m of messages) yield m;
    })(),
  );
}
