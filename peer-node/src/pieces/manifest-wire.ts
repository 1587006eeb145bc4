// Manifests between the store's plain shape and the protocol's FileManifest message.
import { create } from "@bufbuild/protobuf";
import { FileManifestSchema, type FileManifest } from "../gen.js";
import { PeerError } from "../errors.js";
import type { Manifest } from "../store/file-store.js";

/** A store manifest as a FileManifest message. */
export function manifestToProto(m: Manifest): FileManifest {
  return create(FileManifestSchema, {
    contentId: m.contentId,
    name: m.name,
    size: BigInt(m.size),
    pieceSize: m.pieceSize,
    pieceHashes: [...m.pieceHashes],
  });
}

/** A FileManifest message as a store manifest (not yet checked: call checkManifest). */
export function manifestFromProto(p: FileManifest | undefined): Manifest {
  if (!p) throw new PeerError("BAD_MANIFEST", "The manifest is missing.");
  if (p.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new PeerError("BAD_MANIFEST", "The manifest's size is too large.");
  return { contentId: p.contentId, name: p.name, size: Number(p.size), pieceSize: p.pieceSize, pieceHashes: p.pieceHashes };
}
