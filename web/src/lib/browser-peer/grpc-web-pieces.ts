// FetchPieces over gRPC-Web without a general-purpose client: each response message is read with a
// BYOB reader straight into one buffer the call reuses for every message, and the piece's bytes are a
// view of it. connect-web's envelope reader concatenates the chunks it has seen at every read, which
// costs several copies of each 1 MiB piece; a default reader allocates every network chunk in JS.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FetchPiecesRequestSchema, FetchPiecesResponseSchema } from "../client/gen.js";

const HEADER_BYTES = 5;
const TRAILER_FLAG = 0x80;
/** A message larger than this is refused before a buffer is taken for it (16 MiB pieces plus framing). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024 + 64;

/** A failure the holder reported in its gRPC status. */
export class GrpcStatusError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function frame(message: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(HEADER_BYTES + message.byteLength);
  new DataView(out.buffer).setUint32(1, message.byteLength);
  out.set(message, HEADER_BYTES);
  return out;
}

function checkStatus(status: string | null, message: string | null): void {
  if (status === null || status === "0") return;
  throw new GrpcStatusError(Number(status), decodeURIComponent(message ?? `gRPC status ${status}`));
}

function parseTrailer(bytes: Uint8Array): void {
  const fields = new Map<string, string>();
  for (const line of new TextDecoder().decode(bytes).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  checkStatus(fields.get("grpc-status") ?? "0", fields.get("grpc-message") ?? null);
}

/**
 * Reads exactly `length` bytes into the start of `buffer` (which the reads transfer: use the answer's
 * buffer from then on); undefined when the stream ends before the first byte, an error when it ends
 * inside them.
 */
async function fill(reader: ReadableStreamBYOBReader, buffer: ArrayBuffer, length: number): Promise<Uint8Array<ArrayBuffer> | undefined> {
  let filled = 0;
  let memory = buffer;
  while (filled < length) {
    const { value, done } = await reader.read(new Uint8Array(memory, filled, length - filled));
    if (value !== undefined) memory = value.buffer as ArrayBuffer;
    if (done || value === undefined) {
      if (filled === 0) return undefined;
      throw new GrpcStatusError(14, "the stream broke inside a message");
    }
    filled += value.byteLength;
  }
  return new Uint8Array(memory, 0, length);
}

/**
 * Streams the asked pieces of `contentId` from the PeerService at `address`, in the order they come.
 * A piece's bytes are valid until its onPiece settles: the next piece is read into the same memory, or
 * into the memory onPiece answers when it moved the piece's buffer (transferred to a hasher and back).
 */
export async function fetchPieces(
  address: string,
  contentId: string,
  indexes: number[],
  signal: AbortSignal,
  onPiece: (index: number, data: Uint8Array<ArrayBuffer>) => Promise<Uint8Array<ArrayBuffer> | void>,
): Promise<void> {
  const request = toBinary(FetchPiecesRequestSchema, create(FetchPiecesRequestSchema, { contentId, pieceIndexes: indexes }));
  const response = await fetch(`${address}/p2p.v1.PeerService/FetchPieces`, {
    method: "POST",
    headers: { "Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1" },
    // A Blob body: Chromium sends it much faster than a Uint8Array (ARCHITECTURE.md, Browsers).
    body: new Blob([frame(request)]),
    signal,
  });
  if (!response.ok) throw new GrpcStatusError(14, `HTTP ${response.status} from ${address}`);
  // A trailers-only answer (an error before any piece) carries its status in the headers.
  checkStatus(response.headers.get("grpc-status"), response.headers.get("grpc-message"));
  if (response.body === null) throw new GrpcStatusError(13, "an answer with no body");
  // A BYOB reader fills our own buffers: no chunk of the network is allocated in JS nor copied here.
  const reader = response.body.getReader({ mode: "byob" });
  let header: Uint8Array<ArrayBuffer> = new Uint8Array(HEADER_BYTES);
  // One buffer for every message of the call: onPiece is done with a piece before the next is read.
  let buffer = new ArrayBuffer(0);
  let sawTrailer = false;
  try {
    for (;;) {
      const head = await fill(reader, header.buffer, HEADER_BYTES);
      if (head === undefined) break;
      header = head;
      const flags = header[0]!;
      const length = new DataView(header.buffer).getUint32(1);
      if (length > MAX_MESSAGE_BYTES) throw new GrpcStatusError(8, `a message of ${length} bytes`);
      if (buffer.byteLength < length) buffer = new ArrayBuffer(length);
      const message = length === 0 ? new Uint8Array(0) : await fill(reader, buffer, length);
      if (message === undefined) throw new GrpcStatusError(14, "the stream broke inside a message");
      buffer = message.buffer;
      if ((flags & TRAILER_FLAG) !== 0) {
        sawTrailer = true;
        parseTrailer(message);
      } else {
        const piece = fromBinary(FetchPiecesResponseSchema, message);
        const moved = await onPiece(piece.pieceIndex, piece.data as Uint8Array<ArrayBuffer>);
        if (moved !== undefined) buffer = moved.buffer;
      }
    }
  } finally {
    reader.releaseLock();
  }
  if (!sawTrailer) throw new GrpcStatusError(14, "the stream ended without a status");
}
