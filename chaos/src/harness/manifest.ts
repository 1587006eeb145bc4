// Manifests and raw pushes as a (possibly malicious) peer would build them itself, without a pserver.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { PIECE_SIZE_BYTES } from "../constants.js";
import { FileManifestSchema, PushFileRequestSchema, type FileManifest, type PeerService, type PushFileRequest } from "../gen.js";

/** A file's manifest and its pieces, read whole (chaos only pushes small files this way). */
export interface LocalManifest {
  readonly manifest: FileManifest;
  readonly pieces: Uint8Array[];
}

/** Reads `file` and describes it as `name`, in pieces of PIECE_SIZE_BYTES. */
export async function manifestOf(file: string, name: string): Promise<LocalManifest> {
  const bytes = await readFile(file);
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += PIECE_SIZE_BYTES) pieces.push(bytes.subarray(at, Math.min(bytes.length, at + PIECE_SIZE_BYTES)));
  const manifest = create(FileManifestSchema, {
    contentId: createHash("sha256").update(bytes).digest("hex"),
    name,
    size: BigInt(bytes.length),
    pieceSize: PIECE_SIZE_BYTES,
    pieceHashes: pieces.map((p) => createHash("sha256").update(p).digest()),
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
