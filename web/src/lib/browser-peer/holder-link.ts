// Calls to one holder's PeerService from the browser over gRPC-Web (no compression: ARCHITECTURE.md,
// Compression); the pieces through grpc-web-pieces.ts, which reads each message into one buffer.
// A holder is a Node pserver at its own address, or a browser peer at the relay address its gateway
// advertises; both answer the same PeerService.
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { BROWSER_PEER_PIECE_STALL_MS } from "../constants.js";
import { PeerService } from "../client/gen.js";
import type { ManifestFacts } from "./content-id.js";
import { fetchPieces } from "./grpc-web-pieces.js";

/** One piece as it came off the wire. */
export interface ReceivedPiece {
  index: number;
  data: Uint8Array<ArrayBuffer>;
}

/** The PeerService of one holder. */
export class HolderLink {
  readonly name: string;
  readonly address: string;
  #client: Client<typeof PeerService>;

  constructor(name: string, address: string) {
    this.name = name;
    this.address = address;
    const transport = createGrpcWebTransport({ baseUrl: address, useBinaryFormat: true });
    this.#client = createClient(PeerService, transport);
  }

  /** The holder's manifest of `contentId` (unchecked: the caller checks it against the id). */
  async manifest(contentId: string, signal: AbortSignal): Promise<ManifestFacts & { name: string }> {
    const answer = await this.#client.getManifest({ contentId }, { signal, timeoutMs: BROWSER_PEER_PIECE_STALL_MS });
    const manifest = answer.manifest;
    if (manifest === undefined) throw new Error(`${this.name} answered no manifest`);
    return { name: manifest.name, size: Number(manifest.size), pieceSize: manifest.pieceSize, pieceHashes: manifest.pieceHashes };
  }

  /**
   * Streams the asked pieces to `onPiece`, aborting when the holder goes quiet for longer than
   * BROWSER_PEER_PIECE_STALL_MS (a stalled holder is a failed one).
   */
  async pieces(contentId: string, indexes: number[], signal: AbortSignal, onPiece: (piece: ReceivedPiece) => Promise<Uint8Array<ArrayBuffer> | void>): Promise<void> {
    const stall = new AbortController();
    const both = AbortSignal.any([signal, stall.signal]);
    const arm = (): ReturnType<typeof setTimeout> =>
      setTimeout(() => stall.abort(new Error(`${this.name} sent nothing for ${BROWSER_PEER_PIECE_STALL_MS} ms`)), BROWSER_PEER_PIECE_STALL_MS);
    let timer = arm();
    try {
      await fetchPieces(this.address, contentId, indexes, both, async (index, data) => {
        clearTimeout(timer);
        const moved = await onPiece({ index, data });
        timer = arm();
        return moved;
      });
    } finally {
      clearTimeout(timer);
    }
  }
}
